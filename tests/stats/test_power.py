"""Simulated power (docs/design.md#power) against independent, deliberately simple simulations."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from helpers import Invoke
from scipy.stats import permutation_test

import blindself.analysis.stats.simulation as simulation
from blindself.analysis.stats.assignments import AssignmentSet, assignment_set, sample_assignments
from blindself.analysis.stats.power import PowerEstimate, power_of_design
from blindself.analysis.stats.randomization import randomization_test
from blindself.protocol.loading import parse_protocol
from blindself.protocol.model import Protocol
from blindself.trial.schedule import build_calendar

START = date(2000, 1, 3)


def protocol(
    *,
    arms: tuple[tuple[str, str], ...] = (("active", "active"), ("placebo", "placebo")),
    block: tuple[str, ...] = ("active", "placebo"),
    blocks: int = 6,
    period_days: int = 1,
    dosing: str = "daily",
    alternative: str = "two-sided",
    statistic: str = "mean-difference",
    better: str = "higher",
    kind: str = "blocks",
    counts: str = "",
    max_run: int | None = None,
) -> Protocol:
    arm_text = "".join(f'[[arms]]\nname = "{n}"\nkind = "{k}"\n' for n, k in arms)
    if kind == "blocks":
        shape = f"block = {json.dumps(list(block))}\nblocks = {blocks}\n"
    else:
        shape = f"counts = {counts}\n"
    if max_run is not None:
        shape += f"max_run = {max_run}\n"
    text = f"""
[trial]
title = "power test"
question = "q"
{arm_text}
[design]
kind = "{kind}"
{shape}period_days = {period_days}
dosing = "{dosing}"
baseline_days = 2

[[outcomes]]
name = "mood"
question = "?"
scale = [1, 10]
better = "{better}"
primary = true

[analysis]
alpha = 0.05
alternative = "{alternative}"
statistic = "{statistic}"
"""
    return parse_protocol(text.encode())


def estimate(p: Protocol, **kw: float) -> PowerEstimate:
    args: dict[str, float] = {"effect": 1.0, "sd": 1.0, "rho": 0.3, "sims": 400, "seed": 1}
    args.update(kw)
    return power_of_design(
        p,
        build_calendar(p, START),
        effect=args["effect"],
        sd=args["sd"],
        rho=args["rho"],
        sims=int(args["sims"]),
        seed=int(args["seed"]),
        suggest=False,
    )


def ar1_by_day(n_days: int, sd: float, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Reference noise: the AR(1) recursion run over every calendar day, one at a time."""
    e = np.empty(n_days)
    e[0] = sd * rng.standard_normal()
    for t in range(1, n_days):
        e[t] = rho * e[t - 1] + sd * math.sqrt(1 - rho**2) * rng.standard_normal()
    return e


def agree(ours: PowerEstimate, ref_hits: int, ref_sims: int) -> None:
    ref = ref_hits / ref_sims
    se = math.sqrt(ours.mc_se**2 + ref * (1 - ref) / ref_sims)
    assert abs(ours.power - ref) <= 3 * se, (ours.power, ref, se)


def test_matches_loop_reference_with_scipy_permutation_test() -> None:
    # 6 AB/BA day pairs, a dose every other day (gap 2), one-sided: scipy's paired
    # ("samples") permutation test enumerates exactly the 2^6 within-pair swaps.
    p = protocol(blocks=6, dosing="every-other-day", alternative="greater")
    cal = build_calendar(p, START)
    ours = estimate(p, effect=1.0, sd=1.0, rho=0.6, sims=400, seed=11)
    dose_days = [i for i, d in enumerate(cal.days) if d.is_dose]
    rng = np.random.default_rng(2024)
    hits, sims = 0, 400
    for _ in range(sims):
        e = ar1_by_day(len(cal.days), 1.0, 0.6, rng)
        active, placebo = [], []
        for b in range(6):
            first_active = rng.random() < 0.5
            d0, d1 = dose_days[2 * b], dose_days[2 * b + 1]
            a, q = (d0, d1) if first_active else (d1, d0)
            active.append(e[a] + 1.0)
            placebo.append(e[q])
        res = permutation_test(
            (np.array(active), np.array(placebo)),
            lambda x, y: np.mean(x) - np.mean(y),
            permutation_type="samples",
            alternative="greater",
            n_resamples=np.inf,
        )
        hits += res.pvalue <= 0.05
    assert ours.design["reference"] == "exact" and ours.design["reference_size"] == 64
    agree(ours, hits, sims)


def test_matches_enumeration_reference_three_arms_trend_adjusted() -> None:
    # none/placebo/active blocks of two-day periods, trend-adjusted statistic, two-sided:
    # the conditional set swaps placebo and active inside each block (2^6 allocations);
    # each is fitted by least squares, y ~ 1 + active + day on the pair's dose days.
    arms = (("none", "none"), ("placebo", "placebo"), ("active", "active"))
    p = protocol(
        arms=arms,
        block=("none", "placebo", "active"),
        blocks=6,
        period_days=2,
        statistic="trend-adjusted",
    )
    cal = build_calendar(p, START)
    ours = estimate(p, effect=1.5, sd=1.0, rho=0.4, sims=300, seed=5)
    by_period: dict[int, list[int]] = {}
    for i, d in enumerate(cal.days):
        if d.is_dose and d.period is not None:
            by_period.setdefault(d.period, []).append(i)
    rng = np.random.default_rng(99)
    hits, sims = 0, 300
    for _ in range(sims):
        order = [list(rng.permutation(["none", "placebo", "active"])) for _ in range(6)]
        alloc = [arm for blk in order for arm in blk]
        e = ar1_by_day(len(cal.days), 1.0, 0.4, rng)
        pair = [k for k, arm in enumerate(alloc) if arm != "none"]
        days = [i for k in pair for i in by_period[k]]
        y = np.array(
            [e[i] + (1.5 if alloc[k] == "active" else 0.0) for k in pair for i in by_period[k]]
        )

        def coef(labels: list[str], y: np.ndarray = y, pair: list[int] = pair) -> float:
            x = np.array([[1.0, labels[k] == "active", i] for k in pair for i in by_period[k]])
            return float(np.linalg.lstsq(x, y, rcond=None)[0][1])

        observed = coef(alloc)
        stats = []
        for swaps in itertools.product([False, True], repeat=6):
            labels = list(alloc)
            for b, swap in enumerate(swaps):
                if swap:
                    i, j = (3 * b + t for t in range(3) if alloc[3 * b + t] != "none")
                    labels[i], labels[j] = labels[j], labels[i]
            stats.append(coef(labels))
        s = np.array(stats)
        tol = 1e-9 * np.max(np.abs(y))
        p_two = min(1.0, 2 * min(np.mean(s >= observed - tol), np.mean(s <= observed + tol)))
        hits += p_two <= 0.05
        assert len(days) == 24
    assert ours.design["reference_size"] == 64
    agree(ours, hits, sims)


@pytest.mark.parametrize(
    ("statistic", "max_run"),
    [("mean-difference", None), ("trend-adjusted", None), ("mean-difference", 2)],
)
def test_vectorized_p_values_equal_the_analysis_randomization_test(
    statistic: str, max_run: int | None
) -> None:
    # White-box: on the same simulated trials, the p-values equal randomization_test
    # (the analysis' own code) on its own exact set.  With max_run and a third arm the
    # conditional set is built per trial (the slow path).
    arms = (("none", "none"), ("placebo", "placebo"), ("high", "active"))
    p = protocol(
        arms=arms,
        block=("placebo", "none", "high"),
        blocks=5,
        period_days=3,
        statistic=statistic,
        alternative="greater",
        max_run=max_run,
    )
    cal = build_calendar(p, START)
    rng = np.random.default_rng(3)
    setup = simulation._setup(p, cal, rng)
    scheme = setup.scheme
    obs = sample_assignments(scheme, rng, 8)
    y = (
        rng.normal(size=(8, scheme.n_periods, 3))
        + 0.8 * (obs == scheme.arms.index("high"))[:, :, None]
    )
    (c,) = setup.contrasts
    assert (c.rows is None) == (max_run is not None)
    ours = simulation._p_values(setup, c, obs, y, rng)
    day = setup.days.reshape(-1).astype(float)
    period = np.repeat(np.arange(scheme.n_periods), 3)
    for i in range(8):
        names = [scheme.arms[a] for a in obs[i]]
        ref = assignment_set(scheme, names, rng)  # exact: 6^5 rows, filtered by the test
        r = randomization_test(
            y[i].reshape(-1),
            period,
            ref,
            scheme,
            active="high",
            placebo="placebo",
            alternative="greater",
            statistic=statistic,
            day=day,
        )
        assert ours[i] == pytest.approx(r.p_value, abs=1e-12)


def test_monte_carlo_rows_equal_the_analysis_test_with_the_same_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulation, "EXACT_CELLS", 10)
    p = protocol(blocks=8, alternative="two-sided")
    rng = np.random.default_rng(4)
    setup = simulation._setup(p, build_calendar(p, START), rng)
    (c,) = setup.contrasts
    assert not c.exact and c.rows is not None and c.size == simulation.MC_DRAWS + 1
    obs = sample_assignments(setup.scheme, rng, 5)
    y = rng.normal(size=(5, 16, 1))
    ours = simulation._p_values(setup, c, obs, y, rng)
    for i in range(5):
        matrix = np.vstack([obs[i], np.where(c.rows, 0, 1).astype(np.int8)])
        ref = AssignmentSet(matrix, False, 2**8, simulation.MC_DRAWS)
        r = randomization_test(
            y[i, :, 0], np.arange(16), ref, setup.scheme, active="active", placebo="placebo"
        )
        assert ours[i] == pytest.approx(r.p_value, abs=1e-12)


def test_ar1_noise_has_the_stated_sd_and_correlation() -> None:
    # Reference: for a stationary AR(1), corr(e_t, e_t+g) = rho^g and var = sd^2.
    rng = np.random.default_rng(8)
    gaps = np.array([1, 3, 2])
    e = simulation._ar1(200_000, gaps, 2.0, 0.5, rng)
    assert e.std(axis=0) == pytest.approx([2.0] * 4, rel=0.01)
    lags = [np.corrcoef(e[:, t], e[:, t + 1])[0, 1] for t in range(3)]
    assert lags == pytest.approx([0.5, 0.125, 0.25], abs=0.01)


def test_no_effect_gives_power_alpha() -> None:
    # 10 pairs: 1,024 allocations; the exact one-sided test rejects on 51 of them,
    # so its size is floor(0.05 * 1024) / 1024 = 0.0498.
    r = estimate(protocol(blocks=10, alternative="greater"), effect=0.0, sims=3000, seed=2)
    size = 51 / 1024
    assert abs(r.power - size) <= 3 * math.sqrt(size * (1 - size) / 3000)
    assert r.design["reference"] == "exact"


def test_no_effect_gives_power_alpha_with_monte_carlo_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulation, "EXACT_CELLS", 10)
    r = estimate(protocol(blocks=10), effect=0.0, sims=3000, seed=6)
    # Two-sided Monte Carlo test with B + 1 = 2000 rows: size floor(0.025 * 2000) * 2 / 2000.
    assert r.design["reference"] == "monte-carlo"
    assert abs(r.power - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / 3000)


def test_power_is_monotone_in_effect() -> None:
    # The same seed gives the same allocations and noise, so under "greater" each
    # trial's p can only fall as the effect grows.
    p = protocol(blocks=8, alternative="greater")
    powers = [estimate(p, effect=e, sims=300, seed=9).power for e in (0.0, 0.5, 1.0, 2.0)]
    assert powers == sorted(powers)
    assert powers[-1] - powers[0] > 0.5


def test_lower_is_better_outcome_is_tested_in_its_own_direction() -> None:
    # effect is an improvement; for a lower-is-better outcome "greater" means lower
    # ratings, so the power equals that of the mirrored higher-is-better protocol.
    up = estimate(protocol(alternative="greater"), sims=300, seed=4)
    down = estimate(protocol(alternative="greater", better="lower"), sims=300, seed=4)
    assert up.power == down.power > 0.2


def test_complete_design_and_json_ready_design() -> None:
    p = protocol(kind="complete", counts="{active = 5, placebo = 5}", alternative="greater")
    r = estimate(p, effect=1.5, sims=200)
    assert r.design["reference_size"] == math.comb(10, 5)
    assert r.design["counts"] == {"active": 5, "placebo": 5}
    json.dumps(r.design)
    low = power_of_design(p, build_calendar(p, START), effect=0.8, sd=1.0, sims=200, seed=2)
    assert low.power < 0.8 and low.suggestion is not None
    assert "(now 5 active, 5 placebo periods)" in low.suggestion
    assert "design.counts" in low.suggestion


def test_unreachable_alpha_gives_zero_power_and_a_larger_size() -> None:
    # 3 pairs: 8 allocations, the smallest two-sided p is 0.25.
    p = protocol(blocks=3)
    cal = build_calendar(p, START)
    r = power_of_design(p, cal, effect=1.5, sd=1.0, sims=2000, seed=1)
    assert r.power == 0.0 and r.design["p_min"] == 0.25 and not r.design["reaches_alpha"]
    assert r.suggestion is not None
    assert r.suggestion.startswith("At 3 blocks the smallest p is 0.25, above alpha = 0.05. ")
    blocks = int(r.suggestion.split("About ")[1].split()[0])
    # Independent simulations (4,000 trials, seed 11): 7 blocks 0.772, 8 blocks 0.844, so
    # 8 is the smallest size with 80 %; the search's 2,000 trials per size tell them apart.
    assert blocks == 8 and r.target is not None and r.target["blocks"] == 8
    check = estimate(protocol(blocks=blocks), effect=1.5, sims=400, seed=3)
    assert check.power >= 0.8 - 3 * 0.02
    below = estimate(protocol(blocks=blocks - 1), effect=1.5, sims=400, seed=3)
    assert below.power < 0.8 + 3 * 0.02


def test_no_suggestion_at_high_power_and_a_plain_one_for_no_effect() -> None:
    p = protocol(blocks=12)
    cal = build_calendar(p, START)
    assert power_of_design(p, cal, effect=3.0, sd=1.0, sims=100, seed=1).suggestion is None
    none = power_of_design(p, cal, effect=0.0, sd=1.0, sims=100, seed=1).suggestion
    assert none is not None and "whatever the size" in none


def test_several_active_arms_use_holm() -> None:
    # placebo/low/high in 6 blocks: each pairwise set has 2^6 = 64 rows, so the
    # smallest p is 2/64 = 0.031 > 0.05/2 and Holm can never reject: power 0.
    arms = (("placebo", "placebo"), ("low", "active"), ("high", "active"))
    p = protocol(arms=arms, block=("placebo", "low", "high"), blocks=6)
    r = estimate(p, effect=3.0, sims=100)
    assert r.power == 0.0 and r.design["power_any"] == 0.0 and r.design["multiplicity"] == "holm"
    assert not r.design["reaches_alpha"]
    assert r.design["active"] == "low"
    r8 = estimate(
        protocol(arms=arms, block=("placebo", "low", "high"), blocks=8), effect=3.0, sims=100
    )
    assert r8.power > 0.5 and r8.design["power_any"] >= r8.power


def test_progress_is_called_in_chunks_summing_to_sims() -> None:
    p = protocol(blocks=6)
    calls: list[int] = []
    power_of_design(
        p,
        build_calendar(p, START),
        effect=1,
        sd=1,
        sims=250,
        progress=calls.append,
        seed=1,
        suggest=False,
    )
    assert sum(calls) == 250 and len(calls) > 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"sd": 0.0}, "sd"),
        ({"rho": 1.0}, "rho"),
        ({"effect": math.nan}, "effect"),
        ({"sims": 0}, "sims"),
    ],
)
def test_bad_arguments(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate(protocol(), **kw)


# ------------------------------------------------------------------------------ CLI
def test_cli_json_shape(protocol_file: Path, invoke: Invoke) -> None:
    r = invoke(
        ["power", str(protocol_file), "--effect", "1", "--sd", "1.5", "--sims", "50", "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"power", "mc_se", "sims", "design"} <= set(data)
    assert data["sims"] == 50 and 0 <= data["power"] <= 1
    assert data["mc_se"] == pytest.approx(math.sqrt(data["power"] * (1 - data["power"]) / 50))
    assert data["design"]["effect"] == 1 and data["design"]["periods"] == 8


def test_cli_text(protocol_file: Path, invoke: Invoke) -> None:
    r = invoke(["power", str(protocol_file), "--effect", "1", "--sd", "1.5", "--sims", "20"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Power ") and "reference set exact" in r.stdout


@pytest.mark.parametrize(
    "args",
    [["--sd", "0"], ["--sd", "-1"], ["--sd", "1", "--rho", "1"], ["--sd", "1", "--sims", "5"]],
)
def test_cli_bad_input_is_a_usage_error(
    protocol_file: Path, invoke: Invoke, args: list[str]
) -> None:
    r = invoke(["power", str(protocol_file), "--effect", "1", *args])
    assert r.exit_code == 2


def test_cli_non_finite_effect_is_one_error_line(protocol_file: Path, invoke: Invoke) -> None:
    r = invoke(["power", str(protocol_file), "--effect", "nan", "--sd", "1"])
    # A usage error, caught before the progress bar starts.
    assert r.exit_code == 2
    assert "Invalid value for --effect: must be a finite number of rating points" in r.stderr
    assert "simulating" not in r.stderr and "Traceback" not in r.stderr
