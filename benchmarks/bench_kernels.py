"""In-process benchmarks, one case per child process (``benchmarks/run.py`` starts them).

Run one case by hand: ``python benchmarks/bench_kernels.py CASE [--quick] [--repeat N]``.
It prints one JSON line ``{"series": {NAME: {"wall": [...], "cpu": [...]}}, "extra": {...}}``
on stdout; the parent measures the child's peak RSS.  Cases:

- ``rand-exact`` / ``rand-exact-scipy``: exact randomization test, 2^20 allocations of 20
  blocks ``[active, placebo]`` (one day per period); the peer is ``scipy.stats.
  permutation_test(permutation_type="samples")`` on the 20 paired differences (the same
  2^20 sign patterns, so the two p-values must agree).
- ``rand-mc-daily`` / ``rand-mc-weekly`` and their ``-scipy`` peers: 10^5 Monte Carlo draws
  for 365 days in blocks of daily or weekly periods; the peer is ``permutation_test(
  permutation_type="independent", n_resamples=1e5)``, which ignores the blocks (a speed peer,
  not the same test).
- ``analysis``: a year of daily check-ins with 5 outcomes recorded through the services
  (production KDF; left in ``--workdir`` for the parent's ``blindself unblind`` runs), then
  ``analyze`` and the HTML render timed in-process.
- ``power``: ``simulate_power`` with 1,000 simulated trials on a shipped protocol.
- ``kdf``: one Argon2id derivation at ``blindself.trial.seal.crypto.DEFAULT_KDF``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # shared protocol texts
from protocol_texts import year_protocol

SEED = 20260301
PASSPHRASE = "benchmark passphrase, not a secret"  # a simulated trial
ARMS = ("active", "placebo")

Series = dict[str, dict[str, list[float]]]


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, list[float]], Any]:
    """Wall and CPU seconds of ``repeat`` calls of ``fn``; returns the last result too."""
    wall: list[float] = []
    cpu: list[float] = []
    out: Any = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}, out


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- randomization tests ---------------------------------------------------------------


def _block_data(
    blocks: int, period_days: int, baseline: int, rng: np.random.Generator
) -> tuple[Any, tuple[str, ...], np.ndarray, np.ndarray]:
    """Scheme, observed allocation, daily outcome and 0-based period (-1: baseline)."""
    from blindself.trial.scheme import Scheme

    scheme = Scheme("blocks", ARMS, ARMS, n_blocks=blocks)
    observed: list[str] = []
    for _ in range(blocks):
        observed.extend(ARMS if rng.random() < 0.5 else ARMS[::-1])
    period = np.concatenate(
        [np.full(baseline, -1), np.repeat(np.arange(2 * blocks), period_days)]
    ).astype(np.int64)
    active = np.array([p >= 0 and observed[p] == "active" for p in period])
    y = rng.normal(5.0, 1.5, period.size) + 0.4 * active
    return scheme, tuple(observed), y, period


def _blindself_test(
    blocks: int, period_days: int, baseline: int, draws: int, repeat: int
) -> tuple[Series, dict[str, Any]]:
    from blindself.analysis.stats.assignments import assignment_set
    from blindself.analysis.stats.randomization import randomization_test

    scheme, observed, y, period = _block_data(blocks, period_days, baseline, _rng())

    def run() -> Any:
        ref = assignment_set(scheme, observed, _rng(1), max_exact=2**20, draws=draws)
        return randomization_test(y, period, ref, scheme, active="active", placebo="placebo")

    series, result = _timed(run, repeat)
    extra = {
        "days": int(y.size),
        "exact": result.exact,
        "assignments": int(result.assignments),
        "draws": result.draws,
        "p": result.p_value,
    }
    return {"main": series}, extra


def _scipy_test(
    blocks: int, period_days: int, baseline: int, draws: int, repeat: int, paired: bool
) -> tuple[Series, dict[str, Any]]:
    from scipy.stats import permutation_test

    _scheme, observed, y, period = _block_data(blocks, period_days, baseline, _rng())
    obs = np.array(observed)
    kept = period >= 0
    is_active = np.zeros(y.size, dtype=bool)
    is_active[kept] = obs[period[kept]] == "active"

    def mean_diff(x: np.ndarray, z: np.ndarray, axis: int) -> np.ndarray:
        if paired:
            out: np.ndarray = np.mean(x - z, axis=axis)
            return out
        out = np.mean(x, axis=axis) - np.mean(z, axis=axis)
        return out

    if paired:
        # One day per period: the active and placebo day of each block form a pair.
        a = y[kept][obs[period[kept]] == "active"]
        p = y[kept][obs[period[kept]] == "placebo"]
        data, kind, n = (a, p), "samples", np.inf
    else:
        data, kind, n = (y[is_active], y[kept & ~is_active]), "independent", draws

    def run() -> Any:
        return permutation_test(
            data,
            mean_diff,
            permutation_type=kind,
            vectorized=True,
            n_resamples=n,
            alternative="two-sided",
            rng=_rng(1),
        )

    series, result = _timed(run, repeat)
    return {"main": series}, {"days": int(y.size), "p": float(result.pvalue)}


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


# --- full analysis of a year -------------------------------------------------------------


_year_protocol = year_protocol  # weekly AB/BA periods, up to five outcomes


def _fixed(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def _build_year_trial(trial: Path, blocks: int, outcomes: int) -> Path:
    """A blinded trial at the production KDF that ended yesterday, every day checked in."""
    from blindself.protocol.loading import parse_protocol
    from blindself.randomness import GeneratorSource
    from blindself.services.context import Context
    from blindself.services.daily import record_checkin
    from blindself.services.setup import init_trial
    from blindself.trial.checkins import CheckinRequest
    from blindself.trial.schedule import build_calendar
    from blindself.trial.seal.format import DEFAULT_KDF

    raw = _year_protocol(blocks, outcomes)
    protocol_path = trial.parent / "protocol.toml"
    protocol_path.write_text(raw)
    protocol = parse_protocol(raw.encode(), "protocol.toml")
    n_days = len(build_calendar(protocol, date(2000, 1, 3)).days)
    # Real dates, so that ``blindself unblind`` (real clock) may open it today.
    start = datetime.now(UTC).date() - timedelta(days=n_days + 2)
    ctx = Context(
        clock=_fixed(datetime.combine(start, clock_time(9), tzinfo=UTC)),
        allocation=GeneratorSource(_rng(2)),
        other=GeneratorSource(_rng(3)),
        kdf=DEFAULT_KDF,
    )
    sheet = trial.parent / "sheet.json"
    init = init_trial(protocol_path, trial, passphrase=PASSPHRASE, ctx=ctx, start=start,
                      sheets=(sheet,))  # fmt: skip
    prep = json.loads(sheet.read_text())
    arm_of = prep["codes"]
    code_of = {c["period"] - 1: c["code"] for c in prep["containers"]}  # helper mode
    rng = _rng(4)
    noise = 0.0
    for day in init.calendar.days:
        noise = 0.5 * noise + rng.normal(0, 1.0)
        code = arm = None
        if day.period is not None:
            code = code_of[day.period]
            arm = arm_of[code]
        lift = 0.8 if arm == "active" and day.is_dose else 0.0
        ratings = {}
        for i, o in enumerate(protocol.outcomes):
            sign = 1.0 if o.better == "higher" else -1.0
            value = 5.5 + sign * lift * (1.0 if i == 0 else 0.5) + noise + rng.normal(0, 0.7)
            ratings[o.name] = float(min(10, max(1, round(value))))
        guess = confidence = None
        if day.is_dose and code is not None:
            guess = "active" if rng.random() < (0.6 if arm == "active" else 0.4) else "placebo"
            confidence = int(rng.integers(50, 90))
        when = datetime.combine(day.date, clock_time(20), tzinfo=UTC)
        record_checkin(
            trial,
            CheckinRequest(
                date=day.date, code=code, ratings=ratings, guess=guess, confidence=confidence
            ),
            replace(ctx, clock=_fixed(when)),
        )
    return trial


def _analysis(quick: bool, repeat: int, workdir: Path | None) -> tuple[Series, dict[str, Any]]:
    """Build ``workdir/pristine`` (kept for the parent's ``blindself unblind`` runs), then
    time ``analyze`` and the HTML render in-process on an unblinded copy."""
    from blindself.analysis.engine import analyze
    from blindself.report.rendering import render
    from blindself.services.context import Context
    from blindself.services.unblinding import trial_data, unblind_trial
    from blindself.trial.folder import open_trial

    blocks, outcomes = (4, 2) if quick else (26, 5)
    tmp = Path(tempfile.mkdtemp(prefix="blindself-bench-"))
    base = workdir or tmp
    try:
        t0 = time.perf_counter()
        pristine = _build_year_trial(base / "pristine", blocks, outcomes)
        setup = time.perf_counter() - t0
        work = tmp / "unblinded"
        shutil.copytree(pristine, work)
        cold, _ = _timed(lambda: unblind_trial(work, Context(), passphrase=PASSPHRASE), 1)
        trial = open_trial(work, readonly=True)
        try:
            entry = trial.unblinding()
            if entry is None:
                raise RuntimeError("the copy was not unblinded")
            data = trial_data(trial)  # checks the revealed allocation first
        finally:
            trial.close()
        parts: Series = {
            k: {"wall": [], "cpu": []} for k in ("analysis+report", "analyze", "render")
        }
        report: dict[str, Any] = {}
        html = ""
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            s1, report = _timed(lambda: analyze(data), 1)
            s2, html = _timed(partial(render, report, "html"), 1)
            parts["analysis+report"]["wall"].append(time.perf_counter() - w0)
            parts["analysis+report"]["cpu"].append(time.process_time() - c0)
            for k in ("wall", "cpu"):
                parts["analyze"][k] += s1[k]
                parts["render"][k] += s2[k]
        extra = {
            "days": len(data.rows),
            "outcomes": len(data.outcomes),
            "setup_s": round(setup, 2),
            "unblind_in_process_cold_s": round(cold["wall"][0], 3),
            "randomization": report["outcomes"][0]["contrasts"][0]["randomization"],
            "html_mb": round(len(html) / 1e6, 2),
        }
        return parts, extra
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- power and KDF -----------------------------------------------------------------------

POWER_PROTOCOL = "microdosing-resilience.toml"


def _power(quick: bool, repeat: int) -> tuple[Series, dict[str, Any]]:
    from blindself.services.planning import simulate_power

    sims = 50 if quick else 1000
    path = Path(str(resources.files("blindself.protocols").joinpath(POWER_PROTOCOL)))

    def run() -> Any:
        return simulate_power(path, effect=1.0, sd=1.5, rho=0.3, sims=sims, seed=SEED)

    series, result = _timed(run, repeat)
    extra = {
        "protocol": POWER_PROTOCOL,
        "sims": sims,
        "power": result.power,
        "suggestion": result.suggestion is not None,
        "reference": result.design.get("reference_note"),
    }
    return {"main": series}, extra


def _kdf(quick: bool, repeat: int) -> tuple[Series, dict[str, Any]]:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    from blindself.trial.seal.format import DEFAULT_KDF

    before = _maxrss_mib()

    def run() -> bytes:
        # The derivation seal() and open_seal() run once each
        # (blindself.trial.seal.crypto._argon2id).
        kdf = Argon2id(
            salt=b"\x00" * 16,
            length=32,
            iterations=DEFAULT_KDF.iterations,
            lanes=DEFAULT_KDF.lanes,
            memory_cost=DEFAULT_KDF.memory_kib,
        )
        return kdf.derive(PASSPHRASE.encode())

    series, _ = _timed(run, repeat)
    extra = {
        "memory_kib": DEFAULT_KDF.memory_kib,
        "iterations": DEFAULT_KDF.iterations,
        "lanes": DEFAULT_KDF.lanes,
        "rss_growth_mib": round(_maxrss_mib() - before, 1),
    }
    return {"main": series}, extra


# --- dispatch ----------------------------------------------------------------------------


def run_case(
    case: str, quick: bool, repeat: int, workdir: Path | None = None
) -> tuple[Series, dict[str, Any]]:
    """Run one case; ``repeat`` timed calls (the first one included: no warm-up is hidden)."""
    exact_blocks = 12 if quick else 20
    draws = 1000 if quick else 100_000
    mc = {"rand-mc-daily": (182, 1, 1), "rand-mc-weekly": (26, 7, 1)}
    if case == "rand-exact":
        return _blindself_test(exact_blocks, 1, 0, draws, repeat)
    if case == "rand-exact-scipy":
        return _scipy_test(exact_blocks, 1, 0, draws, repeat, paired=True)
    if case in mc:
        return _blindself_test(*mc[case], draws, repeat)
    if case.removesuffix("-scipy") in mc:
        return _scipy_test(*mc[case.removesuffix("-scipy")], draws, repeat, paired=False)
    if case == "analysis":
        return _analysis(quick, repeat, workdir)
    if case == "power":
        return _power(quick, repeat)
    if case == "kdf":
        return _kdf(quick, repeat)
    raise SystemExit(f"unknown case {case!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="analysis: where to leave the trial")
    args = parser.parse_args()
    series, extra = run_case(args.case, args.quick, args.repeat, args.workdir)
    sys.stdout.write(json.dumps({"series": series, "extra": extra}) + "\n")


if __name__ == "__main__":
    main()
