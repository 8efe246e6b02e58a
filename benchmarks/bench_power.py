"""Time ``blindself power`` for every shipped protocol (docs/design.md#performance-targets: 1,000
trials under 10 s).

Run: ``python benchmarks/bench_power.py [--sims N] [--seed S]``.  Prints, per protocol,
the simulated power (effect 1, SD 1.5, rho 0.3 unless given) with its Monte Carlo SE,
the reference set, and the time of the simulation alone and in total with the 80 % suggestion;
then the CPU time of the power check `plan` and `init` run (services/power_check.py: 1,000
trials, seed 1, the size search below 50 %), each on a cold cache.
A measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from importlib.resources import files
from pathlib import Path

from blindself.analysis.stats.power import power_of_design
from blindself.protocol.loading import load_protocol
from blindself.trial.schedule import build_calendar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--effect", type=float, default=1.0)
    parser.add_argument("--sd", type=float, default=1.5)
    parser.add_argument("--rho", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    folder = Path(str(files("blindself.protocols")))
    print(
        f"effect {args.effect:g}, sd {args.sd:g}, rho {args.rho:g}, {args.sims} sims, "
        f"seed {args.seed}"
    )
    print(f"{'protocol':<28} {'power':>6} {'se':>6} {'reference':>18} {'sim s':>7} {'total s':>8}")
    for path in sorted(folder.glob("*.toml")):
        protocol = load_protocol(path)
        calendar = build_calendar(protocol, date(2000, 1, 3))
        kw = {"effect": args.effect, "sd": args.sd, "rho": args.rho, "sims": args.sims}
        t0 = time.perf_counter()
        r = power_of_design(protocol, calendar, **kw, seed=args.seed, suggest=False)
        t1 = time.perf_counter()
        s = power_of_design(protocol, calendar, **kw, seed=args.seed, suggest=True)
        t2 = time.perf_counter()
        ref = f"{r.design['reference']} {r.design['reference_size']}"
        print(
            f"{path.name:<28} {r.power:>6.3f} {r.mc_se:>6.3f} {ref:>18} "
            f"{t1 - t0:>7.2f} {t2 - t1:>8.2f}"
        )
        if "power_any" in r.design:
            print(f"{'':<28} power of any contrast (Holm): {r.design['power_any']:.3f}")
        if s.suggestion:
            print(f"{'':<28} {s.suggestion}")
    print("power check of plan/init (CPU seconds, cold):")
    from blindself.services import power_check

    for path in sorted(folder.glob("*.toml")):
        protocol = load_protocol(path)
        power_check._simulated.cache_clear()
        c0, w0 = time.process_time(), time.perf_counter()
        check = power_check.check_power(protocol, date(2026, 12, 10))
        c1, w1 = time.process_time(), time.perf_counter()
        target = check.target["blocks"] if check.target and "blocks" in check.target else "-"
        print(
            f"{path.name:<28} power {check.power:.3f} 80 % at {target!s:>4} blocks "
            f"cpu {c1 - c0:.2f} s wall {w1 - w0:.2f} s"
        )


if __name__ == "__main__":
    main()
