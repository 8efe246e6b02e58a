"""The web app and the command line writing at once keep every acknowledged check-in.

A real ``blindself serve`` process takes check-ins from two browser-like threads while two
streams of ``blindself checkin`` processes write other days (and some of the same days,
with the same values).  Every check-in either side acknowledged (303 from the web, exit 0
from the CLI) must be in the log once, with its values, and the hash chain must verify.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reliability.support import LONG_START, long_day, make_long_trial
from web.support import HttpClient, Served, entries, public_schedule, serve_env

from blindself.trial.codes import format_code
from blindself.trial.log.store import Store

BASELINE = 2


def web_form(codes: list[str], n: int, mood: int) -> dict[str, str]:
    form = {"date": long_day(n), "rate-mood": str(mood)}
    if n >= BASELINE:
        form.update(code=format_code(codes[n - BASELINE]), guess="active", confidence="70")
    return form


def cli_args(trial: Path, codes: list[str], n: int, mood: int) -> list[str]:
    args = ["checkin", "--trial", str(trial), "--date", long_day(n), "--rate", f"mood={mood}"]
    if n >= BASELINE:
        args += ["--code", codes[n - BASELINE], "--guess", "active", "--confidence", "70"]
    return args


@pytest.mark.slow
def test_web_and_cli_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    trial = make_long_trial(tmp_path, blocks=30, baseline=BASELINE).directory
    codes = [p["code"] for p in public_schedule(trial)["periods"]]
    web_days = [list(range(0, 40, 2)), list(range(1, 40, 2))]  # two phones' worth
    cli_days = [list(range(40, 52)), list(range(52, 62))]
    shared = [10, 11, 12, 13]  # also sent by the CLI, same values: recorded once
    acked: dict[int, list[str]] = {}
    lock = threading.Lock()

    def ack(n: int, who: str) -> None:
        with lock:
            acked.setdefault(n, []).append(who)

    with Served(trial) as server:
        client = HttpClient(server.base)
        client.pair(server.url)
        start = threading.Barrier(len(web_days) + len(cli_days))

        def web_writer(days: list[int]) -> None:
            start.wait()
            for n in days:
                status, page = client.request("/checkin", web_form(codes, n, 5))
                if status == 303:
                    ack(n, "web")
                else:
                    assert "busy" in page, page  # refused, and said so: not acknowledged

        def cli_writer(days: list[int]) -> None:
            start.wait()
            for n in days:
                r = subprocess.run(
                    [sys.executable, "-m", "blindself", *cli_args(trial, codes, n, 5)],
                    env=serve_env(),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if r.returncode == 0:
                    ack(n, "cli")
                else:
                    assert "busy" in r.stderr, r.stderr

        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(web_writer, d) for d in web_days]
            jobs += [
                pool.submit(cli_writer, d + (shared if i == 0 else []))
                for i, d in enumerate(cli_days)
            ]
            for job in jobs:
                job.result(timeout=600)
    assert server.returncode == 0, server.stderr

    rows = entries(trial)
    days = [json.loads(p)["date"] for _, kind, _, p in rows if kind == "checkin"]
    assert len(days) == len(set(days))  # nothing twice
    recorded = {json.loads(p)["date"]: json.loads(p) for _, kind, _, p in rows if kind == "checkin"}
    assert len(acked) >= 60  # nearly everything went through
    for n, who in acked.items():
        p = recorded[long_day(n)]  # every acknowledged check-in is there
        assert p["ratings"] == {"mood": 5}
        assert (p["code"] is not None) == (n >= BASELINE)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    with Store.open(trial / "trial.db", readonly=True) as store:
        assert store.verify().ok
    assert {n for n in shared if len(acked.get(n, [])) == 2}  # some days came from both fronts
    assert LONG_START.isoformat() in recorded
