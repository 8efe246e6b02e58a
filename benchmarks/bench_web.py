"""Server-side time of the check-in page and of a check-in POST on a year-long trial.

Plain script, not a test: ``.venv/bin/python benchmarks/bench_web.py [--repeats N]``.
Targets (issue 14): the check-in page under 50 ms, a check-in POST under 100 ms.

A helper-mode trial of 365 days (3 baseline days, 181 blocks of two one-day periods) has
364 days recorded; "today" is the last day, not yet recorded.  Each request goes through
the whole Flask app (security checks, services, SQLite, template) with Flask's test client,
so the time is the server's own, without the network.  Every POST runs on a fresh copy of
the trial (copied outside the timing), so each one really appends a check-in.  Times are
the median with the range over the repeats, wall-clock and CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the protocol texts the tests use too

from protocol_texts import WEB_YEAR_PROTOCOL as PROTOCOL  # noqa: E402

from blindself.services.context import Context  # noqa: E402
from blindself.services.daily import record_checkin  # noqa: E402
from blindself.services.diary import CheckinRequest  # noqa: E402
from blindself.services.setup import init_trial  # noqa: E402
from blindself.trial.codes import format_code  # noqa: E402
from blindself.trial.seal.format import TEST_KDF  # noqa: E402
from blindself.web.app import create_app, pairing_token  # noqa: E402

PAGE_TARGET_MS = 50.0
POST_TARGET_MS = 100.0
START = date(2025, 1, 6)
DAYS = 365
BASELINE = 3
HOST = "127.0.0.1:8765"


class Counter:
    """A deterministic token source (a benchmark needs no secrets)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, size: int) -> bytes:
        self.n += 1
        return self.n.to_bytes(size, "big")


def context(now: datetime) -> Context:
    return Context(clock=lambda: now, kdf=TEST_KDF)


def year_trial(base: Path) -> tuple[Path, list[str]]:
    """The trial with every day but the last recorded; returns it and its codes."""
    protocol = base / "protocol.toml"
    protocol.write_text(PROTOCOL)
    trial = base / "trial"
    init_trial(
        protocol,
        trial,
        passphrase="benchmark passphrase, not a secret",
        ctx=context(datetime.combine(START, datetime.min.time(), UTC)),
        start=START,
        no_sheet=True,
    )
    import json
    import sqlite3

    con = sqlite3.connect(trial / "trial.db")
    genesis = json.loads(con.execute("SELECT payload FROM entries WHERE seq = 1").fetchone()[0])
    con.close()
    codes = [p["code"] for p in genesis["schedule"]["periods"]]
    for n in range(DAYS - 1):
        when = START + timedelta(days=n)
        dose = n >= BASELINE
        req = CheckinRequest(
            date=when,
            code=codes[n - BASELINE] if dose else None,
            ratings={"mood": 1 + n % 10, "anxiety": 1 + (n * 7) % 10},
            guess="unsure" if dose else None,
            note="a note of ordinary length about the day" if n % 3 == 0 else "",
        )
        at_night = datetime.combine(when, datetime.min.time(), UTC) + timedelta(hours=20)
        record_checkin(trial, req, context(at_night))
    return trial, codes


def paired_client(trial: Path, now: datetime) -> tuple[Any, str]:
    import re

    app = create_app(trial, context=context(now), token_bytes=Counter(), hosts={HOST})
    client = app.test_client()
    token = pairing_token(app)
    page = client.get(f"/pair?token={token}", headers={"Host": HOST}).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = client.post("/pair", data={"csrf": csrf.group(1), "token": token}, headers={"Host": HOST})
    assert r.status_code == 303, r.status_code
    page = client.get("/pair?token=-", headers={"Host": HOST}).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    return client, csrf.group(1)


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def line(name: str, samples: list[tuple[float, float]], target: float | None) -> str:
    wall = [w for w, _ in samples]
    cpu = [c for _, c in samples]
    verdict = ""
    if target is not None:
        verdict = (
            f"  target < {target:g} ms: {'met' if statistics.median(wall) < target else 'MISSED'}"
        )
    return (
        f"{name:<34} median {statistics.median(wall):7.1f} ms wall "
        f"(range {min(wall):.1f}-{max(wall):.1f}), {statistics.median(cpu):6.1f} ms CPU, "
        f"n={len(samples)}{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    last = START + timedelta(days=DAYS - 1)
    now = datetime.combine(last, datetime.min.time(), UTC) + timedelta(hours=20)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        trial, codes = year_trial(base)
        print(
            f"year-long trial: {DAYS} days, {DAYS - 1} recorded ({time.perf_counter() - t0:.1f} s to build)"
        )
        code = format_code(codes[DAYS - 1 - BASELINE])
        form = {
            "date": last.isoformat(),
            "code": code,
            "rate-mood": "7",
            "rate-anxiety": "3",
            "guess": "placebo",
            "confidence": "70",
            "note": "benchmark",
        }
        import logging

        logging.getLogger("blindself.web").setLevel(logging.ERROR)  # no pairing lines
        client, csrf = paired_client(trial, now)
        headers = {"Host": HOST}

        def get(path: str) -> Callable[[], None]:
            def run() -> None:
                r = client.get(path, headers=headers)
                assert r.status_code == 200, (path, r.status_code)
                r.close()

            return run

        get("/")()  # warm: templates compiled, modules imported (a running server's state)
        rows = []
        for name, path, target in [
            ("GET / (check-in page, code step)", "/", PAGE_TARGET_MS),
            ("GET /status", "/status", None),
            ("GET /calendar", "/calendar", None),
        ]:
            rows.append(line(name, [timed(get(path)) for _ in range(args.repeats)], target))
        step = []
        for _ in range(args.repeats):
            data = {"csrf": csrf, "date": form["date"], "code": code, "action": "next"}

            def code_step(data: dict[str, str] = data) -> None:
                r = client.post("/code", data=data, headers=headers)
                assert r.status_code == 200, r.status_code

            step.append(timed(code_step))
        rows.append(line("POST /code (ratings page)", step, PAGE_TARGET_MS))
        posts = []
        for i in range(args.repeats):
            copy = base / f"copy-{i}"
            shutil.copytree(trial, copy)
            c, token = paired_client(copy, now)

            def post(c: Any = c, token: str = token) -> None:
                r = c.post("/checkin", data={"csrf": token, **form}, headers=headers)
                assert r.status_code == 303, r.get_data(as_text=True)[-500:]

            posts.append(timed(post))
            shutil.rmtree(copy)
        rows.append(line("POST /checkin (records the day)", posts, POST_TARGET_MS))
    for row in rows:
        print(row)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} cores: wall time above CPU time is waiting")


if __name__ == "__main__":
    main()
