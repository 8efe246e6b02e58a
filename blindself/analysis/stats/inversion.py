"""Confidence interval for an additive effect by inverting a randomization test.

Under the hypothesis "the effect is ``delta``" both statistics of ``randomization.py`` move
linearly, ``T_a - T_obs = u + delta v`` per allocation ``a``, so the p-value is a step
function of ``delta`` that changes only where some ``u + delta v`` crosses 0 (Rosenbaum
2002, *Observational Studies*, sec. 2.6).  The interval is the hull of the ``delta`` whose
two-sided p is at least ``alpha``.
"""

from __future__ import annotations

import numpy as np

# Statistics closer than this (relative to the data's magnitude) count as ties; float
# rounding in the period sums is many orders of magnitude smaller.
TIE_TOLERANCE = 1e-9


def invert(u: np.ndarray, v: np.ndarray, alpha: float) -> tuple[float, float] | None:
    """Hull of ``{delta : two-sided p(delta) >= alpha}`` with ``T_a - T_obs = u + delta v``.

    Both counts are step functions of delta that change only where ``u + delta v = 0``;
    they are evaluated at every such break, between breaks and beyond them.  One sort of
    the breaks gives every count by cumulative sums (no search per candidate).
    """
    n = u.size
    zero = v == 0
    g0 = int(np.count_nonzero(zero & (u >= 0)))
    l0 = int(np.count_nonzero(zero & (u <= 0)))
    idx = np.flatnonzero(~zero)
    if idx.size == 0:
        return None
    brk = -u[idx] / v[idx]
    order = np.argsort(brk)
    vals = brk[order]
    # Merge breaks that differ only by rounding, so tied allocations switch together.
    scale = TIE_TOLERANCE * float(np.max(np.abs(vals)))
    starts = np.concatenate([[True], np.diff(vals) > scale])
    points = vals[starts]
    group = np.cumsum(starts) - 1
    up = v[idx][order] > 0
    mids = (points[:-1] + points[1:]) / 2
    if not np.all((mids > points[:-1]) & (mids < points[1:])):
        return invert_by_search(points, points[group[up]], points[group[~up]], g0, l0, n, alpha)
    cand = np.empty(2 * points.size + 1)
    cand[0] = points[0] - (1.0 + abs(points[0]))
    cand[1::2] = points
    cand[2:-1:2] = mids
    cand[-1] = points[-1] + (1.0 + abs(points[-1]))
    # Breaks at or below / strictly below each candidate, for v > 0 and v < 0.
    pos_at = np.bincount(group[up], minlength=points.size)
    neg_at = np.bincount(group[~up], minlength=points.size)
    pos_le, pos_lt = _at_or_below(pos_at), _below(pos_at)
    neg_le, neg_lt = _at_or_below(neg_at), _below(neg_at)
    n_pos, n_neg = int(pos_at.sum()), int(neg_at.sum())
    greater = g0 + pos_le + (n_neg - neg_lt)
    less = l0 + (n_pos - pos_lt) + neg_le
    return _hull(points, cand, greater, less, n, alpha)


def _at_or_below(at: np.ndarray) -> np.ndarray:
    """Per candidate (tail, point 0, mid 0, ..., point P-1, tail): breaks ``<=`` it."""
    c = np.cumsum(at)
    return np.concatenate([[0], np.repeat(c, 2)])


def _below(at: np.ndarray) -> np.ndarray:
    """Per candidate: breaks strictly below it."""
    c = np.cumsum(at)
    out = np.empty(2 * at.size + 1, dtype=c.dtype)
    out[0] = 0
    out[1::2] = c - at
    out[2::2] = c
    return out


def invert_by_search(
    points: np.ndarray, bp: np.ndarray, bn: np.ndarray, g0: int, l0: int, n: int, alpha: float
) -> tuple[float, float] | None:
    """``invert`` for breaks so close that a midpoint rounds onto one of them."""
    cand = np.empty(2 * points.size + 1)
    cand[0] = points[0] - (1.0 + abs(points[0]))
    cand[1::2] = points
    cand[2:-1:2] = (points[:-1] + points[1:]) / 2
    cand[-1] = points[-1] + (1.0 + abs(points[-1]))
    greater = (
        g0
        + np.searchsorted(bp, cand, side="right")
        + (bn.size - np.searchsorted(bn, cand, side="left"))
    )
    less = (
        l0
        + (bp.size - np.searchsorted(bp, cand, side="left"))
        + np.searchsorted(bn, cand, side="right")
    )
    return _hull(points, cand, greater, less, n, alpha)


def _hull(
    points: np.ndarray,
    cand: np.ndarray,
    greater: np.ndarray,
    less: np.ndarray,
    n: int,
    alpha: float,
) -> tuple[float, float] | None:
    p = np.minimum(1.0, 2.0 * np.minimum(greater, less) / n)
    ok = np.flatnonzero(p >= alpha * (1 - 1e-12))
    if ok.size == 0 or ok[0] == 0 or ok[-1] == cand.size - 1:
        return None
    # cand = [left tail, b0, m0, b1, m1, ..., b_last, right tail]; a midpoint stands for
    # the open interval between its breaks, whose closure is reported.
    first, last = int(ok[0]), int(ok[-1])
    lo = points[(first - 1) // 2]
    hi = points[last // 2] if last % 2 == 0 else points[(last - 1) // 2]
    return float(lo), float(hi)
