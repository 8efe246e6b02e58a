"""Shared pieces of the whole-product reliability tests: trials, the real CLI, log dumps."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from helpers import PASSPHRASE, SMALL_PROTOCOL, START, make_context
from protocol_texts import LONG_PROTOCOL as LONG_PROTOCOL

from blindself.services.context import Context
from blindself.services.setup import InitResult, init_trial

ROOT = Path(__file__).resolve().parents[2]


# A start far enough in the past that every trial day is before the real clock of a child.
LONG_START = date(2024, 1, 1)
ARM_WORDS = ("active", "placebo")


def cli_env(**extra: str) -> dict[str, str]:
    """Environment of a child ``blindself``: cheap KDF, the test passphrase, no trial default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLINDSELF_")}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    env.update(BLINDSELF_TEST_KDF="1", BLINDSELF_PASSPHRASE=PASSPHRASE)
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as its own process (``python -m blindself``)."""
    return subprocess.run(
        [sys.executable, "-m", "blindself", *args],
        env=env or cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        errors="backslashreplace",
    )


def assert_one_error_line(proc: Any, exit_code: int = 1) -> str:
    """A refusal: the exit status, one ``Error:`` line on stderr, no traceback."""
    stderr = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode()
    code = getattr(proc, "returncode", getattr(proc, "exit_code", None))
    assert code == exit_code, (code, stderr)
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


def make_long_trial(
    tmp_path: Path, blocks: int = 300, baseline: int = 2, name: str = "trial"
) -> InitResult:
    """A helper-mode trial of ``2 * blocks`` one-day periods after ``baseline`` days."""
    protocol = tmp_path / f"{name}-protocol.toml"
    protocol.write_text(LONG_PROTOCOL.format(blocks=blocks, baseline=baseline))
    return init_trial(
        protocol,
        tmp_path / name,
        passphrase=PASSPHRASE,
        ctx=make_context(),
        start=LONG_START,
        no_sheet=True,
    )


def long_day(n: int) -> str:
    return (LONG_START + timedelta(days=n)).isoformat()


def long_checkin_args(trial: Path, n: int, baseline: int = 2, mood: int = 5) -> list[str]:
    """CLI arguments recording day ``n`` of a long trial (with its code on dose days)."""
    args = ["checkin", "--trial", str(trial), "--date", long_day(n), "--rate", f"mood={mood}"]
    if n >= baseline:
        code = public_schedule(trial)["periods"][n - baseline]["code"]
        args += ["--code", code, "--guess", "active", "--confidence", "70"]
    return args


def make_small_trial(
    tmp_path: Path, blinding: str = "helper", ctx: Context | None = None, name: str = "trial"
) -> tuple[Path, dict[str, Any]]:
    """The small protocol of tests/helpers.py; returns the trial and its JSON sheet."""
    protocol = tmp_path / f"{name}-protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    sheet = tmp_path / f"{name}-sheet.json"
    init_trial(
        protocol,
        tmp_path / name,
        passphrase=PASSPHRASE,
        ctx=ctx or make_context(),
        start=START,
        sheets=(sheet,),
    )
    return tmp_path / name, json.loads(sheet.read_text())


def public_schedule(trial: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(entries(trial)[0][3])["schedule"]
    return data


def entries(trial: Path) -> list[tuple[Any, ...]]:
    """Every row of the trial's log, read with plain sqlite3 (read-only)."""
    con = sqlite3.connect(f"file:{trial / 'trial.db'}?mode=ro", uri=True)
    try:
        return list(con.execute("SELECT * FROM entries ORDER BY seq"))
    finally:
        con.close()


def integrity(trial: Path) -> str:
    con = sqlite3.connect(f"file:{trial / 'trial.db'}?mode=ro", uri=True)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def tree(trial: Path) -> dict[str, bytes]:
    """Every file under ``trial`` with its bytes (for "nothing changed" checks)."""
    return {
        str(p.relative_to(trial)): p.read_bytes() for p in sorted(trial.rglob("*")) if p.is_file()
    }


def reseal_flipped(trial: Path) -> None:
    """T-7: open the seal with the passphrase, flip every arm, seal again the same way."""
    from dataclasses import replace

    from blindself.trial.allocation import parse_allocation
    from blindself.trial.seal.crypto import open_seal, seal
    from blindself.trial.seal.format import TEST_KDF

    genesis = json.loads(entries(trial)[0][3])
    path = trial / "allocation.seal"
    binding = {"trial_id": genesis["trial_id"], "protocol_hash": genesis["protocol_sha256"]}
    data = open_seal(path.read_bytes(), passphrase=PASSPHRASE, **binding)
    doc = parse_allocation(data)
    flip = {"active": "placebo", "placebo": "active"}
    forged = replace(doc, containers=tuple(replace(c, arm=flip[c.arm]) for c in doc.containers))
    sealed = seal(
        forged.canonical(),
        passphrase=PASSPHRASE,
        padded_length=len(data),
        source=make_context(other_seed=99).other,
        kdf=TEST_KDF,
        **binding,
    )
    path.chmod(0o600)
    path.write_bytes(sealed.data)
    path.chmod(0o400)
