"""The allocation set of a randomization scheme: count, enumerate, sample.

A randomization test compares the observed allocation with the allocations the scheme
could have drawn (docs/design.md#randomization): the same blocks, the same counts, the same
``max_run``.  This module builds that reference set, either completely (exact test) or as a uniform
Monte Carlo sample with the observed allocation first (``p = (c + 1) / (B + 1)``).

Allocations are ``int8`` rows of indices into ``scheme.arms``, one column per period.

A contrast of two arms in a scheme with more arms (``["none", "placebo", "active"]``)
is tested conditionally: the periods of every other arm keep their observed arm and
only the two compared arms are re-shuffled within each block.  Under the sharp null
"these two arms do not differ" the outcomes are then fixed in every allocation of the
set, which the unconditional set does not give when ``none`` differs from ``placebo``.
Conditioning on an event of the design keeps the draw uniform over the subset, so the
test stays exact (Rosenbaum 2002, *Observational Studies*, 2nd ed., sec. 2.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.block_orders import BlockChoices, enumerate_orders, observed_orders
from blindself.analysis.stats.layout import (
    MAX_ENUMERATION,
    _arm_index,
    _conditional_layout,
    _count,
    _enumerate,
    _layout,
)
from blindself.analysis.stats.sampling import _binds, _product, _sample, _sample_columns
from blindself.errors import DataError
from blindself.trial.scheme import Scheme


@dataclass(frozen=True)
class AssignmentSet:
    """The reference set of a randomization test.

    ``matrix`` holds one allocation per row (indices into ``scheme.arms``); row 0 is
    always the observed allocation.  ``exact``: the rows are the whole set (``total``
    rows, each once); otherwise row 0 is followed by ``draws`` uniform draws from a
    set of ``total`` allocations.  ``compare`` names the two arms whose periods were
    re-shuffled when the other arms were held at their observed periods, else None.
    ``blocks``: the same rows as block choices when the set is a product of blocks
    (statistics then take one matrix product per batch, see ``allocation_sums``).
    """

    matrix: np.ndarray
    exact: bool
    total: int
    draws: int | None
    compare: tuple[str, ...] | None = None
    blocks: BlockChoices | None = None


def count_assignments(scheme: Scheme) -> int:
    """Number of distinct allocations the scheme can draw, ``max_run`` respected.

    Exact integer arithmetic: a product of multinomial coefficients without ``max_run``,
    otherwise a dynamic programme over periods (state: arms left in the block, last
    arm, current run length).

    Examples
    --------
    >>> count_assignments(Scheme("blocks", ("a", "p"), ("a", "p"), n_blocks=10))
    1024
    >>> count_assignments(Scheme("blocks", ("a", "p"), ("a", "p"), n_blocks=10, max_run=1))
    2
    """
    return _count(_layout(scheme))


def enumerate_assignments(scheme: Scheme) -> np.ndarray:
    """All distinct allocations of the scheme, one ``int8`` row each.

    A block with a repeated arm (``["placebo", "active", "active"]``) yields each
    distinct order once.  Raises ``ValueError`` above ``MAX_ENUMERATION`` rows.
    """
    layout = _layout(scheme)
    if _count(layout) > MAX_ENUMERATION:
        raise ValueError("too many allocations to enumerate; sample them instead")
    return _enumerate(layout)


def sample_assignments(scheme: Scheme, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` allocations drawn independently and uniformly from the scheme's set.

    Each block's arms are put in the order of i.i.d. uniform keys; ``max_run`` is
    enforced by rejecting whole rows, which keeps the draw uniform over the
    constrained set.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    return _sample_columns(_layout(scheme), rng, n).T


def assignment_set(
    scheme: Scheme,
    observed: Sequence[str],
    rng: np.random.Generator,
    *,
    max_exact: int = 2**20,
    draws: int = 9999,
    compare: tuple[str, ...] | None = None,
) -> AssignmentSet:
    """The reference set for a randomization test of the observed allocation.

    Parameters
    ----------
    scheme : Scheme
        The randomization scheme the allocation was drawn from.
    observed : sequence of str
        The arm of each period, as drawn.
    rng : numpy.random.Generator
        Used only for Monte Carlo sets.
    max_exact : int
        Enumerate the whole set when it has at most this many allocations.
    draws : int
        Monte Carlo draws ``B`` otherwise (the observed allocation is added as row 0).
    compare : (str, str), optional
        Hold the periods of every other arm at their observed arm and re-shuffle only
        these two arms (the conditional test of a pairwise contrast).

    Returns
    -------
    AssignmentSet
        Row 0 is the observed allocation.
    """
    index = _arm_index(scheme)
    obs_names = tuple(observed)
    unknown = sorted({a for a in obs_names if a not in index})
    if unknown:
        raise DataError(
            f"arm {unknown[0]!r} is not in the randomization scheme; check the arm column"
        )
    if not scheme.satisfies(obs_names):
        raise DataError(
            "the arms by period do not fit the randomization scheme (blocks, counts or "
            "max_run); check the period and arm columns"
        )
    if draws < 1 or max_exact < 1:
        raise ValueError("draws and max_exact must be positive")
    obs = np.fromiter((index[a] for a in obs_names), dtype=np.int8, count=len(obs_names))
    if compare is None:
        layout = _layout(scheme)
    else:
        missing = [a for a in compare if a not in index]
        if missing or compare[0] == compare[1]:
            raise ValueError(f"compare must name two different arms of the scheme: {compare}")
        layout = _conditional_layout(scheme, obs, {index[a] for a in compare})
    total = _count(layout)
    product = len({seg.free for seg in layout.segments}) == 1 and not _binds(layout)
    if total <= min(max_exact, MAX_ENUMERATION):
        prod = _product(layout) if product else None
        if prod is not None and prod.table is not None:
            matrix, blocks = enumerate_orders(prod.template, prod.free_pos, prod.table, obs)
            return AssignmentSet(matrix, True, total, None, compare, blocks)
        matrix = _enumerate(layout)
        pos = int(np.flatnonzero((matrix == obs).all(axis=1))[0])
        matrix[[0, pos]] = matrix[[pos, 0]]
        return AssignmentSet(matrix, True, total, None, compare)
    cols = np.empty((obs.size, draws + 1), dtype=np.int8)
    cols[:, 0] = obs
    pick = _sample(layout, rng, draws, cols[:, 1:])[1]
    choices = None
    prod = _product(layout)
    if pick is not None and prod.table is not None:
        first = observed_orders(prod.free_pos, prod.table, obs).astype(pick.dtype)
        choice = np.concatenate([first[:, None], pick], axis=1)
        choices = BlockChoices(prod.template, prod.free_pos, prod.table, choice)
    return AssignmentSet(cols.T, False, total, draws, compare, choices)
