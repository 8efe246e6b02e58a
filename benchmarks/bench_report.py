"""Time the HTML report for a year of daily check-ins with 5 outcomes (target: under 2 s).

Plain script, not a test: ``PYTHONPATH=. python benchmarks/bench_report.py``.  It widens the
hand-made rendering fixture ``tests/data/report-sample.json`` to 365 days and 5 outcomes
(synthetic ratings from a seeded generator) and prints the first (cold: imports matplotlib and
jinja2, compiles the template) and the best of three warm rendering times, as wall-clock
and CPU seconds.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from blindself.report.page import render_html

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "report-sample.json"


def year_report(days: int = 365, outcomes: int = 5, seed: int = 20250303) -> dict[str, Any]:
    """The sample report stretched to ``days`` days and ``outcomes`` outcomes."""
    rng = np.random.default_rng(seed)
    report = json.loads(SAMPLE.read_text())
    start = dt.date(2025, 1, 6)
    periods = (days - 7) // 7
    arms = [str(a) for a in rng.permutation(["active", "placebo"] * ((periods + 1) // 2))]
    template = report["outcomes"]
    report["outcomes"] = []
    for k in range(outcomes):
        o = copy.deepcopy(template[k % len(template)])
        o["name"] = f"{o['name']}-{k + 1}"
        o["primary"] = k == 0
        series = []
        for d in range(days):
            p = (d - 7) // 7
            arm = None if d < 7 or p >= periods else arms[p]
            kind = "baseline" if arm is None else ("dose" if (d - 7) % 7 < 4 else "off")
            guess = str(rng.choice(["active", "placebo", "unsure"])) if kind == "dose" else None
            series.append(
                {
                    "day": d,
                    "date": (start + dt.timedelta(days=d)).isoformat(),
                    "arm": arm,
                    "day_type": kind,
                    "y": float(rng.integers(1, 8)),
                    "guess": guess,
                    "code": f"C{p:03d}-X" if arm else None,
                }
            )
        o["series"] = series
        report["outcomes"].append(o)
    report["trial"]["primary"] = report["outcomes"][0]["name"]
    by_week = [
        {"week": w, "n": 4, "correct": int(rng.integers(0, 5)), "unsure": 0}
        for w in range(2, days // 7)
    ]
    for w in by_week:
        w["rate"] = w["correct"] / w["n"]
    report["blinding"]["by_week"] = by_week
    return report


def main() -> None:
    report = year_report()
    t0, c0 = time.perf_counter(), time.process_time()
    html = render_html(report)
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    warm, warm_cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        render_html(report)
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)
    print(
        f"year-long trial, 5 outcomes: {len(html) / 1e6:.2f} MB of HTML, "
        f"{html.count('<svg')} figures"
    )
    # CPU time is what the render costs; wall time also counts other load on the machine.
    print(f"cold render {cold:.2f} s wall / {cold_cpu:.2f} s CPU (imports matplotlib, jinja2)")
    print(f"warm render {min(warm):.2f} s wall / {min(warm_cpu):.2f} s CPU (best of 3)")


if __name__ == "__main__":
    main()
