"""A rerun of an interrupted init removes only that init's own files (review F19), and an init
whose output fails leaves no trial whose recovery key nobody saw (review F8, T-42/T-43)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SMALL_PROTOCOL, START
from reliability.support import ROOT, assert_one_error_line, cli_env, run_cli
from reliability.test_init_limits import KILLER

from blindself.trial.folder import INIT_MARKER


def _protocol(tmp_path: Path) -> Path:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    return protocol


def _init_args(protocol: Path, trial: Path, *sheets: Path) -> list[str]:
    args = ["init", str(protocol), str(trial), "--start", START.isoformat()]
    for sheet in sheets:
        args += ["--sheet", str(sheet)]
    return args


def _killed_at_rename(args: list[str]) -> None:
    """Run init and kill it (os._exit) at its rename: a hidden folder and marker stay."""
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, "rename", "1", *args],
        env=cli_env(),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 137, proc.stderr


def _marker(work: Path, name: str) -> Path:
    (hidden,) = work.glob(f".{name}.*")
    return hidden / INIT_MARKER


def test_rerun_leaves_another_trials_sheet_of_the_same_name(tmp_path: Path) -> None:
    protocol = _protocol(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    shared = work / "sheetS.json"
    _killed_at_rename(_init_args(protocol, work / "mA", shared))
    assert not shared.exists()
    other = run_cli(*_init_args(protocol, work / "mB", shared))
    assert other.returncode == 0, other.stderr
    before = shared.read_bytes()
    retry = run_cli(*_init_args(protocol, work / "mA", work / "sheetS2.json"))
    assert retry.returncode == 0, retry.stderr
    assert shared.read_bytes() == before  # trial mB's only plaintext allocation survives
    assert "left in place (not the files that interrupted init wrote" in retry.stderr
    assert str(shared) in retry.stderr
    assert not list(work.glob(".mA.*"))


def test_rerun_removes_the_dead_inits_own_sheet(tmp_path: Path) -> None:
    """Killed after its sheet was written: the sheet hashes to the marker's record and goes."""
    protocol = _protocol(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    sheet = work / "sheet.json"
    args = _init_args(protocol, work / "t", sheet)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, "unlink", "1", *args],
        env=cli_env(),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 137
    dead = json.loads(sheet.read_text())["trial"]
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert str(sheet) in rerun.stderr and "removed what it left" in rerun.stderr
    assert json.loads(sheet.read_text())["trial"] != dead


@pytest.mark.parametrize(
    "edit",
    [
        lambda victim: {"outside": [str(victim)]},  # the old format: no trial id
        lambda victim: {"trial_id": "TXXXXXXXXXX", "files": {str(victim): "0" * 64}},
    ],
    ids=["no-trial-id", "wrong-hash"],
)
def test_an_edited_marker_never_deletes_what_it_names(tmp_path: Path, edit: object) -> None:
    protocol = _protocol(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    _killed_at_rename(_init_args(protocol, work / "mA", work / "s.json"))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    marker = _marker(work, "mA")
    marker.chmod(0o600)
    marker.write_text(json.dumps(edit(victim)))  # type: ignore[operator]
    rerun = run_cli(*_init_args(protocol, work / "mA", work / "s2.json"))
    assert victim.read_text() == "precious\n"
    if "outside" in json.loads(marker.read_text()):
        err = assert_one_error_line(rerun)
        assert str(marker) in err and "nothing was removed" in err
        assert marker.exists()
    else:
        # The trial id does not match the log: refused as well, nothing removed.
        err = assert_one_error_line(rerun)
        assert "belongs to trial" in err and marker.exists()


def test_a_stray_marker_in_a_used_trial_is_refused_not_obeyed(tmp_path: Path) -> None:
    protocol = _protocol(tmp_path)
    trial = tmp_path / "live"
    made = run_cli(*_init_args(protocol, trial, tmp_path / "s.json"))
    assert made.returncode == 0, made.stderr
    day = run_cli(
        "checkin", "--trial", str(trial), "--date", START.isoformat(),
        "--rate", "mood=5", "--rate", "anxiety=3",
    )  # fmt: skip
    assert day.returncode == 0, day.stderr
    (trial / INIT_MARKER).write_text("{}")
    before = (trial / "trial.db").read_bytes()
    rerun = run_cli(*_init_args(protocol, trial, tmp_path / "s2.json"))
    err = assert_one_error_line(rerun)
    assert str(trial / INIT_MARKER) in err and "nothing was removed" in err
    assert (trial / "trial.db").read_bytes() == before
    # With a marker that names this very trial the log's check-in still protects it.
    genesis_id = json.loads((tmp_path / "s.json").read_text())["trial"]
    (trial / INIT_MARKER).write_text(json.dumps({"trial_id": genesis_id, "files": {}}))
    rerun = run_cli(*_init_args(protocol, trial, tmp_path / "s2.json"))
    err = assert_one_error_line(rerun)
    assert "already holds 1 entry after its setup" in err  # issue 16: not "1 entries"
    assert (trial / "trial.db").read_bytes() == before


# ------------------------------------------------------------------ F8: the output fails


def test_init_onto_a_full_stdout_creates_nothing(tmp_path: Path) -> None:
    protocol = _protocol(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    args = _init_args(protocol, work / "kq", work / "kq.json")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "blindself", *args],
            env=cli_env(),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    err = assert_one_error_line(proc)
    assert "before the recovery key was shown, so the trial was not created" in err
    assert list(work.iterdir()) == []
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "Recovery key" in again.stdout


def test_init_into_a_closed_pipe_creates_nothing(tmp_path: Path) -> None:
    protocol = _protocol(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "blindself", *_init_args(protocol, work / "kp", work / "kp.json")],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before init prints (`| head -0`)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and "not created" in stderr
    assert list(work.iterdir()) == []
