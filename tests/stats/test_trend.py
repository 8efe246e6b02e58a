"""The ordered dose-trend randomization test against brute-force enumeration."""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np
import pytest

from blindself.analysis.stats.assignments import assignment_set
from blindself.analysis.stats.trend import dose_scores, trend_test
from blindself.errors import DataError
from blindself.trial.scheme import Scheme


def brute_force(
    y: np.ndarray,
    period: np.ndarray,
    block: tuple[str, ...],
    observed: list[str],
    scores: dict[str, float],
) -> tuple[float, float, float, int]:
    """Reference: every distinct order of every block (itertools), the slope of the arm means
    on the scores computed with plain Python lists, periods of unscored arms held fixed."""
    size = len(block)
    n_blocks = len(observed) // size
    orders = sorted(set(itertools.permutations(block)))
    s_bar = sum(scores.values()) / len(scores)
    sxx = sum((s - s_bar) ** 2 for s in scores.values())

    def slope(alloc: list[str]) -> float | None:
        total = 0.0
        for arm, s in scores.items():
            vals = [
                float(v)
                for v, p in zip(y, period, strict=True)
                if p >= 0 and alloc[p] == arm and v == v
            ]
            if not vals:
                return None
            total += (s - s_bar) * sum(vals) / len(vals)
        return total / sxx

    stats = []
    for combo in itertools.product(orders, repeat=n_blocks):
        alloc = [a for o in combo for a in o]
        if any(
            (alloc[i] not in scores or observed[i] not in scores) and alloc[i] != observed[i]
            for i in range(len(alloc))
        ):
            continue
        t = slope(alloc)
        if t is not None:
            stats.append(t)
    t_obs = slope(observed)
    assert t_obs is not None
    greater = sum(t >= t_obs - 1e-9 for t in stats) / len(stats)
    less = sum(t <= t_obs + 1e-9 for t in stats) / len(stats)
    return t_obs, greater, less, len(stats)


def test_three_arm_blocks_match_enumeration() -> None:
    rng = np.random.default_rng(11)
    block = ("placebo", "low", "high")
    s = Scheme("blocks", block, block, n_blocks=4)
    observed = [a for _ in range(4) for a in rng.permutation(block)]
    # two days per period, one rating missing
    period = np.repeat(np.arange(12), 2)
    effect = {"placebo": 0.0, "low": 0.4, "high": 0.9}
    y = np.array([effect[observed[p]] for p in period]) + rng.normal(size=24)
    y[5] = np.nan
    scores = {"placebo": 0.0, "low": 0.05, "high": 0.1}
    ref = assignment_set(s, observed, rng)
    t_obs, greater, less, n = brute_force(y, period, block, observed, scores)
    r = trend_test(y, period, ref, s, scores, alternative="two-sided")
    assert n == 6**4 == r.assignments
    assert r.exact
    assert r.estimate == pytest.approx(t_obs, rel=1e-12)
    assert r.p_greater == pytest.approx(greater, abs=1e-15)
    assert r.p_less == pytest.approx(less, abs=1e-15)
    assert r.p_value == pytest.approx(min(1.0, 2 * min(greater, less)), abs=1e-15)
    g = trend_test(y, period, ref, s, scores, alternative="greater")
    assert g.p_value == pytest.approx(greater, abs=1e-15)
    assert g.p_min == pytest.approx(1 / 6**4)
    assert r.n_days == {
        a: sum(1 for p, v in zip(period, y, strict=True) if observed[p] == a and v == v)
        for a in scores
    }


def test_none_arm_held_at_its_periods() -> None:
    rng = np.random.default_rng(5)
    block = ("none", "placebo", "low", "high")
    s = Scheme("blocks", block, block, n_blocks=3)
    observed = [a for _ in range(3) for a in rng.permutation(block)]
    period = np.arange(12)
    # a large none effect must not leak into the trend's reference distribution
    y = np.array([-5.0 if a == "none" else 0.0 for a in observed]) + rng.normal(size=12)
    scores = {"placebo": 0.0, "low": 1.0, "high": 2.0}
    t_obs, greater, less, n = brute_force(y, period, block, observed, scores)
    exact = trend_test(y, period, assignment_set(s, observed, rng), s, scores)
    assert n == 6**3 == exact.assignments
    assert exact.estimate == pytest.approx(t_obs, rel=1e-12)
    assert exact.p_greater == pytest.approx(greater, abs=1e-15)
    assert exact.p_less == pytest.approx(less, abs=1e-15)
    # a Monte Carlo set must be conditional on the none periods ...
    mc_full = assignment_set(s, observed, rng, max_exact=10, draws=999)
    with pytest.raises(ValueError, match="compare"):
        trend_test(y, period, mc_full, s, scores)
    # ... and then agrees with enumeration within Monte Carlo error (SE of p about 0.007)
    arms = cast("tuple[str, str]", tuple(scores))
    mc = assignment_set(s, observed, rng, max_exact=10, draws=4999, compare=arms)
    r = trend_test(y, period, mc, s, scores)
    assert not r.exact and r.draws == 4999
    assert r.p_greater == pytest.approx(greater, abs=4 * np.sqrt(0.25 / 4999) + 1e-3)


def test_monte_carlo_p_counts_the_observed_allocation() -> None:
    # 30 blocks: 6**30 allocations, so Monte Carlo; a huge trend is matched by no draw,
    # so p_greater = (0 + 1) / (B + 1)  (Phipson and Smyth 2010)
    block = ("placebo", "low", "high")
    s = Scheme("blocks", block, block, n_blocks=30)
    observed = list(block) * 30
    y = np.array([{"placebo": 0.0, "low": 10.0, "high": 20.0}[a] for a in observed])
    y += np.random.default_rng(1).normal(scale=0.1, size=90)
    ref = assignment_set(s, observed, np.random.default_rng(2), draws=999)
    r = trend_test(
        y, np.arange(90), ref, s, {"placebo": 0, "low": 1, "high": 2}, alternative="greater"
    )
    assert r.p_value == pytest.approx(1 / 1000)
    assert r.estimate == pytest.approx(10.0, abs=0.1)


def test_dose_scores() -> None:
    assert dose_scores({"a": 2.0, "b": 1.0}, "p", ["a", "b"]) == (
        {"p": 0.0, "a": 2.0, "b": 1.0},
        "dose",
    )
    # equal or zero doses cannot order the arms: equally spaced in protocol order
    assert dose_scores({"a": 1.0, "b": 1.0}, "p", ["a", "b"])[1] == "equally spaced"
    assert dose_scores({"a": 0.0, "b": 1.0}, "p", ["a", "b"])[1] == "equally spaced"


def test_refuses_bad_input() -> None:
    block = ("placebo", "low", "high")
    s = Scheme("blocks", block, block, n_blocks=2)
    ref = assignment_set(s, list(block) * 2, np.random.default_rng(0))
    y = np.arange(6, dtype=float)
    with pytest.raises(ValueError, match="different scores"):
        trend_test(y, np.arange(6), ref, s, {"placebo": 1.0, "low": 1.0})
    with pytest.raises(ValueError, match="not in the scheme"):
        trend_test(y, np.arange(6), ref, s, {"placebo": 0.0, "mid": 1.0})
    y[[1, 4]] = np.nan  # every "low" day missing
    with pytest.raises(DataError, match="low"):
        trend_test(y, np.arange(6), ref, s, {"placebo": 0.0, "low": 1.0, "high": 2.0})
