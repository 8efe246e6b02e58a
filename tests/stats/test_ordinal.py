"""Cliff's delta and its randomization p against direct pairwise counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from blindself.analysis.stats.assignments import assignment_set, sample_assignments
from blindself.analysis.stats.ordinal import cliffs_delta, cliffs_delta_test
from blindself.analysis.stats.randomization import permutation_p
from blindself.trial.scheme import Scheme

AP = ("active", "placebo")


def pairwise_delta(x: np.ndarray, y: np.ndarray) -> float:
    """Cliff (1993) eq. 1 by its definition: #(x > y) - #(x < y) over all pairs."""
    greater = sum(int(a > b) for a in x for b in y)
    less = sum(int(a < b) for a in x for b in y)
    return (greater - less) / (len(x) * len(y))


def test_cliffs_delta_equals_the_pairwise_count() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        x = rng.integers(0, 6, rng.integers(1, 15))  # 0..5 ratings: many ties
        y = rng.integers(0, 6, rng.integers(1, 15))
        assert cliffs_delta(x, y) == pytest.approx(pairwise_delta(x, y), abs=1e-12)
    assert cliffs_delta(np.array([5, 6]), np.array([1, 2])) == 1.0
    assert cliffs_delta(np.array([3, 3]), np.array([3])) == 0.0
    with pytest.raises(ValueError):
        cliffs_delta(np.array([]), np.array([1.0]))


def test_cliffs_delta_test_exact_p_matches_brute_force() -> None:
    scheme = Scheme("blocks", AP, AP, n_blocks=6)
    row = sample_assignments(scheme, np.random.default_rng(4), 1)[0]
    observed = [scheme.arms[i] for i in row]
    period = np.repeat(np.arange(12), 3)
    rng = np.random.default_rng(5)
    act = np.array([observed[p] == "active" for p in period])
    y = np.clip(np.round(rng.normal(3, 1.2, period.size) + 0.8 * act), 0, 6)
    y[[4, 17]] = np.nan
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    r = cliffs_delta_test(
        y, period, ref, scheme, active="active", placebo="placebo", alternative="greater"
    )
    ok = np.isfinite(y)
    assert r.delta == pytest.approx(pairwise_delta(y[ok & act], y[ok & ~act]), abs=1e-12)
    # Brute force: every AB/BA order of the 6 blocks, delta by direct pair counts.
    deltas = []
    for flips in itertools.product([False, True], repeat=6):
        on = np.array([(observed[p] == "active") != flips[p // 2] for p in period])
        deltas.append(pairwise_delta(y[ok & on], y[ok & ~on]))
    d = np.array(deltas)
    expected = np.mean(d >= r.delta - 1e-9)
    assert r.p_randomization == pytest.approx(expected, abs=1e-12)
    two = cliffs_delta_test(y, period, ref, scheme, active="active", placebo="placebo")
    assert two.p_randomization == permutation_p(r.delta, d, "two-sided", tol=1e-9)[0]
    # Level table: rating -> arm -> days, for the observed allocation.
    for level, by_arm in r.levels.items():
        v = float(level)
        assert by_arm == {
            "active": int(np.sum(ok & act & (y == v))),
            "placebo": int(np.sum(ok & ~act & (y == v))),
        }
    assert sum(sum(c.values()) for c in r.levels.values()) == int(ok.sum())
    assert list(r.levels) == sorted(r.levels, key=float)
