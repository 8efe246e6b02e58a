"""Designs at the protocol's limits and kill -9 during init (T-42, T-43)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, make_context
from reliability.support import ROOT, assert_one_error_line, cli_env

import blindself.services.planning as planning_mod
from blindself.services.setup import init_trial
from blindself.trial.folder import open_trial

LIMIT_PROTOCOL = """\
[trial]
title = "At the limits"
question = "Does it lift my mood?"
timezone = "UTC"

[[arms]]
name = "active"
kind = "active"
label = "a"

[[arms]]
name = "placebo"
kind = "placebo"
label = "p"

[design]
{design}

[[outcomes]]
name = "mood"
scale = [1, 10]
better = "higher"
primary = true
"""

# Each of these passes the protocol checks: 2000 periods is the documented maximum.
ACCEPTED = {
    # The reported crash: C(1040, 520) > 1.8e308, so 1.0 / N overflowed a float.
    "complete-520-520": 'kind = "complete"\ncounts = {active = 520, placebo = 520}',
    "complete-1000-1000-self": (
        'kind = "complete"\ncounts = {active = 1000, placebo = 1000}\nblinding = "self"'
    ),
    "blocks-1000x2": 'kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 500',
    "blocks-max-run-2": 'kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 500\nmax_run = 3',
}


def _protocol(tmp_path: Path, design: str) -> Path:
    path = tmp_path / "limit.toml"
    path.write_text(LIMIT_PROTOCOL.format(design=design))
    return path


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_designs_at_the_limits_plan_and_init(tmp_path: Path, invoke: Invoke, name: str) -> None:
    protocol = _protocol(tmp_path, ACCEPTED[name])
    planned = invoke(["plan", str(protocol), "--json"])
    assert planned.exit_code == 0, planned.output
    data = json.loads(planned.output)
    assert 0 <= data["p_min"]["one-sided"] < 1e-100
    text = invoke(["plan", str(protocol)]).output
    assert f"Possible allocations: about 10^{len(str(data['allocations'])) - 1}\n" in text
    sheet = tmp_path / "sheet.json"
    result = init_trial(
        protocol,
        tmp_path / "trial",
        passphrase=PASSPHRASE,
        ctx=make_context(),
        start=START,
        sheets=(sheet,),
    )
    assert result.recovery_key
    assert len(json.loads(sheet.read_text())["containers"]) == data["periods"]
    trial = open_trial(tmp_path / "trial")
    try:
        assert trial.store.verify().ok
    finally:
        trial.close()


@pytest.mark.parametrize(
    ("design", "message"),
    [
        # 2 allowed allocations of 2^500: a rejection draw never finds one (it ran minutes).
        (
            'kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 500\nmax_run = 1',
            "design.max_run = 1 is too tight for this design: it allows 2 of about 10^150",
        ),
        # Counting the allocations under max_run in one block of 2000 never finished.
        (
            'kind = "complete"\ncounts = {active = 1000, placebo = 1000}\nmax_run = 999',
            "design.max_run over 2000 periods shuffled in blocks of 2000 is too costly",
        ),
    ],
    ids=["too-tight", "too-costly"],
)
def test_max_run_designs_that_cannot_be_drawn_are_refused_before_anything_is_written(
    tmp_path: Path, invoke: Invoke, design: str, message: str
) -> None:
    protocol = _protocol(tmp_path, design)
    before = sorted(tmp_path.iterdir())
    for args in (
        ["plan", str(protocol)],
        ["init", str(protocol), str(tmp_path / "trial"), "--no-sheet"],
    ):
        result = invoke(args, env={"BLINDSELF_PASSPHRASE": PASSPHRASE})
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert sorted(tmp_path.iterdir()) == before


def test_a_failing_check_leaves_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warnings used to run after the rename: any failure there stranded the trial."""
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))

    def broken(_protocol: object) -> tuple[str, ...]:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(planning_mod, "smallest_p_warnings", broken)
    with pytest.raises(OverflowError):
        init_trial(
            protocol,
            tmp_path / "trial",
            passphrase=PASSPHRASE,
            ctx=make_context(),
            start=START,
            sheets=(tmp_path / "sheet.json",),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["protocol.toml"]


# --------------------------------------------------------------- kill -9 in init (T-43)

# A child init that dies (os._exit, as a kill -9 would: no cleanup, no finally) at the
# n-th call of one os function inside init.
KILLER = textwrap.dedent(
    """
    import os, sys
    import blindself.services.interrupted as interrupted
    import blindself.services.setup as setup
    name, nth = sys.argv[1], int(sys.argv[2])
    real = getattr(os, name)
    calls = [0]
    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth:
            os._exit(137)
        return real(*args, **kwargs)
    class Os:
        def __getattr__(self, attr):
            return dying if attr == name else getattr(os, attr)
    for mod in (setup, interrupted):
        mod.os = Os()
    from blindself.cli.main import main
    sys.argv = ["blindself", *sys.argv[3:]]
    main()
    """
)


def _kill_init_at(tmp_path: Path, name: str, nth: int, args: list[str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, name, str(nth), *args],
        env=cli_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode


@pytest.mark.parametrize(
    ("name", "nth"),
    # fsync order: marker, protocol, seal, pre-registration, new folder, parent (after the
    # rename), sheet.json, sheet.html, key file, their folder, then the marker is unlinked.
    [
        ("rename", 1),
        ("fsync", 5),
        ("fsync", 6),
        ("fsync", 7),
        ("fsync", 8),
        ("fsync", 9),
        ("fsync", 10),
        ("unlink", 1),
    ],
    ids=["rename", "folder", "parent", "json", "html", "key", "outside", "marker"],
)
def test_kill_during_init_then_rerun_cleans_up(tmp_path: Path, name: str, nth: int) -> None:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="self"))
    work = tmp_path / "work"
    work.mkdir()
    args = [
        "init",
        str(protocol),
        str(work / "trial"),
        "--sheet",
        str(work / "sheet.json"),
        "--sheet",
        str(work / "sheet.html"),
        "--recovery-key-file",
        str(work / "key.txt"),
    ]
    assert _kill_init_at(tmp_path, name, nth, args) == 137
    left = sorted(p.name for p in work.iterdir())
    assert left, "the kill came too late to leave anything"
    assert ("trial" in left) == (name == "unlink" or nth >= 6), left
    if "trial" in left:
        # Nothing may use the unfinished trial (no commitment was printed, sheets may miss).
        status = subprocess.run(
            [sys.executable, "-m", "blindself", "status", "--trial", str(work / "trial")],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert_one_error_line(status)
        assert "its init was interrupted before it finished; run the same" in status.stderr
    if "trial" not in left:
        # Killed before the trial was durable: no sheet may hold its allocation.
        assert not any(n.startswith("sheet") for n in left), left
    rerun = subprocess.run(
        [sys.executable, "-m", "blindself", *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "an earlier init here was interrupted" in rerun.stdout + rerun.stderr
    assert sorted(p.name for p in work.iterdir()) == [
        "key.txt",
        "sheet.html",
        "sheet.json",
        "trial",
    ]
    sheet = json.loads((work / "sheet.json").read_text())
    trial = open_trial(work / "trial")
    try:
        assert sheet["trial"] == trial.trial_id
        assert not (work / "trial" / ".init-incomplete.json").exists()
    finally:
        trial.close()


def test_a_running_init_is_not_cleaned_up(tmp_path: Path) -> None:
    """The marker is locked while its init runs: a second init must not delete it."""
    import fcntl

    from blindself.services.interrupted import INIT_MARKER, clean_interrupted

    busy = tmp_path / ".trial.abc123"
    busy.mkdir()
    fd = os.open(busy / INIT_MARKER, os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b'{"trial_id": "TAAAAAAAAAA", "files": {}}')
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert clean_interrupted(tmp_path / "trial") == ()
        assert busy.exists()
    finally:
        os.close(fd)
    assert clean_interrupted(tmp_path / "trial")
    assert not busy.exists()


def test_parent_is_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is durable before any sheet exists (strace-free: record the calls)."""
    import blindself.services.interrupted as interrupted_mod
    import blindself.services.setup as setup_mod

    events: list[str] = []
    real_rename, real_fsync_dir = os.rename, interrupted_mod.fsync_dir

    def rename(src: object, dst: object) -> None:
        events.append("rename")
        real_rename(src, dst)  # type: ignore[arg-type]

    def fsync_dir(folder: Path) -> None:
        events.append(f"fsync-dir:{folder.name}")
        real_fsync_dir(folder)

    real_write = setup_mod._write_private

    def write_private(path: Path, *a: object, **k: object) -> None:
        if path.suffix == ".json":
            events.append("sheet")
        real_write(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(setup_mod.os, "rename", rename)
    monkeypatch.setattr(setup_mod, "fsync_dir", fsync_dir)
    monkeypatch.setattr(setup_mod, "_write_private", write_private)
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    init_trial(
        protocol,
        tmp_path / "trial",
        passphrase=PASSPHRASE,
        ctx=make_context(),
        start=START,
        sheets=(tmp_path / "sheet.json",),
    )
    i = events.index("rename")
    assert events[i + 1] == f"fsync-dir:{tmp_path.name}"
    assert events.index("sheet") > i + 1
