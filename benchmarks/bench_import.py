"""``blindself import`` of a year of per-minute heart rate (525,600 rows, ``--combine mean``).

Times, in-process and warm, reading and checking the file (``--dry-run``) and the real import
(365 entries appended in one transaction) into a fresh trial of 365 days (a helper-blinded
daily crossover whose outcome ``resting_hr`` is ``source = "import"``).  Prints seconds.

    .venv/bin/python benchmarks/bench_import.py [--days 365]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # shared protocol texts
from protocol_texts import IMPORT_PROTOCOL as PROTOCOL


def main() -> None:
    from blindself.randomness import GeneratorSource
    from blindself.services.context import Context
    from blindself.services.importing import ImportRequest, import_values
    from blindself.services.setup import init_trial
    from blindself.trial.seal.format import TEST_KDF

    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    blocks = (args.days - 1) // 2
    start = date(2026, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "p.toml").write_text(PROTOCOL.format(blocks=blocks))
        rng = np.random.default_rng(1)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        n = (1 + 2 * blocks) * 1440
        hr = rng.normal(62, 6, n).round(1)
        lines = ["timestamp,heart_rate"] + [
            f"{(t0 + timedelta(minutes=i)).isoformat()},{hr[i]}" for i in range(n)
        ]
        (base / "hr.csv").write_text("\n".join(lines) + "\n")
        end = start + timedelta(days=2 * blocks + 1)
        ctx = Context(
            clock=lambda: (
                datetime.combine(end, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
            ),
            allocation=GeneratorSource(np.random.default_rng(2)),
            other=GeneratorSource(np.random.default_rng(3)),
            kdf=TEST_KDF,
        )
        init_trial(
            base / "p.toml",
            base / "t",
            passphrase="correct horse battery staple",
            ctx=ctx,
            start=start,
            no_sheet=True,
        )
        req = ImportRequest(
            path=base / "hr.csv",
            date_column="timestamp",
            mapping=(("heart_rate", "resting_hr"),),
            combine="mean",
            skip_outside=True,  # midnight to 04:00 of the first day is the day before
            dry_run=True,
        )
        size = (base / "hr.csv").stat().st_size
        t = time.perf_counter()
        import_values(base / "t", req, ctx)
        dry = time.perf_counter() - t
        t = time.perf_counter()
        result = import_values(base / "t", replace(req, dry_run=False), ctx)
        real = time.perf_counter() - t
        print(f"rows {n:,} ({size / 1e6:.1f} MB): --dry-run {dry:.2f} s; import of "
              f"{result.count('new')} values {real:.2f} s", file=sys.stdout)  # fmt: skip


if __name__ == "__main__":
    main()
