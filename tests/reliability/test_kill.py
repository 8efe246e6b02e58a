"""kill -9 of the real ``blindself checkin`` process at random moments
(docs/design.md#performance-targets; T-21, T-23).

Every iteration records a fresh day of a long trial, kills the process after a random
delay spread around its run time, and then checks: the database passes integrity_check
and the chain verifies; every check-in whose process printed "recorded" is there; no
entry is partial; and re-running the same command either records the day or answers
"already recorded", so a crash never leaves a day that cannot be completed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from reliability.support import (
    cli_env,
    entries,
    integrity,
    long_checkin_args,
    long_day,
    make_long_trial,
    run_cli,
)

from blindself.trial.log.store import Store

ITERATIONS = 30


def _payload_complete(payload: dict[str, object], n: int) -> bool:
    keys = {"date", "day_type", "period", "block", "code", "taken", "ratings", "guess"}
    return (
        keys <= payload.keys()
        and payload["date"] == long_day(n)
        and payload["ratings"] == {"mood": 5}
    )


@pytest.mark.slow
def test_kill_minus_nine_during_checkin_loses_no_acknowledged_day(tmp_path: Path) -> None:
    trial = make_long_trial(tmp_path, blocks=20).directory
    env = cli_env()
    # Warm up (and measure) on the first baseline day.
    started = time.perf_counter()
    warm = run_cli(*long_checkin_args(trial, 0), env=env)
    typical = time.perf_counter() - started
    assert warm.returncode == 0 and "recorded" in warm.stdout
    rng = np.random.default_rng(20260325)
    acknowledged: set[str] = {long_day(0)}
    killed_before_ack = killed_after_commit_unacked = killed_after_ack = finished = 0
    durations = [typical]
    for i in range(ITERATIONS):
        n = 1 + i  # one baseline day, then dose days with their codes
        args = long_checkin_args(trial, n)
        proc = subprocess.Popen(
            [sys.executable, "-m", "blindself", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Spread over the whole run, weighted towards its end, where the write happens.
        time.sleep(float(rng.uniform(0.4, 1.2)) * float(np.median(durations)))
        proc.kill()
        out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            finished += 1
        assert b"Traceback" not in err
        acked = b": recorded (entry" in out
        if acked:
            acknowledged.add(long_day(n))
            killed_after_ack += proc.returncode != 0
        # After the crash: a sound database and chain, nothing acknowledged lost.
        assert integrity(trial) == "ok"
        with Store.open(trial / "trial.db") as store:
            report = store.verify()
            found = store.entries()
        assert report.ok, report.problem
        assert [e.seq for e in found] == list(range(1, len(found) + 1))
        days = [e.day for e in found[1:]]
        assert len(days) == len(set(days)), "a day recorded twice"
        assert acknowledged <= set(days)
        present = long_day(n) in days
        if present:
            entry = next(e for e in found if e.day == long_day(n))
            assert _payload_complete(entry.payload, n), entry.payload
            if not acked:
                killed_after_commit_unacked += 1
        else:
            killed_before_ack += 1
        # The same command completes the day, exactly once.
        started = time.perf_counter()
        again = run_cli(*args, env=env)
        durations.append(time.perf_counter() - started)
        assert again.returncode == 0, again.stderr
        expected = "already recorded" if present else ": recorded (entry"
        assert expected in again.stdout, again.stdout
        acknowledged.add(long_day(n))
    final = run_cli("verify", "--trial", str(trial), env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    rows = entries(trial)
    assert len(rows) == 1 + 1 + ITERATIONS
    assert {r[2] for r in rows[1:]} == acknowledged
    assert all(_payload_complete(json.loads(r[3]), i) for i, r in enumerate(rows[1:]))
    # The kills must really have landed at different points, not all before or all after.
    assert killed_before_ack >= 5, (killed_before_ack, finished)
    assert len(acknowledged) == ITERATIONS + 1
    print(
        f"\nkill -9: {ITERATIONS} kills; {killed_before_ack} before the commit, "
        f"{killed_after_commit_unacked} after the commit but before the acknowledgement, "
        f"{killed_after_ack} after the acknowledgement, {finished} finished first; "
        f"{len(acknowledged)} days, none lost"
    )
