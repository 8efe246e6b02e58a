"""Faults of the machine: full disk, failing writes, read-only and damaged files (T-22..T-26)."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rfc8785
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, at, day, make_context, with_clock
from reliability.support import (
    ROOT,
    assert_one_error_line,
    cli_env,
    entries,
    integrity,
    make_small_trial,
    run_cli,
)

import blindself.services.interrupted as interrupted_mod
import blindself.services.setup as setup_mod
import blindself.services.unblinding as unblinding_mod
import blindself.trial.log.database as log_database
import blindself.trial.log.store as store_mod
from blindself.errors import BlindselfError, TrialStateError
from blindself.services.setup import init_trial
from blindself.services.unblinding import unblind_trial
from blindself.trial.folder import open_trial
from blindself.trial.log.store import Store

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
BASELINE = ["--rate", "mood=5", "--rate", "anxiety=3"]


# ------------------------------------------------------------------ full disk (T-24)


def test_full_disk_refuses_one_checkin_and_loses_nothing(
    small: tuple[Path, dict[str, Any]], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite answers SQLITE_FULL once the file may not grow (PRAGMA max_page_count)."""
    trial, sheet = small
    real = store_mod.connect
    disk = {"full": True}

    def connect(path: Path, mode: str) -> sqlite3.Connection:
        conn = real(path, mode)
        if disk["full"]:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store_mod, "connect", connect)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    ctx = with_clock(make_context(), at(day(9)))

    def args(n: int) -> list[str]:
        out = ["checkin", "--trial", str(trial), "--date", day(n).isoformat(), *BASELINE]
        out += ["--note", f"day {n} " + "n" * 1900]
        if n >= 2:
            out += ["--code", by_period[n - 1], "--guess", "unsure"]
        return out

    recorded = 0
    for n in range(10):
        r = invoke(args(n), ctx)
        if r.exit_code:
            break
        recorded += 1
    else:
        pytest.fail("the disk never filled up")
    assert assert_one_error_line(r).endswith(
        ": the disk is full: free space and retry; nothing was recorded\n"
    )
    assert [row[2] for row in entries(trial)[1:]] == [day(i).isoformat() for i in range(n)]
    assert invoke(["verify", "--trial", str(trial)], ctx).exit_code == 0
    disk["full"] = False  # space freed: the same command now goes through
    r = invoke(args(n), ctx)
    assert r.exit_code == 0 and "recorded" in r.stdout
    assert len(entries(trial)) == n + 2 and integrity(trial) == "ok"


@pytest.mark.parametrize("how", ["shmsize", "free-space"])
def test_a_full_disk_at_open_says_disk_full_not_io_error(
    small: tuple[Path, dict[str, Any]],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """Review F12: opening in WAL mode on a full disk fails growing the -shm file; SQLite
    says SQLITE_IOERR_SHMSIZE (or a plain I/O error), which read as a hardware fault."""
    trial, _ = small
    real = store_mod.connect

    def connect(path: Path, mode: str) -> sqlite3.Connection:
        exc = sqlite3.OperationalError("disk I/O error")
        # SQLITE_IOERR_SHMSIZE (4874) as SQLite reports it; else a plain SQLITE_IOERR (10).
        exc.sqlite_errorcode = 4874 if how == "shmsize" else 10  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(store_mod, "connect", connect)
    if how == "free-space":
        usage = shutil.disk_usage(trial)
        monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage._replace(free=4096))
    ctx = with_clock(make_context(), at(day(1)))
    for args in (["status"], ["checkin", "--date", day(0).isoformat(), *BASELINE]):
        r = invoke([*args, "--trial", str(trial)], ctx)
        err = assert_one_error_line(r)
        assert "the disk is full: free space and retry" in err, err
        assert "input/output error" not in err
    monkeypatch.setattr(store_mod, "connect", real)
    assert len(entries(trial)) == 1 and integrity(trial) == "ok"


def test_a_real_io_error_with_free_space_still_says_io_error(
    small: tuple[Path, dict[str, Any]], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, _ = small

    def connect(path: Path, mode: str) -> sqlite3.Connection:
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = 10  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(store_mod, "connect", connect)
    monkeypatch.setattr(
        shutil,
        "disk_usage",
        lambda _p: shutil._ntuple_diskusage(10**9, 0, 10**9),  # type: ignore[attr-defined]
    )
    err = assert_one_error_line(invoke(["status", "--trial", str(trial)], make_context()))
    assert "input/output error" in err


def test_verify_into_a_closed_pipe_exits_quietly(small: tuple[Path, dict[str, Any]]) -> None:
    """Review F12: `blindself verify | head -1` printed "Error: Broken pipe"."""
    trial, _ = small
    proc = subprocess.Popen(
        [sys.executable, "-m", "blindself", "verify", "--trial", str(trial)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) != 0
    assert stderr == ""


def test_output_on_a_full_disk_does_not_lie(small: tuple[Path, dict[str, Any]]) -> None:
    trial, _ = small
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "blindself", "checkin", "--trial", str(trial)),
                *("--date", day(0).isoformat(), *BASELINE),
            ],
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode != 0
    assert len(entries(trial)) == 2  # the check-in was committed before printing
    assert "nothing was recorded" not in proc.stderr


# ------------------------------------------------------------------ write faults (T-22)


class FaultyOs:
    """``os`` with the k-th (or every call from the k-th) write/fsync/rename/replace failing."""

    FAULTY = frozenset({"write", "fsync", "rename", "replace"})

    def __init__(self, real: ModuleType, state: dict[str, int]) -> None:
        self._real = real
        self._state = state

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name not in self.FAULTY:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._state["calls"] += 1
            k, persistent = self._state["k"], self._state["persistent"]
            if self._state["calls"] == k or (persistent and self._state["calls"] > k):
                self._state["injected"] += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, bool], dict[str, int]]]:
    state = {"calls": 0, "k": 0, "persistent": 0, "injected": 0}
    for mod in (setup_mod, interrupted_mod, log_database, unblinding_mod):
        monkeypatch.setattr(mod, "os", FaultyOs(os, state))

    def arm(k: int, persistent: bool) -> dict[str, int]:
        state.update(calls=0, k=k, persistent=int(persistent), injected=0)
        return state

    yield arm
    state["k"] = 0


@pytest.mark.parametrize("persistent", [False, True], ids=["once", "persistent"])
def test_init_under_write_faults_is_all_or_nothing(
    tmp_path: Path, faults: Callable[[int, bool], dict[str, int]], persistent: bool
) -> None:
    """Fail the k-th write/fsync/rename of init, k = 1, 2, ... until init gets through."""
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    failures = 0
    for k in range(1, 200):
        base = tmp_path / f"k{k}"
        base.mkdir()
        state = faults(k, persistent)
        try:
            init_trial(
                protocol,
                base / "trial",
                passphrase=PASSPHRASE,
                ctx=make_context(),
                start=START,
                sheets=(base / "sheet.json", base / "sheet.html"),
                recovery_key_file=base / "key.txt",
            )
        except (OSError, BlindselfError):
            assert state["injected"]
            failures += 1
            assert list(base.iterdir()) == [], (k, list(base.iterdir()))
            continue
        calls = state["calls"]
        faults(0, False)
        trial = open_trial(base / "trial")
        try:
            assert trial.store.verify().ok
            assert (base / "trial" / "allocation.seal").stat().st_size > 0
        finally:
            trial.close()
        assert sorted(p.name for p in base.iterdir()) == [
            "key.txt",
            "sheet.html",
            "sheet.json",
            "trial",
        ]
        if calls < k:  # nothing was injected any more: every point was covered
            break
    else:
        pytest.fail("init never got through")
    # protocol, seal, pre-registration, key file and two sheets: write + fsync each;
    # the final rename; T-43: the in-progress marker (write + fsync) and four folder fsyncs
    # (the new trial before the rename, its parent after it, the sheets' folder, the trial
    # once the marker is gone).  Only the directory fsync of the new database is best effort
    # (swallowed, init goes on).
    assert failures == (19 if not persistent else k - 1)


def test_report_write_fault_after_unblinding_says_so_and_heals(
    small: tuple[Path, dict[str, Any]], faults: Callable[[int, bool], dict[str, int]]
) -> None:
    """The unblind entry commits before the report is written: a failure there must not
    claim that nothing happened, must leave no temp file, and a re-run writes the report."""
    trial, _ = small
    after = with_clock(make_context(), at(day(10)))
    faults(1, True)
    with pytest.raises(TrialStateError, match=r"the trial is unblinded \(logged\), but writing"):
        unblind_trial(trial, after, passphrase=PASSPHRASE)
    faults(0, False)
    assert [r[1] for r in entries(trial)][-1] == "unblind"
    leftovers = [p.name for p in (trial / "report").iterdir()]
    assert not [n for n in leftovers if n.endswith(".tmp")], leftovers
    again = unblind_trial(trial, after, passphrase=PASSPHRASE)
    assert again.already and (trial / "report" / "report.json").exists()
    assert [r[1] for r in entries(trial)].count("unblind") == 1


# ------------------------------------------------------------------ damaged files (T-25)


def _page_size(db: Path) -> int:
    return int.from_bytes(db.read_bytes()[16:18], "big")


def _foreign(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()


def _future(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (lambda db: db.write_bytes(b""), "is empty; restore from a backup"),
    "truncated-at-page": (
        lambda db: db.write_bytes(db.read_bytes()[: _page_size(db)]),
        "restore from a backup",
    ),
    "truncated-off-page": (
        lambda db: db.write_bytes(db.read_bytes()[:1000]),
        "is truncated or damaged; restore from a backup",
    ),
    "random-bytes": (
        lambda db: db.write_bytes(os.urandom(8192)),
        "is not a trial database (not SQLite: damaged or another file)",
    ),
    "foreign-sqlite": (_foreign, "is an SQLite database of another program"),
    "future-version": (_future, "was made by a newer blindself (schema 99); upgrade blindself"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_database_is_refused_never_recreated(
    small: tuple[Path, dict[str, Any]], damage: str
) -> None:
    trial, _ = small
    db = trial / "trial.db"
    make, expected = DAMAGE[damage]
    make(db)
    before = {p.name: p.read_bytes() for p in trial.iterdir()}
    for args in (["status"], ["checkin", "--date", day(0).isoformat(), *BASELINE]):
        proc = run_cli(args[0], "--trial", str(trial), *args[1:])
        err = assert_one_error_line(proc)
        assert expected in err, err
    assert {p.name: p.read_bytes() for p in trial.iterdir()} == before


# ------------------------------------------------------------------ permissions (T-24)


def _python_for_nobody() -> str:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is missing: cannot run the CLI as an unprivileged user")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (
        sys.executable,
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
    ):
        probe = subprocess.run([*NOBODY, candidate, "-c", ""], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    pytest.skip(f"no Python {version} that user 65534 may run")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_trial_refuses_checkins_as_an_unprivileged_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to user 65534 (as CI runs)")
    python = _python_for_nobody()
    site = str(Path(rfc8785.__file__).resolve().parents[1])
    work = Path(tempfile.mkdtemp(prefix="blindself-ro-"))
    try:
        work.chmod(0o755)
        trial, _ = make_small_trial(work)
        with Store.open(trial / "trial.db"):
            pass  # a read-write close checkpoints and removes -wal/-shm
        for p in trial.iterdir():
            p.chmod(0o644)
        env = {**cli_env(), "PYTHONPATH": f"{ROOT}{os.pathsep}{site}", "HOME": "/nonexistent"}
        messages = []
        for folder_mode in (0o755, 0o777):  # folder read-only for nobody; then writable
            trial.chmod(folder_mode)
            proc = subprocess.run(
                [
                    *(*NOBODY, python, "-m", "blindself", "checkin", "--trial", str(trial)),
                    *("--date", day(0).isoformat(), *BASELINE),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
            )
            messages.append(assert_one_error_line(proc))
        assert "cannot use (read-only file or folder)" in messages[0]
        assert messages[1].endswith("check permissions; nothing was recorded\n")
        assert [r[1] for r in entries(trial)] == ["init"]
        assert integrity(trial) == "ok"
    finally:
        shutil.rmtree(work)
