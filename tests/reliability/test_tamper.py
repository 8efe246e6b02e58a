"""Tampering, seen through the real CLI process (docs/design.md T-6, T-7, T-27, T-28)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import at, day, make_context, with_clock
from reliability.support import (
    assert_one_error_line,
    entries,
    make_small_trial,
    reseal_flipped,
    run_cli,
)

import blindself.trial.log.schema as log_schema
import blindself.trial.log.store as store_mod
from blindself.services.daily import record_checkin
from blindself.trial.checkins import CheckinRequest


@pytest.fixture
def trial(tmp_path: Path) -> Path:
    """The small trial with its two baseline days and three dose days recorded."""
    t, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(5):
        req = CheckinRequest(
            date=day(n),
            code=by_period[n - 1] if n >= 2 else None,
            ratings={"mood": 4 + n, "anxiety": 3},
            guess="unsure" if n >= 2 else None,
        )
        record_checkin(t, req, with_clock(make_context(), at(day(n))))
    assert len(entries(t)) == 6
    return t


def head(trial: Path) -> str:
    seq, *_, digest = entries(trial)[-1]
    return f"{seq}:{digest}"


def attack(trial: Path, *sql: str, params: tuple[Any, ...] = ()) -> None:
    """What a user with the sqlite3 shell can do: drop the guards, edit, restore them."""
    conn = sqlite3.connect(trial / "trial.db", isolation_level=None)
    try:
        for name in log_schema._TRIGGERS:
            conn.execute(f"DROP TRIGGER {name}")
        for statement in sql:
            conn.execute(statement, params if "?" in statement else ())
        for ddl in log_schema._TRIGGERS.values():
            conn.execute(ddl)
    finally:
        conn.close()


def edited_payload(trial: Path, seq: int) -> str:
    payload = json.loads(entries(trial)[seq - 1][3])
    payload["ratings"]["mood"] = 10
    return store_mod._canonical(payload)


def test_silent_edit_is_named_by_verify(trial: Path) -> None:
    """T-27."""
    attack(
        trial, "UPDATE entries SET payload = ? WHERE seq = 4", params=(edited_payload(trial, 4),)
    )
    proc = run_cli("verify", "--trial", str(trial))
    assert "log: BROKEN at entry 4: entry 4 was edited" in proc.stdout
    assert assert_one_error_line(proc) == (
        "Error: verification failed; restore the trial from a backup and report it\n"
    )
    # Daily commands still work read-only, but the analysis must not trust the log: verify
    # is the check; status does not hide the damage either.
    assert run_cli("status", "--trial", str(trial)).returncode == 0


def test_recomputed_chain_and_cut_tail_need_the_anchor(trial: Path) -> None:
    """T-28: a careful attacker rewrites every later hash, or drops the last entries."""
    noted = head(trial)
    rows = entries(trial)
    new_payload = edited_payload(trial, 4)
    statements = []
    prev = rows[2][6]
    for seq, kind, dday, payload, supersedes, _, _ in rows[3:]:
        text = new_payload if seq == 4 else payload
        digest = store_mod._entry_hash(seq, kind, dday, json.loads(text), supersedes, prev)
        statements.append((text, prev, digest, seq))
        prev = digest
    conn = sqlite3.connect(trial / "trial.db", isolation_level=None)
    for name in log_schema._TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    # prev_hash and hash are UNIQUE: park the rewritten rows first, then renumber.
    conn.execute("UPDATE entries SET prev_hash = 'x' || seq, hash = 'y' || seq WHERE seq >= 4")
    for text, prev_hash, digest, seq in statements:
        conn.execute(
            "UPDATE entries SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (text, prev_hash, digest, seq),
        )
    for ddl in log_schema._TRIGGERS.values():
        conn.execute(ddl)
    conn.close()
    unanchored = run_cli("verify", "--trial", str(trial))
    assert unanchored.returncode == 0, unanchored.stderr
    assert "log: a recomputed (re-chained) log would pass this check too" in unanchored.stdout
    anchored = run_cli("verify", "--trial", str(trial), "--expect-head", noted)
    assert "log: MISMATCH at entry 6: entry 6 differs from the anchored head" in anchored.stdout
    assert "the log was rewritten at or before entry 6" in anchored.stdout
    assert_one_error_line(anchored, 4)
    # Cutting the tail instead: the anchor names the missing entries too.
    attack(trial, "DELETE FROM entries WHERE seq >= 5")
    cut = run_cli("verify", "--trial", str(trial), "--expect-head", noted)
    assert "the log ends at entry 4 but the anchored head is entry 6" in cut.stdout
    assert_one_error_line(cut, 4)


def test_seal_of_another_trial_is_refused(tmp_path: Path, trial: Path) -> None:
    """T-6: same protocol, same passphrase, another trial's seal."""
    other, _ = make_small_trial(tmp_path, ctx=make_context(other_seed=5), name="other")
    seal = trial / "allocation.seal"
    seal.chmod(0o600)
    shutil.copyfile(other / "allocation.seal", seal)
    before = entries(trial)
    proc = run_cli("verify", "--trial", str(trial))
    assert "seal: " in proc.stdout and "seal: structure intact" not in proc.stdout
    assert_one_error_line(proc)
    proc = run_cli("unblind", "--trial", str(trial), "--early", "--reason", "check")
    err = assert_one_error_line(proc)
    assert "another trial" in err, err
    assert entries(trial) == before
    assert not (trial / "report").exists()


def test_resealed_allocation_exits_3(trial: Path) -> None:
    """T-7: decrypts fine, but the commitment recorded at init does not match."""
    reseal_flipped(trial)
    before = entries(trial)
    proc = run_cli("unblind", "--trial", str(trial), "--early", "--reason", "check")
    err = assert_one_error_line(proc, exit_code=3)
    assert "ALLOCATION DOES NOT MATCH THE COMMITMENT" in err
    assert entries(trial) == before
    assert not (trial / "report").exists()


def test_edited_protocol_is_refused_everywhere(trial: Path) -> None:
    path = trial / "protocol.toml"
    path.chmod(0o600)
    path.write_text(path.read_text().replace("blocks = 4", "blocks = 5"))
    before = entries(trial)
    for args in (["status"], ["verify"], ["unblind", "--early", "--reason", "x"]):
        err = assert_one_error_line(run_cli(args[0], "--trial", str(trial), *args[1:]))
        assert "was edited after init" in err
    assert entries(trial) == before
