"""Concurrent writer processes through the service layer (docs/design.md#performance-targets;
docs/design.md T-20, T-19).

Each child process calls ``blindself.services.daily.record_checkin`` (the code path of
``blindself checkin``) for its list of days, all children released at the same moment,
and prints one JSON line per day: the status it was told, or the error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reliability.support import (
    LONG_START,
    cli_env,
    entries,
    integrity,
    long_day,
    make_long_trial,
    public_schedule,
    run_cli,
)

from blindself.trial.log.store import Store

CHILD = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from blindself.trial.checkins import CheckinRequest
from blindself.errors import BlindselfError
from blindself.trial.seal.crypto import TEST_KDF
from blindself.services.context import Context
from blindself.services.daily import record_checkin

trial, go, spec = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
ctx = Context(clock=lambda: datetime(2099, 1, 1, tzinfo=UTC), kdf=TEST_KDF)
start = datetime.fromisoformat(spec["start"]).date()
while not go.exists():
    time.sleep(0.001)
for n in spec["days"]:
    code = spec["codes"].get(str(n))
    req = CheckinRequest(
        date=start + timedelta(days=n),
        code=code,
        ratings={"mood": spec["mood"]},
        guess="unsure" if code else None,
    )
    busy = 0
    while True:
        try:
            out = record_checkin(trial, req, ctx)
            line = {"day": n, "status": out.status, "seq": out.entry.seq, "busy": busy}
            break
        except BlindselfError as exc:
            if "busy" in str(exc) and busy < 5:
                busy += 1  # "the trial is busy ...; retry": what a user would do
                continue
            line = {"day": n, "error": str(exc), "busy": busy}
            break
    print(json.dumps(line), flush=True)
"""


def run_writers(
    trial: Path, baseline: int, specs: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Start one child per spec, release them together, return their JSON lines."""
    periods = public_schedule(trial)["periods"]
    codes = {str(baseline + i): p["code"] for i, p in enumerate(periods)}
    go = trial.parent / f"go-{trial.name}"
    children = []
    for spec in specs:
        full = {"start": LONG_START.isoformat(), "codes": codes, **spec}
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(trial), str(go), json.dumps(full)],
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    go.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        results.append([json.loads(line) for line in out.splitlines()])
    return results


def check_log(trial: Path) -> list[tuple[Any, ...]]:
    assert integrity(trial) == "ok"
    with Store.open(trial / "trial.db", readonly=True) as store:
        report = store.verify()
    assert report.ok, report.problem
    rows = entries(trial)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # gapless seq
    prev = [r[5] for r in rows]
    assert len(set(prev)) == len(prev)  # a linear chain: no two entries share a parent
    return rows


@pytest.mark.slow
def test_four_writers_times_150_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    baseline, per_worker, workers = 300, 150, 4
    trial = make_long_trial(tmp_path, blocks=150, baseline=baseline).directory
    specs = [
        {"days": [w + workers * i for i in range(per_worker)], "mood": 5} for w in range(workers)
    ]
    results = run_writers(trial, baseline, specs)
    lines = [line for worker in results for line in worker]
    assert len(lines) == workers * per_worker
    errors = [line for line in lines if "error" in line]
    assert errors == []
    assert Counter(line["status"] for line in lines) == {"recorded": workers * per_worker}
    rows = check_log(trial)
    assert len(rows) == 1 + workers * per_worker
    days = [r[2] for r in rows[1:]]
    assert len(set(days)) == len(days) == workers * per_worker
    # Every acknowledged seq holds that worker's day; each worker's days keep its order.
    by_seq = {r[0]: r for r in rows}
    for w, worker in enumerate(results):
        for line in worker:
            assert by_seq[line["seq"]][2] == long_day(line["day"])
        seqs = [line["seq"] for line in worker]
        assert seqs == sorted(seqs), w
    busy = sum(line["busy"] for line in lines)
    verify = run_cli("verify", "--trial", str(trial))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(f"\n{workers} writers x {per_worker}: {len(lines)} check-ins, {busy} busy retries")


@pytest.mark.slow
def test_two_writers_racing_for_the_same_days_record_each_day_once(tmp_path: Path) -> None:
    """T-19 under concurrency: identical content -> one "recorded", one "already recorded";
    different content -> one recorded, the other refused; never two entries for a day."""
    baseline = 2
    trial = make_long_trial(tmp_path, blocks=30, baseline=baseline).directory
    same = list(range(0, 30))
    differ = list(range(30, 60))
    results = run_writers(
        trial,
        baseline,
        [
            {"days": same + differ, "mood": 5},
            {"days": same + differ, "mood": 5},
        ],
    )
    outcome: dict[int, list[str]] = {}
    for worker in results:
        for line in worker:
            outcome.setdefault(line["day"], []).append(line.get("status") or line["error"])
    for n in same + differ:
        assert sorted(outcome[n]) == ["already recorded", "recorded"], (n, outcome[n])
    trial2 = make_long_trial(tmp_path, blocks=30, baseline=baseline, name="trial2").directory
    results2 = run_writers(
        trial2, baseline, [{"days": differ, "mood": 5}, {"days": differ, "mood": 6}]
    )
    moods: dict[int, list[str]] = {}
    for worker in results2:
        for line in worker:
            error = line.get("error", "")
            refused = "already recorded with other values" in error
            moods.setdefault(line["day"], []).append(
                line.get("status") or (refused and "refused") or error
            )
    for n in differ:
        assert sorted(moods[n]) == ["recorded", "refused"], (n, moods[n])
    for t, expected in ((trial, len(same + differ)), (trial2, len(differ))):
        rows = check_log(t)
        days = [r[2] for r in rows[1:]]
        assert len(days) == len(set(days)) == expected
