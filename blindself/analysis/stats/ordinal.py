"""Cliff's delta for ordinal ratings, with a randomization p under the trial's scheme.

Cliff's delta is ``P(X > Y) - P(X < Y)`` for a rating X on an ``active`` day and Y on
a ``placebo`` day (Cliff 1993, *Psychological Bulletin* 114:494-509, eq. 1).  It is
computed from mid-ranks of the pooled ratings (the Mann-Whitney U with ties counted
one half): ``delta = 2 U / (n_x n_y) - 1``.  For a fixed set of days the rank sum of
the active days is linear in the allocation, so the statistic is vectorized over the
whole reference set like the mean difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.assignments import AssignmentSet
from blindself.analysis.stats.randomization import contrast_data, permutation_p, sums_by_allocation
from blindself.trial.scheme import Scheme

# Deltas of different allocations closer than this are ties (delta lies in [-1, 1]).
_TIE = 1e-9


@dataclass(frozen=True)
class CliffsResult:
    """Cliff's delta of ``active`` over ``placebo``, its randomization p and the counts.

    ``levels`` maps each rating level (as text) to the number of days per arm in the
    observed allocation.
    """

    delta: float
    p_randomization: float
    levels: dict[str, dict[str, int]]


def mid_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties sharing the mean of their ranks.

    ``scipy.stats.rankdata(values)`` (method ``average``), without importing
    ``scipy.stats``: a value's rank is the count below it plus the mean of
    ``1..count`` of its ties.

    Examples
    --------
    >>> mid_ranks(np.array([3.0, 1.0, 3.0, 2.0]))
    array([3.5, 1. , 3.5, 2. ])
    """
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    ranks: np.ndarray = (below + (counts + 1) / 2.0)[inverse.ravel()]
    return ranks


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """Cliff's delta ``P(X > Y) - P(X < Y)`` from mid-ranks of the pooled sample.

    Examples
    --------
    >>> cliffs_delta(np.array([3, 4, 5]), np.array([1, 3, 3]))
    0.7777777777777777
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.size == 0 or ya.size == 0:
        raise ValueError("both samples must be non-empty")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("samples must be finite")
    ranks = mid_ranks(np.concatenate([xa, ya]))
    u = float(ranks[: xa.size].sum()) - xa.size * (xa.size + 1) / 2
    return 2.0 * u / (xa.size * ya.size) - 1.0


def _level_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def cliffs_delta_test(
    y: np.ndarray,
    period: np.ndarray,
    assignments: AssignmentSet,
    scheme: Scheme,
    *,
    active: str,
    placebo: str,
    alternative: str = "two-sided",
) -> CliffsResult:
    """Cliff's delta of ``active`` over ``placebo`` days and its randomization p.

    Days, periods and the reference set are handled as in ``randomization_test``
    (NaN ratings and period -1 left out; other arms held at their observed periods).
    ``alternative='greater'``: active days rate higher.
    """
    data = contrast_data(y, period, assignments, scheme, active=active, placebo=placebo)
    n = data.y.size
    ranks = mid_ranks(data.y)
    values = np.column_stack(
        [
            np.bincount(data.period, weights=ranks, minlength=data.n_periods),
            np.bincount(data.period, minlength=data.n_periods).astype(np.float64),
        ]
    )
    sums = sums_by_allocation(data.rows, data.active, values, data.blocks)
    n_a = sums[:, 1]
    n_p = n - n_a
    with np.errstate(divide="ignore", invalid="ignore"):
        deltas = 2.0 * (sums[:, 0] - n_a * (n_a + 1) / 2) / (n_a * n_p) - 1.0
    deltas[(n_a == 0) | (n_p == 0)] = np.nan
    p, _, _ = permutation_p(float(deltas[0]), deltas, alternative, tol=_TIE)
    levels: dict[str, dict[str, int]] = {}
    for value in np.unique(data.y):
        at = data.y == value
        levels[_level_name(value)] = {
            active: int(np.count_nonzero(at & data.observed_active)),
            placebo: int(np.count_nonzero(at & ~data.observed_active)),
        }
    return CliffsResult(delta=float(deltas[0]), p_randomization=p, levels=levels)
