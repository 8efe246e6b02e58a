"""Randomization tests under the trial's scheme, against exact and external references."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import permutation_test

from blindself.analysis.stats.assignments import assignment_set, sample_assignments
from blindself.analysis.stats.randomization import minimum_p, permutation_p, randomization_test
from blindself.errors import DataError
from blindself.trial.scheme import Scheme

AP = ("active", "placebo")
NPA = ("none", "placebo", "active")

# Darwin's Zea mays, heights in eighths of an inch (Fisher 1935, The Design of
# Experiments, sec. 17 and 21; R HistData::ZeaMays).  Differences cross - self:
# 49, -67, 8, 16, 6, 23, 28, 41, 14, 29, 56, 24, 75, 60, -48.
CROSS = [188, 96, 168, 176, 153, 172, 177, 163, 146, 173, 186, 168, 177, 184, 96]
SELF = [139, 163, 160, 160, 147, 149, 149, 122, 132, 144, 130, 144, 102, 124, 144]


def observed_names(scheme: Scheme, seed: int) -> list[str]:
    row = sample_assignments(scheme, np.random.default_rng(seed), 1)[0]
    return [scheme.arms[i] for i in row]


def darwin_trial() -> tuple[Scheme, list[str], np.ndarray]:
    """15 blocks of (active, placebo), one day per period: the cross-fertilised plant of
    pair i is the `active` day of block i, wherever the draw put it."""
    scheme = Scheme("blocks", AP, AP, n_blocks=15)
    observed = observed_names(scheme, 7)
    y = np.array(
        [CROSS[p // 2] if arm == "active" else SELF[p // 2] for p, arm in enumerate(observed)],
        dtype=float,
    )
    return scheme, observed, y


def test_darwin_zea_mays_exact_fisher_p() -> None:
    scheme, observed, y = darwin_trial()
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = randomization_test(y, np.arange(30), ref, scheme, active="active", placebo="placebo")
    assert r.exact and r.assignments == 2**15 and r.draws is None
    assert r.estimate == pytest.approx(314 / 15)  # mean difference 20.93 eighths
    # Fisher (1935) sec. 21: 863 of the 32768 sign patterns give a sum >= 314; the
    # two-sided p is 1726/32768 (tests/reference/darwin_randomization.R: 0.05267333984375).
    assert r.p_greater == 863 / 32768
    assert r.p_value == 1726 / 32768 == 0.05267333984375
    assert r.p_min == 2 / 32768
    # 95 % CI by inversion; tests/reference/darwin_randomization.out: -0.1666666667 41
    assert r.ci95 is not None
    assert r.ci95[0] == pytest.approx(-1 / 6, abs=1e-8)
    assert r.ci95[1] == pytest.approx(41.0, abs=1e-8)
    greater = randomization_test(
        y, np.arange(30), ref, scheme, active="active", placebo="placebo", alternative="greater"
    )
    assert greater.p_value == 863 / 32768 and greater.p_min == 1 / 32768


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_complete_scheme_matches_scipy_permutation_test(alternative: str) -> None:
    scheme = Scheme("complete", AP, counts=(("active", 5), ("placebo", 6)))
    observed = observed_names(scheme, 3)
    y = np.array([6, 4, 5, 7, 3, 5, 6, 2, 4, 7, 5], dtype=float)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = randomization_test(
        y, np.arange(11), ref, scheme, active="active", placebo="placebo", alternative=alternative
    )
    act = np.array([a == "active" for a in observed])

    def diff(x: np.ndarray, z: np.ndarray, axis: int) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(z, axis=axis)

    # Reference: scipy.stats.permutation_test, exact (all C(11, 5) = 462 partitions).
    ref_p = permutation_test(
        (y[act], y[~act]),
        diff,
        permutation_type="independent",
        alternative=alternative,
        n_resamples=np.inf,
    )
    assert r.exact and r.assignments == 462
    assert r.p_value == pytest.approx(ref_p.pvalue, abs=1e-12)
    assert r.estimate == pytest.approx(ref_p.statistic)


# Integer paired differences for a 21-block AB/BA design (2^21 > 2^20 allocations).
DIFFS = [7, -3, 12, 5, -9, 4, 11, 0, 6, -2, 8, 3, -5, 10, 2, 9, -4, 1, 6, -7, 5]


def sign_flip_p_greater(d: list[int]) -> float:
    """Exact P(sum s_i d_i >= sum d_i) over all sign vectors, by convolution of the
    integer sums (an independent reference for the blocks-of-two enumeration)."""
    dist: Counter[int] = Counter({0: 1})
    for x in d:
        nxt: Counter[int] = Counter()
        for s, c in dist.items():
            nxt[s + x] += c
            nxt[s - x] += c
        dist = nxt
    obs = sum(d)
    return sum(c for s, c in dist.items() if s >= obs) / 2 ** len(d)


def paired_trial(d: list[int], seed: int) -> tuple[Scheme, list[str], np.ndarray]:
    scheme = Scheme("blocks", AP, AP, n_blocks=len(d))
    observed = observed_names(scheme, seed)
    y = np.array([d[p // 2] if a == "active" else 0.0 for p, a in enumerate(observed)])
    return scheme, observed, y


def test_exact_enumeration_matches_sign_flip_convolution() -> None:
    d = DIFFS[:15]
    scheme, observed, y = paired_trial(d, 1)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = randomization_test(
        y, np.arange(30), ref, scheme, active="active", placebo="placebo", alternative="greater"
    )
    assert r.exact
    assert r.p_value == sign_flip_p_greater(d)


def test_monte_carlo_p_within_its_error_of_the_exact_p() -> None:
    scheme, observed, y = paired_trial(DIFFS, 2)
    ref = assignment_set(scheme, observed, np.random.default_rng(11))
    assert not ref.exact and ref.total == 2**21 and ref.draws == 9999
    r = randomization_test(
        y, np.arange(42), ref, scheme, active="active", placebo="placebo", alternative="greater"
    )
    exact = sign_flip_p_greater(DIFFS)
    assert 0.005 < exact < 0.1  # a p where the check has teeth
    se = np.sqrt(exact * (1 - exact) / 9999)
    assert abs(r.p_value - exact) < 4 * se
    assert r.p_min == 1 / 10000 and not r.exact and r.draws == 9999
    assert minimum_p(ref, "two-sided") == 2 / 10000


def weekly_trial(
    n_blocks: int, seed: int, effect: float = 0.0
) -> tuple[Scheme, list[str], np.ndarray, np.ndarray, np.ndarray]:
    scheme = Scheme("blocks", AP, AP, n_blocks=n_blocks)
    observed = observed_names(scheme, seed)
    day = np.arange(14 * n_blocks)
    period = day // 7
    rng = np.random.default_rng(seed + 100)
    active = np.array([observed[p] == "active" for p in period])
    y = rng.normal(5, 1, day.size) + 0.02 * day + effect * active
    return scheme, observed, y, period, day.astype(float)


@pytest.mark.parametrize("statistic", ["mean-difference", "trend-adjusted"])
def test_ci_by_inversion_agrees_with_brute_force_p_over_a_grid(statistic: str) -> None:
    scheme, observed, y, period, day = weekly_trial(6, 5, effect=0.8)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    active = np.array([observed[p] == "active" for p in period])

    def test(shift: float) -> float:
        return randomization_test(
            y - shift * active,
            period,
            ref,
            scheme,
            active="active",
            placebo="placebo",
            statistic=statistic,
            day=day,
        ).p_value

    r = randomization_test(
        y, period, ref, scheme, active="active", placebo="placebo", statistic=statistic, day=day
    )
    assert r.ci95 is not None
    lo, hi = r.ci95
    assert lo < r.estimate < hi
    for shift in np.linspace(lo - 1.5, hi + 1.5, 301):
        if min(abs(shift - lo), abs(shift - hi)) < 1e-7:
            continue
        assert (test(shift) >= 0.05) == (lo < shift < hi), shift
    # Closed at the ends, rejected just outside.
    assert test(lo) >= 0.05 and test(hi) >= 0.05
    assert test(lo - 1e-6) < 0.05 and test(hi + 1e-6) < 0.05


def test_ci_is_none_when_the_design_cannot_reach_alpha() -> None:
    scheme, observed, y, period, _ = weekly_trial(4, 5)  # 16 allocations: p >= 1/8
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = randomization_test(y, period, ref, scheme, active="active", placebo="placebo")
    assert r.p_min == 2 / 16 and r.ci95 is None


def test_trend_adjusted_matches_ols_per_allocation() -> None:
    scheme, observed, y, period, day = weekly_trial(5, 9, effect=0.5)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = randomization_test(
        y,
        period,
        ref,
        scheme,
        active="active",
        placebo="placebo",
        statistic="trend-adjusted",
        day=day,
        alternative="greater",
    )

    def ols(row: np.ndarray) -> float:
        act = (row[period] == scheme.arms.index("active")).astype(float)
        # Reference: statsmodels OLS y ~ 1 + active + day.
        x = sm.add_constant(np.column_stack([act, day]))
        return float(sm.OLS(y, x).fit().params[1])

    stats = np.array([ols(row) for row in ref.matrix])
    assert r.estimate == pytest.approx(stats[0], abs=1e-10)
    assert r.p_value == np.mean(stats >= stats[0] - 1e-9)
    # The linear trend is removed: adding a steep trend changes nothing.
    r2 = randomization_test(
        y + 0.5 * day,
        period,
        ref,
        scheme,
        active="active",
        placebo="placebo",
        statistic="trend-adjusted",
        day=day,
        alternative="greater",
    )
    assert r2.estimate == pytest.approx(r.estimate) and r2.p_value == r.p_value


def test_missing_and_out_of_period_days_are_left_out() -> None:
    scheme, observed, y, period, _ = weekly_trial(6, 4)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    y2 = y.copy()
    y2[[3, 20, 21, 50]] = np.nan
    extra_y = np.concatenate([[100.0, -100.0], y2])  # baseline days, period -1
    extra_p = np.concatenate([[-1, -1], period])
    keep = np.isfinite(y2)
    full = randomization_test(extra_y, extra_p, ref, scheme, active="active", placebo="placebo")
    dropped = randomization_test(
        y2[keep], period[keep], ref, scheme, active="active", placebo="placebo"
    )
    assert full == dropped
    act = np.array([observed[p] == "active" for p in period])
    assert full.estimate == pytest.approx(y2[keep & act].mean() - y2[keep & ~act].mean())


def three_arm_trial() -> tuple[Scheme, list[str], np.ndarray, np.ndarray]:
    scheme = Scheme("blocks", NPA, NPA, n_blocks=5)
    observed = observed_names(scheme, 12)
    period = np.repeat(np.arange(15), 3)
    rng = np.random.default_rng(3)
    # `none` days are far lower (placebo response); active = placebo.
    y = rng.normal(5, 1, period.size) - 4.0 * np.array([observed[p] == "none" for p in period])
    return scheme, observed, y, period


def test_contrast_of_two_of_three_arms_is_conditional_on_the_third() -> None:
    scheme, observed, y, period = three_arm_trial()
    full = assignment_set(scheme, observed, np.random.default_rng(0))
    cond = assignment_set(scheme, observed, np.random.default_rng(0), compare=("active", "placebo"))
    assert full.total == 6**5 and cond.total == 2**5
    a = randomization_test(y, period, full, scheme, active="active", placebo="placebo")
    b = randomization_test(y, period, cond, scheme, active="active", placebo="placebo")
    assert a == b and a.assignments == 32
    # Brute force: swap active/placebo within each block, `none` periods held.
    pairs = [[p for p in range(3 * k, 3 * k + 3) if observed[p] != "none"] for k in range(5)]
    stats = []
    for flips in itertools.product([False, True], repeat=5):
        arm = list(observed)
        for flip, (p, q) in zip(flips, pairs):
            if flip:
                arm[p], arm[q] = arm[q], arm[p]
        act = np.array([arm[p] == "active" for p in period])
        plc = np.array([arm[p] == "placebo" for p in period])
        stats.append(y[act].mean() - y[plc].mean())
    stats_arr = np.array(stats)
    g = np.mean(stats_arr >= stats_arr[0] - 1e-9)
    le = np.mean(stats_arr <= stats_arr[0] + 1e-9)
    assert a.p_value == min(1.0, 2 * min(g, le))
    mc = assignment_set(scheme, observed, np.random.default_rng(0), max_exact=10)
    with pytest.raises(ValueError, match="compare"):
        randomization_test(y, period, mc, scheme, active="active", placebo="placebo")


def test_permutation_p_rule() -> None:
    stats = np.array([2.0, 1.0, 3.0, 2.0, np.nan, 0.5])
    # 5 finite values; >= 2: {2, 3, 2} = 3/5; <= 2: {2, 1, 2, 0.5} = 4/5.
    assert permutation_p(2.0, stats, "greater") == (0.6, 0.6, 0.8)
    assert permutation_p(2.0, stats, "less") == (0.8, 0.6, 0.8)
    assert permutation_p(2.0, stats, "two-sided") == (1.0, 0.6, 0.8)
    assert permutation_p(3.0, stats, "two-sided")[0] == 0.4


def test_bad_inputs() -> None:
    scheme, observed, y, period, _ = weekly_trial(4, 1)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    kw = {"active": "active", "placebo": "placebo"}
    with pytest.raises(DataError, match="period number"):
        randomization_test(y, period + 1, ref, scheme, **kw)
    act = np.array([observed[p] == "active" for p in period])
    with pytest.raises(DataError, match="no ratings on active days"):
        randomization_test(np.where(act, np.nan, y), period, ref, scheme, **kw)
    with pytest.raises(ValueError, match="alternative"):
        randomization_test(y, period, ref, scheme, alternative="bigger", **kw)
    with pytest.raises(ValueError, match="needs day"):
        randomization_test(y, period, ref, scheme, statistic="trend-adjusted", **kw)


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.normal()
    shocks = rng.normal(size=n) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        e[t] = rho * e[t - 1] + shocks[t]
    return e


@pytest.mark.slow
def test_size_and_coverage_under_ar1_errors() -> None:
    # Week-long periods in 10 blocks of (active, placebo): 1024 allocations; AR(1)
    # errors with rho = 0.5.  The randomization test is exact whatever the errors:
    # rejection rate <= alpha + 3 binomial SEs, CI coverage 95 % within 3 SEs.
    scheme = Scheme("blocks", AP, AP, n_blocks=10)
    period = np.repeat(np.arange(20), 7)
    rng = np.random.default_rng(1)
    n_sim, effect = 2500, 0.7
    rejected = covered = 0
    for _ in range(n_sim):
        row = sample_assignments(scheme, rng, 1)[0]
        observed = [scheme.arms[i] for i in row]
        act = np.array([observed[p] == "active" for p in period])
        e = ar1(rng, period.size, 0.5)
        ref = assignment_set(scheme, observed, rng)
        null = randomization_test(e, period, ref, scheme, active="active", placebo="placebo")
        rejected += null.p_value < 0.05
        shifted = randomization_test(
            e + effect * act, period, ref, scheme, active="active", placebo="placebo"
        )
        assert shifted.ci95 is not None
        covered += shifted.ci95[0] <= effect <= shifted.ci95[1]
    se = np.sqrt(0.05 * 0.95 / n_sim)
    assert rejected / n_sim <= 0.05 + 3 * se
    assert abs(covered / n_sim - 0.95) <= 3 * se


def test_a_sparse_outcome_states_the_floor_of_the_periods_holding_a_value() -> None:
    """adv3 F2: a questionnaire scored in 5 of 30 periods (one per block, blocks 3, 7, 10,
    12, 14) can never reach p 0.05, whatever the scores; the stated smallest p is that of
    those 5 periods, not the whole design's 2 / 2^15.  Reference: exact enumeration of the
    2^5 flips of the 5 blocks (the 2 that leave one arm without a score are undefined)."""
    scheme = Scheme("blocks", AP, AP, n_blocks=15)
    observed = observed_names(scheme, 3)
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    blocks = [3, 7, 10, 12, 14]
    # Within each block, score the period that makes the arms alternate (3 active, 2 placebo).
    want = ["active", "placebo", "active", "placebo", "active"]
    periods = [2 * b + (observed[2 * b] != w) for b, w in zip(blocks, want, strict=True)]
    y = np.full(30, np.nan)
    # The most extreme arrangement: every active score above every placebo score.
    y[periods] = [20.0 if w == "active" else 1.0 for w in want]
    r = randomization_test(y, np.arange(30), ref, scheme, active="active", placebo="placebo")
    flips = []
    for signs in itertools.product([False, True], repeat=5):
        arms = [w if not s else ("placebo" if w == "active" else "active") for w, s in zip(want, signs, strict=True)]  # fmt: skip
        act = [v for v, a in zip(y[periods], arms, strict=True) if a == "active"]
        pla = [v for v, a in zip(y[periods], arms, strict=True) if a == "placebo"]
        if act and pla:
            flips.append(sum(act) / len(act) - sum(pla) / len(pla))
    t0 = flips[0]
    exact_p = 2 * min(sum(t >= t0 for t in flips), sum(t <= t0 for t in flips)) / len(flips)
    assert len(flips) == 30 and exact_p == pytest.approx(2 / 30)
    assert r.p_value == pytest.approx(exact_p)
    assert r.p_min == pytest.approx(2 / 30) and r.periods == 5
    # A dense outcome keeps the design's floor.
    dense = randomization_test(
        np.arange(30.0), np.arange(30), ref, scheme, active="active", placebo="placebo"
    )
    assert dense.p_min == 2 / 32768 and dense.periods == 30
