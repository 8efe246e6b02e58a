"""The fast kernels give the numbers of the plain computations they replace.

- ``uniform_indices`` reads PCG64's raw outputs in bulk; it must return what
  ``Generator.integers`` returns and leave the generator in the same state, so a seed
  gives the same Monte Carlo set (and p-values) as before the bulk read.
- ``sums_by_allocation`` with block choices (one matrix product over blocks, or block-wise
  partial sums for an exact product set) must equal the period-by-period product on the
  allocation matrix.
- ``invert`` counts breaks by cumulative sums; it must equal the search per candidate.
"""

from __future__ import annotations

import numpy as np
import pytest

from blindself.analysis.stats import assignments as assignments_module
from blindself.analysis.stats.assignments import (
    assignment_set,
    enumerate_assignments,
    sample_assignments,
)
from blindself.analysis.stats.block_orders import uniform_indices
from blindself.analysis.stats.inversion import invert, invert_by_search
from blindself.analysis.stats.randomization import sums_by_allocation
from blindself.trial.scheme import Scheme

AB = ("active", "placebo")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8, 16, 256, 1000])
@pytest.mark.parametrize("before", [0, 1, 2, 5])
@pytest.mark.parametrize("shape", [(0,), (1,), (2,), (3,), (5, 7), (3, 2**16 + 3)])
def test_uniform_indices_is_generator_integers(n: int, before: int, shape: tuple[int, ...]) -> None:
    # ``before`` draws leave a buffered half word (odd) or none (even); the largest shape
    # spans several raw chunks and ends on a half word.
    ours, theirs = np.random.default_rng(20260301), np.random.default_rng(20260301)
    ours.integers(0, 2, size=before)
    theirs.integers(0, 2, size=before)
    got = uniform_indices(ours, n, shape)
    want = theirs.integers(0, n, size=shape)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.random() == theirs.random()


def test_uniform_indices_on_another_bit_generator_calls_integers() -> None:
    ours = np.random.Generator(np.random.MT19937(7))
    theirs = np.random.Generator(np.random.MT19937(7))
    np.testing.assert_array_equal(
        uniform_indices(ours, 2, (4, 9)), theirs.integers(0, 2, size=(4, 9))
    )
    assert ours.random() == theirs.random()


def _reference_draws(scheme: Scheme, rng: np.random.Generator, n: int) -> np.ndarray:
    """The Monte Carlo draw as written before the bulk read: ``integers`` indices into the
    block's table of orders, one per block and draw (block-major)."""
    table = enumerate_assignments(Scheme("blocks", scheme.arms, scheme.block, n_blocks=1))
    pick = rng.integers(0, table.shape[0], size=(scheme.n_blocks, n))
    width = len(scheme.block)
    out = np.empty((n, scheme.n_periods), dtype=np.int8)
    for j in range(width):
        out[:, j::width] = table[:, j][pick].T
    return out


@pytest.mark.parametrize(
    "scheme",
    [
        Scheme("blocks", AB, AB, n_blocks=40),
        Scheme("blocks", AB, ("placebo", "active", "active"), n_blocks=20),
        Scheme("blocks", ("a", "b", "c", "d"), ("a", "b", "c", "d"), n_blocks=10),
    ],
    ids=["AB", "PAA", "ABCD"],
)
def test_monte_carlo_set_is_the_generator_stream(scheme: Scheme) -> None:
    observed = [scheme.arms[i] for i in sample_assignments(scheme, np.random.default_rng(1), 1)[0]]
    ref = assignment_set(scheme, observed, np.random.default_rng(5), max_exact=1, draws=999)
    want = _reference_draws(scheme, np.random.default_rng(5), 999)
    np.testing.assert_array_equal(ref.matrix[1:], want)
    np.testing.assert_array_equal(sample_assignments(scheme, np.random.default_rng(5), 999), want)


def _sums_agree(ref: assignments_module.AssignmentSet, values: np.ndarray) -> None:
    assert ref.blocks is not None
    for code in range(int(ref.matrix.max()) + 1):
        fast = sums_by_allocation(ref.matrix, code, values, ref.blocks)
        plain = sums_by_allocation(ref.matrix, code, values)
        np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("max_exact", [2**20, 1], ids=["exact", "monte-carlo"])
@pytest.mark.parametrize(
    ("scheme", "compare"),
    [
        (Scheme("blocks", AB, AB, n_blocks=9), None),
        (Scheme("blocks", AB, ("placebo", "active", "active"), n_blocks=6), None),
        (Scheme("blocks", ("n", "p", "a"), ("n", "p", "a"), n_blocks=7), ("p", "a")),
        (Scheme("complete", AB, counts=(("active", 5), ("placebo", 4))), None),
        (Scheme("blocks", AB, AB, n_blocks=9, max_run=2), None),  # max_run never binds
    ],
    ids=["AB", "PAA", "NPA-conditional", "complete", "AB-max-run-2"],
)
def test_block_sums_equal_the_matrix_product(
    scheme: Scheme, compare: tuple[str, str] | None, max_exact: int
) -> None:
    rng = np.random.default_rng(11)
    observed = [scheme.arms[i] for i in sample_assignments(scheme, rng, 1)[0]]
    ref = assignment_set(scheme, observed, rng, max_exact=max_exact, draws=499, compare=compare)
    assert ref.exact == (max_exact > 1)
    assert (ref.matrix[0] == [scheme.arms.index(a) for a in observed]).all()
    if ref.exact:
        plain = enumerate_assignments(scheme) if compare is None else None
        if plain is not None:
            assert {r.tobytes() for r in ref.matrix} == {r.tobytes() for r in plain}
            assert ref.matrix.shape == plain.shape
    values = rng.normal(size=(scheme.n_periods, 3))
    _sums_agree(ref, values)


def test_binding_max_run_keeps_the_plain_product() -> None:
    scheme = Scheme("blocks", AB, AB, n_blocks=9, max_run=1)
    ref = assignment_set(scheme, list(AB) * 9, np.random.default_rng(0))
    assert ref.blocks is None


def test_inversion_by_cumulative_counts_equals_the_search() -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(1, 80))
        # Rounded values make tied breaks and zero slopes, the cases counting must get right.
        u = np.round(rng.normal(size=n) * rng.choice([1.0, 4.0, 100.0]), int(rng.integers(0, 3)))
        v = np.round(rng.normal(size=n) * 2, int(rng.integers(0, 2)))
        u[: int(rng.integers(0, 3))] = 0.0
        nonzero = v != 0
        brk = np.sort(-u[nonzero] / v[nonzero])
        for alpha in (0.05, 0.2, 0.5):
            got = invert(u.copy(), v.copy(), alpha)
            if brk.size == 0:
                assert got is None
                continue
            # The search on the same merged breaks (what the inversion did per candidate).
            scale = 1e-9 * float(np.max(np.abs(brk)))
            starts = np.concatenate([[True], np.diff(brk) > scale])
            points = brk[starts]
            merged = points[np.cumsum(starts) - 1]
            order = np.argsort(-u[nonzero] / v[nonzero], kind="stable")
            up = (v[nonzero] > 0)[order]
            g0 = int(np.count_nonzero(~nonzero & (u >= 0)))
            l0 = int(np.count_nonzero(~nonzero & (u <= 0)))
            want = invert_by_search(points, merged[up], merged[~up], g0, l0, n, alpha)
            assert got == want
