"""Time the Correct Guess Rate Curve (target: 1-2 s per curve).

Plain script, not a test: ``python benchmarks/bench_cgrc.py [DRAWS]``.  Cases:

- a year-long trial: 365 daily check-ins, weekly periods (52, resampled within arm), a
  guess each day, the default grid (0 to 1 by 0.05, plus the observed rate) and 2,000
  bootstrap draws;
- ``tests/data/szigeti2021-acutes.csv`` (15,623 rows, 240 participants): the curve of every
  measure (as ``pool`` computes it), and one curve over all 15,623 rows at once;
- the paper's procedure for comparison: 2,000 kernel-smoothed pseudo-trials at each rate
  of the grid for the year-long trial (vectorised; its mean is the closed form).

It prints wall-clock and CPU seconds (median of 5 runs) and the peak resident memory.
"""

from __future__ import annotations

import csv
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from blindself.analysis.stats.cgrc import GRID, correct_guess_rate_curve
from blindself.analysis.stats.guess_strata import pseudo_trials, strata_of

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "szigeti2021-acutes.csv"
REPEAT = 5


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of REPEAT calls, and the last result."""
    wall, cpu, out = [], [], None
    for _ in range(REPEAT):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def year(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    arm = rng.permutation(np.repeat([1, 0], 26))
    period = np.minimum(np.arange(365) // 7, 51)  # day 365 joins the last week
    act = arm[period]
    guess = np.where(rng.random(365) < 0.7, act, 1 - act).astype(float)
    guess[rng.random(365) < 0.1] = np.nan
    y = 0.3 * act + 0.8 * np.nan_to_num(guess) + rng.normal(0, 1, 365)
    return y, act, guess, period


def szigeti() -> dict[str, tuple[np.ndarray, ...]]:
    with DATA.open() as f:
        rows = [r for r in csv.DictReader(f) if r["value"] != "NA"]
    out = {}
    for m in [*sorted({r["test_name"] for r in rows}), "all rows"]:
        sel = [r for r in rows if m == "all rows" or r["test_name"] == m]
        out[m] = (
            np.array([float(r["value"]) for r in sel]),
            np.array([r["condition"] == "MD" for r in sel], dtype=int),
            np.array([{"MD": 1.0, "PL": 0.0}.get(r["guess"], np.nan) for r in sel]),
            np.array([r["trial_id"] for r in sel]),
        )
    return out


def main() -> None:
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = np.random.default_rng(20261207)
    y, act, guess, period = year(rng)

    def one_year() -> Any:
        return correct_guess_rate_curve(y, act, guess, rng=rng, cluster=period, draws=draws)

    w, c, r = timed(one_year)
    print(f"year-long trial (365 days, 52 periods, {len(r.curve)} rates, {draws} draws): "
          f"{w:.3f} s wall, {c:.3f} s CPU; corrected {r.estimate:+.3f}")  # fmt: skip

    s = strata_of(act, guess)

    def paper() -> Any:
        return [pseudo_trials(y, s, g, draws=draws, rng=rng) for g in GRID]

    w, c, _ = timed(paper)
    print(f"  paper's pseudo-trials, same grid, {draws} per rate:  {w:.3f} s wall, "
          f"{c:.3f} s CPU")  # fmt: skip

    data = szigeti()
    total_w = total_c = 0.0
    for name, (yy, aa, gg, pp) in data.items():
        w, c, r = timed(
            lambda yy=yy, aa=aa, gg=gg, pp=pp: correct_guess_rate_curve(
                yy, aa, gg, rng=rng, cluster=pp, draws=draws
            )
        )
        if name == "all rows":
            print(f"szigeti2021-acutes.csv, one curve over all {yy.size} rows "
                  f"({r.clusters} participants): {w:.3f} s wall, {c:.3f} s CPU")  # fmt: skip
        else:
            total_w, total_c = total_w + w, total_c + c
    print(f"szigeti2021-acutes.csv, {len(data) - 1} measures, one curve each: "
          f"{total_w:.3f} s wall, {total_c:.3f} s CPU in all")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
