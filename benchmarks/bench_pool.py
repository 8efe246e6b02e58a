"""Time ``blindself pool`` on 10,000 participants x 60 days (target: under 30 s).

Plain script, not a test: ``python benchmarks/bench_pool.py [PARTICIPANTS] [DAYS]``.  It
writes a seeded synthetic long CSV (participant, arm, guess, an expectation covariate, a text
covariate, one measure) to a temporary directory, then runs the whole use case
(:func:`blindself.services.pooling.pool_inputs`: CSV parsing, the two mixed models, the strata
model, the N-of-1 meta-analysis, the blinding figures) and renders the HTML page.  It prints
wall-clock and CPU seconds per step and the process's peak resident memory.
"""

from __future__ import annotations

import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from blindself.report.pool import render_pool_html
from blindself.services.pooling import PoolOptions, pool_inputs


def write_csv(path: Path, participants: int, days: int, seed: int = 20260302) -> None:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(participants), days)
    arm = rng.integers(0, 2, size=person.size)  # randomized day by day
    expectation = rng.uniform(0, 100, participants)[person]
    sex = np.array(["female", "male", "non-binary"])[rng.integers(0, 3, participants)][person]
    level = rng.normal(50, 8, participants)[person]
    mood = level + 1.5 * arm + 0.05 * expectation + rng.normal(0, 10, person.size)
    guessed_right = rng.random(person.size) < 0.6
    guess = np.where(guessed_right, arm, 1 - arm)
    names = np.array(["placebo", "active"])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["participant", "arm", "guess", "expectation", "sex", "mood"])
        w.writerows(
            zip(
                (f"p{p}" for p in person),
                names[arm],
                np.where(rng.random(person.size) < 0.05, "unsure", names[guess]),
                np.round(expectation, 1),
                sex,
                np.round(mood, 2),
                strict=True,
            )
        )


def main() -> None:
    participants = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        write_csv(path, participants, days)
        print(f"{participants} participants x {days} days = {participants * days} rows, "
              f"{path.stat().st_size / 1e6:.1f} MB CSV")  # fmt: skip
        opts = PoolOptions(
            participant_column="participant", arm_column="arm", active="active",
            placebo="placebo", outcome_column="mood", guess_column="guess",
            covariates=("expectation", "sex"),
        )  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        result = pool_inputs([path], opts)
        t1, c1 = time.perf_counter(), time.process_time()
        html = render_pool_html(result.report)
        t2, c2 = time.perf_counter(), time.process_time()
    m = result.report["measures"][0]
    d = m["drug_effect"]
    print(f"pool (read + fit): {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU")
    print(
        f"HTML report:       {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU ({len(html) / 1e3:.0f} kB)"
    )
    print(f"drug effect {d['estimate']:.3f} (simulated 1.5), SE {d['se']:.3f}; "
          f"meta-analysis k = {m['meta_analysis']['k']}")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
