"""Allocation sets: counts, enumeration and sampling against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import chisquare

from blindself.analysis.stats.assignments import (
    assignment_set,
    count_assignments,
    enumerate_assignments,
    sample_assignments,
)
from blindself.errors import DataError, ProtocolError
from blindself.trial.scheme import Scheme

AP = ("active", "placebo")
NPA = ("none", "placebo", "active")

SMALL = [
    Scheme("blocks", AP, AP, n_blocks=4),
    Scheme("blocks", AP, AP, n_blocks=5, max_run=1),
    Scheme("blocks", AP, ("placebo", "active", "active"), n_blocks=3),
    Scheme("blocks", AP, ("placebo", "active", "active"), n_blocks=3, max_run=2),
    Scheme("blocks", AP, ("active", "active", "placebo", "placebo"), n_blocks=2, max_run=2),
    Scheme("blocks", NPA, NPA, n_blocks=3, max_run=2),
    Scheme("blocks", NPA, ("none", "placebo", "placebo", "active"), n_blocks=2),
    Scheme("complete", AP, counts=(("active", 4), ("placebo", 5))),
    Scheme("complete", AP, counts=(("active", 4), ("placebo", 5)), max_run=2),
    Scheme("complete", NPA, counts=(("none", 2), ("placebo", 3), ("active", 3)), max_run=1),
]


def brute_force(scheme: Scheme) -> set[tuple[str, ...]]:
    """Every arm sequence the scheme accepts (reference: ``Scheme.satisfies``)."""
    return {
        seq
        for seq in itertools.product(scheme.arms, repeat=scheme.n_periods)
        if scheme.satisfies(seq)
    }


def names(scheme: Scheme, rows: np.ndarray) -> list[tuple[str, ...]]:
    return [tuple(scheme.arms[i] for i in row) for row in rows]


@pytest.mark.parametrize("scheme", SMALL)
def test_enumeration_and_count_equal_brute_force(scheme: Scheme) -> None:
    reference = brute_force(scheme)
    rows = enumerate_assignments(scheme)
    assert rows.dtype == np.int8
    assert rows.shape == (len(reference), scheme.n_periods)
    assert len(set(names(scheme, rows))) == rows.shape[0]  # each allocation once
    assert set(names(scheme, rows)) == reference
    assert count_assignments(scheme) == len(reference)


def test_counts_in_closed_form() -> None:
    # Without max_run: product of multinomial coefficients.
    assert count_assignments(Scheme("blocks", AP, AP, n_blocks=52)) == 2**52
    assert count_assignments(Scheme("blocks", NPA, NPA, n_blocks=10)) == 6**10
    block = ("placebo", "active", "active")
    assert count_assignments(Scheme("blocks", AP, block, n_blocks=20)) == 3**20
    complete = Scheme("complete", AP, counts=(("active", 10), ("placebo", 10)))
    assert count_assignments(complete) == math.comb(20, 10)
    # AB/BA pairs never make a run longer than 2; max_run = 1 leaves the two alternations.
    assert count_assignments(Scheme("blocks", AP, AP, n_blocks=52, max_run=2)) == 2**52
    assert count_assignments(Scheme("blocks", AP, AP, n_blocks=52, max_run=1)) == 2
    # Complete with max_run = 1 and equal counts: only the two alternations.
    alt = Scheme("complete", AP, counts=(("active", 6), ("placebo", 6)), max_run=1)
    assert count_assignments(alt) == 2


def test_count_with_max_run_matches_a_transfer_matrix() -> None:
    # Independent reference: blocks of (a, a, p, p) with max_run 2, counted by a
    # transfer matrix over the six block orders (state: the block's order).
    orders = sorted(set(itertools.permutations("aapp")))

    def longest(s: str) -> int:
        return max(len(list(g)) for _, g in itertools.groupby(s))

    ok = [o for o in orders if longest("".join(o)) <= 2]
    trans = np.array([[longest("".join(x + y)) <= 2 for y in ok] for x in ok], dtype=object).astype(
        int
    )
    vec = np.ones(len(ok), dtype=object)
    for _ in range(11):
        vec = trans.astype(object).dot(vec)
    expected = int(vec.sum())
    block = ("active", "active", "placebo", "placebo")
    assert count_assignments(Scheme("blocks", AP, block, n_blocks=12, max_run=2)) == expected


def test_enumeration_refuses_huge_sets() -> None:
    with pytest.raises(ValueError, match="too many"):
        enumerate_assignments(Scheme("blocks", AP, AP, n_blocks=40))


@pytest.mark.parametrize(
    "scheme",
    [
        Scheme("blocks", AP, ("placebo", "active", "active"), n_blocks=3, max_run=2),
        Scheme("complete", AP, counts=(("active", 4), ("placebo", 5)), max_run=2),
        Scheme("blocks", NPA, NPA, n_blocks=2, max_run=1),
    ],
)
def test_sampling_is_uniform_over_the_constrained_set(scheme: Scheme) -> None:
    support = sorted(brute_force(scheme))
    position = {a: i for i, a in enumerate(support)}
    draws = sample_assignments(scheme, np.random.default_rng(20240601), 200 * len(support))
    counts = np.zeros(len(support))
    for row in names(scheme, draws):
        counts[position[row]] += 1  # KeyError if a draw is outside the set
    # Chi-square goodness of fit against the uniform distribution on the enumerated set.
    assert chisquare(counts).pvalue > 1e-3


def test_sampling_respects_max_run_on_a_large_scheme() -> None:
    block = ("active", "active", "placebo", "placebo")
    scheme = Scheme("blocks", AP, block, n_blocks=30, max_run=2)
    draws = sample_assignments(scheme, np.random.default_rng(1), 3000)
    assert draws.shape == (3000, 120)
    assert all(scheme.satisfies(row) for row in names(scheme, draws))
    assert len({row.tobytes() for row in draws}) == 3000  # 6e20 allocations: no repeats


def test_sampling_refuses_an_impossible_max_run() -> None:
    scheme = Scheme("complete", AP, counts=(("active", 5), ("placebo", 1)), max_run=2)
    assert count_assignments(scheme) == 0
    with pytest.raises(ProtocolError, match="max_run"):
        sample_assignments(scheme, np.random.default_rng(0), 10)


def test_exact_set_puts_the_observed_allocation_first() -> None:
    scheme = Scheme("blocks", AP, AP, n_blocks=6)
    observed = ["placebo", "active"] * 6
    ref = assignment_set(scheme, observed, np.random.default_rng(0))
    assert ref.exact and ref.total == 64 and ref.draws is None
    assert names(scheme, ref.matrix[:1]) == [tuple(observed)]
    assert len({r.tobytes() for r in ref.matrix}) == 64


def test_monte_carlo_set_above_max_exact() -> None:
    scheme = Scheme("blocks", AP, AP, n_blocks=25)
    observed = ["active", "placebo"] * 25
    ref = assignment_set(scheme, observed, np.random.default_rng(0), draws=999)
    assert not ref.exact and ref.total == 2**25 and ref.draws == 999
    assert ref.matrix.shape == (1000, 50)
    assert names(scheme, ref.matrix[:1]) == [tuple(observed)]
    small = assignment_set(
        Scheme("blocks", AP, AP, n_blocks=12),
        observed[:24],
        np.random.default_rng(0),
        max_exact=2**12,
    )
    assert small.exact and small.matrix.shape == (4096, 24)


def test_conditional_set_holds_other_arms_fixed() -> None:
    scheme = Scheme("blocks", NPA, NPA, n_blocks=3, max_run=2)
    observed = ("none", "placebo", "active", "active", "none", "placebo")
    observed += ("placebo", "none", "active")
    assert scheme.satisfies(observed)
    # Reference: brute-force set, filtered to the allocations that agree on `none`.
    keep = [i for i, a in enumerate(observed) if a == "none"]
    expected = {s for s in brute_force(scheme) if all(s[i] == "none" for i in keep)}
    ref = assignment_set(scheme, observed, np.random.default_rng(0), compare=("active", "placebo"))
    assert ref.exact and ref.compare == ("active", "placebo")
    assert ref.total == len(expected)
    assert set(names(scheme, ref.matrix)) == expected
    mc = assignment_set(
        scheme,
        observed,
        np.random.default_rng(0),
        max_exact=1,
        draws=500,
        compare=("active", "placebo"),
    )
    assert not mc.exact and mc.total == len(expected)
    assert set(names(scheme, mc.matrix)) <= expected


def test_observed_allocation_is_checked() -> None:
    scheme = Scheme("blocks", AP, AP, n_blocks=2)
    with pytest.raises(DataError, match="do not fit"):
        assignment_set(scheme, ["active"] * 4, np.random.default_rng(0))
    with pytest.raises(DataError, match="not in the randomization scheme"):
        assignment_set(scheme, ["active", "sham", "active", "placebo"], np.random.default_rng(0))
