"""Ordered dose-response: a randomization test of a linear contrast of the arm means.

With arms scored ``s_k`` in advance (the protocol's doses, placebo 0), the statistic is the
least-squares slope of the arm means on the scores, every arm weighted equally::

    T = sum_k (s_k - s_bar) * mean_k / sum_k (s_k - s_bar) ** 2

a linear contrast of the means (its coefficients sum to zero), in rating points per unit of
dose.  It is recomputed for every allocation of the design's own reference set, days
following their period as in ``randomization.py``; the p-value is exact for an exact set and
``(c + 1) / (B + 1)`` for a Monte Carlo set (row 0 is the observed allocation).  Under the
sharp null that none of the scored arms differs, the outcomes are fixed, so the test is valid
whatever the scores; they only decide which alternative it is powerful against (Edgington and
Onghena 2007, *Randomization Tests*, 4th ed., sec. 7.2, "trend tests").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.assignments import AssignmentSet
from blindself.analysis.stats.randomization import permutation_p, sums_by_allocation
from blindself.errors import DataError
from blindself.trial.scheme import Scheme

# Slopes of different allocations closer than this (relative to the data) count as ties.
_TIE = 1e-9


@dataclass(frozen=True)
class TrendResult:
    """The ordered trend test.

    ``estimate`` is the observed slope (points per unit score); ``p_value`` belongs to
    ``alternative`` (``greater``: the outcome rises with the score); ``n_days`` counts the
    rated days per scored arm in the observed allocation.
    """

    estimate: float
    p_value: float
    p_greater: float
    p_less: float
    scores: dict[str, float]
    n_days: dict[str, int]
    exact: bool
    assignments: int
    draws: int | None
    p_min: float
    alternative: str


def dose_scores(
    doses: Mapping[str, float | None], placebo: str, actives: list[str]
) -> tuple[dict[str, float], str]:
    """Scores of the trend test: doses (placebo 0), or 1, 2, ... when a dose is missing.

    Returns the scores and where they came from (``"dose"`` or ``"equally spaced"``).

    Examples
    --------
    >>> dose_scores({"low": 0.05, "high": 0.1}, "placebo", ["low", "high"])
    ({'placebo': 0.0, 'low': 0.05, 'high': 0.1}, 'dose')
    >>> dose_scores({"low": None, "high": 0.1}, "placebo", ["low", "high"])
    ({'placebo': 0.0, 'low': 1.0, 'high': 2.0}, 'equally spaced')
    """
    given = [doses.get(a) for a in actives]
    values = [float(d) for d in given if d is not None]
    if len(values) == len(actives) and len(set(values)) == len(values) and 0.0 not in values:
        return {placebo: 0.0, **dict(zip(actives, values, strict=True))}, "dose"
    return {placebo: 0.0, **{a: float(i + 1) for i, a in enumerate(actives)}}, "equally spaced"


def trend_test(
    y: np.ndarray,
    period: np.ndarray,
    assignments: AssignmentSet,
    scheme: Scheme,
    scores: Mapping[str, float],
    *,
    alternative: str = "two-sided",
) -> TrendResult:
    """Randomization test of the slope of the arm means on pre-specified ``scores``.

    Parameters
    ----------
    y : ndarray
        The outcome of each day (NaN: missing, left out).
    period : ndarray
        The 0-based period of each day, -1 outside every period.
    assignments : AssignmentSet
        The reference set (row 0 observed).  When the scheme has arms without a score,
        their periods must keep their observed arm: an exact set is filtered to such rows,
        a Monte Carlo set must have been built with ``compare`` naming the scored arms.
    scheme : Scheme
        The scheme the set was built from.
    scores : mapping of arm to float
        At least two arms with at least two distinct scores.
    alternative : {'two-sided', 'greater', 'less'}
        ``greater``: the outcome rises with the score.

    Returns
    -------
    TrendResult

    Examples
    --------
    Three blocks of (placebo, low, high), ratings rising with the dose in every block;
    only the observed allocation gives so steep a slope:

    >>> from blindself.analysis.stats.assignments import assignment_set
    >>> s = Scheme("blocks", ("placebo", "low", "high"), ("placebo", "low", "high"), n_blocks=3)
    >>> obs = ["placebo", "low", "high"] * 3
    >>> ref = assignment_set(s, obs, np.random.default_rng(0))
    >>> r = trend_test(np.array([1.0, 2, 3, 2, 3, 4, 1, 3, 4]), np.arange(9), ref, s,
    ...                {"placebo": 0, "low": 1, "high": 2}, alternative="greater")
    >>> round(r.estimate, 6), round(r.p_value * r.assignments, 9), r.assignments
    (1.166667, 1.0, 216)
    """
    index = {a: i for i, a in enumerate(scheme.arms)}
    unknown = [a for a in scores if a not in index]
    if unknown:
        raise ValueError(f"arm {unknown[0]!r} is not in the scheme")
    s = np.array([float(v) for v in scores.values()])
    if len(scores) < 2 or np.ptp(s) == 0:
        raise ValueError("a trend needs at least two arms with different scores")
    y = np.asarray(y, dtype=np.float64)
    period = np.asarray(period)
    if y.ndim != 1 or period.shape != y.shape:
        raise ValueError("y and period must be 1-D arrays of the same length")
    rows = np.asarray(assignments.matrix)
    if rows.ndim != 2 or rows.shape[1] != scheme.n_periods or rows.shape[0] == 0:
        raise ValueError("the assignment matrix does not match the scheme's periods")
    codes = np.array([index[a] for a in scores])
    obs = rows[0]
    scored = np.isin(obs, codes)
    total = assignments.total
    blocks = assignments.blocks
    if not scored.all():
        if assignments.compare is not None and set(assignments.compare) == set(scores):
            pass
        elif assignments.exact:
            rows = rows[(rows[:, ~scored] == obs[~scored]).all(axis=1)]
            total = rows.shape[0]
            blocks = None
        else:
            raise ValueError(
                "a Monte Carlo set for a trend over some of the arms must be built with "
                "compare naming the scored arms"
            )
    kept = np.isfinite(y) & (period >= 0)
    kept[kept] = scored[period[kept]]
    per = period[kept].astype(np.intp)
    yk = y[kept]
    n_days = {a: int(np.count_nonzero(obs[per] == index[a])) for a in scores}
    empty = [a for a, n in n_days.items() if n == 0]
    if empty:
        raise DataError(f"no ratings on {empty[0]} days; the dose trend cannot be estimated")
    values = np.column_stack(
        [
            np.bincount(per, weights=yk, minlength=scheme.n_periods),
            np.bincount(per, minlength=scheme.n_periods).astype(np.float64),
        ]
    )
    c = (s - s.mean()) / float(np.sum((s - s.mean()) ** 2))
    stats = np.zeros(rows.shape[0])
    defined = np.ones(rows.shape[0], dtype=bool)
    for code, weight in zip(codes, c, strict=True):
        sums = sums_by_allocation(rows, int(code), values, blocks)
        defined &= sums[:, 1] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            stats += weight * sums[:, 0] / sums[:, 1]
    stats[~defined] = np.nan
    tol = _TIE * max(1.0, float(np.max(np.abs(yk)))) * float(np.max(np.abs(c)))
    p, p_greater, p_less = permutation_p(float(stats[0]), stats, alternative, tol=tol)
    n_ref = int(np.count_nonzero(defined))
    p_min = 1.0 / n_ref if alternative != "two-sided" else min(1.0, 2.0 / n_ref)
    return TrendResult(
        estimate=float(stats[0]),
        p_value=p,
        p_greater=p_greater,
        p_less=p_less,
        scores={a: float(v) for a, v in scores.items()},
        n_days=n_days,
        exact=assignments.exact,
        assignments=total,
        draws=assignments.draws,
        p_min=p_min,
        alternative=alternative,
    )
