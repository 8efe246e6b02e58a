"""Randomization test of one contrast under the trial's own randomization scheme.

The test statistic is recomputed for every allocation of the reference set
(docs/design.md#randomization-test): labels move at the level at which they were randomized
(periods), days follow their period.  Under the sharp null of no difference between the two arms the
observed outcomes are fixed, so the p-value is exact for the exact set and valid for the Monte
Carlo set (row 0 is the observed allocation, so ``p = (c + 1) / (B + 1)``; Phipson and
Smyth 2010, *Stat Appl Genet Mol Biol* 9:39).  Both statistics are linear in ``y`` for
a fixed allocation, so the confidence interval for an additive effect follows from two
passes over the set (test inversion; Rosenbaum 2002, *Observational Studies*, sec. 2.6).

References
----------
Fisher R.A. (1935). *The Design of Experiments*, sec. 21 (Darwin's Zea mays).
Edgington E.S., Onghena P. (2007). *Randomization Tests*, 4th ed., ch. 11 (N-of-1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.assignments import AssignmentSet
from blindself.analysis.stats.block_orders import CACHE_CELLS, BlockChoices, block_sums
from blindself.analysis.stats.inversion import TIE_TOLERANCE, invert
from blindself.errors import DataError
from blindself.trial.scheme import Scheme

ALTERNATIVES = ("two-sided", "greater", "less")
STATISTICS = ("mean-difference", "trend-adjusted")
# Block choices are expanded to one-hot columns up to this many orders per block.
_MAX_ONE_HOT = 8


@dataclass(frozen=True)
class RandomizationResult:
    """A randomization test of ``active`` against ``placebo``.

    ``estimate`` is the observed statistic; ``p_value`` belongs to ``alternative``;
    ``ci95`` is the ``1 - alpha`` interval for an additive effect (None when the
    reference set cannot reach ``alpha`` on both sides); ``assignments`` is the size of
    the allocation set, ``draws`` the Monte Carlo draws (None when exact); ``p_min`` the
    smallest p the set can give for ``alternative`` with the periods that hold a value
    (``periods`` of them, of the ``pair_periods`` the two arms have): allocations that agree
    on those periods tie whatever the values.
    """

    estimate: float
    p_value: float
    p_greater: float
    p_less: float
    ci95: tuple[float, float] | None
    exact: bool
    assignments: int
    draws: int | None
    p_min: float
    alternative: str
    periods: int = 0
    pair_periods: int = 0


@dataclass(frozen=True)
class ContrastData:
    """The days and allocations of one contrast, ready for vectorized statistics.

    ``rows``: allocations (row 0 observed) in which the periods of every other arm
    keep their observed arm; ``period``/``y``/``day``: the kept days (finite outcome,
    inside a period of one of the two arms); ``observed_active``: per kept day, whether
    its period is ``active`` in the observed allocation; ``blocks``: ``rows`` as block
    choices when the set has that form and no row was dropped.
    """

    rows: np.ndarray
    total: int
    exact: bool
    draws: int | None
    active: int
    placebo: int
    n_periods: int
    period: np.ndarray
    y: np.ndarray
    day: np.ndarray | None
    observed_active: np.ndarray
    blocks: BlockChoices | None = None


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, not {alternative!r}")


def permutation_p(
    stat_obs: float, stats: np.ndarray, alternative: str, *, tol: float | None = None
) -> tuple[float, float, float]:
    """P-values of an observed statistic against its randomization distribution.

    ``stats`` is the statistic under every allocation of the reference set, the
    observed one included; NaN entries (allocations where the statistic is undefined)
    are left out.  ``p_greater`` is the share with ``T >= stat_obs - tol``, ``p_less``
    with ``T <= stat_obs + tol``; the two-sided p is ``min(1, 2 * min(...))`` as in
    ``scipy.stats.permutation_test``.  ``tol`` defaults to ``1e-9 * max |T|``.

    Returns
    -------
    (p_value, p_greater, p_less)

    Examples
    --------
    >>> permutation_p(3.0, np.array([3.0, 1.0, 2.0, 4.0]), "greater")
    (0.5, 0.5, 0.75)
    """
    _check_alternative(alternative)
    if not np.isfinite(stat_obs):
        raise ValueError("the observed statistic must be finite")
    s = np.asarray(stats, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ValueError("no finite statistic in the reference set")
    if tol is None:
        tol = TIE_TOLERANCE * max(abs(stat_obs), float(np.max(np.abs(s))))
    n = s.size
    p_greater = float(np.count_nonzero(s >= stat_obs - tol)) / n
    p_less = float(np.count_nonzero(s <= stat_obs + tol)) / n
    two_sided = min(1.0, 2.0 * min(p_greater, p_less))
    p = {"two-sided": two_sided, "greater": p_greater, "less": p_less}[alternative]
    return p, p_greater, p_less


def minimum_p(assignments: AssignmentSet, alternative: str) -> float:
    """The smallest p-value the reference set can give for ``alternative``.

    ``1 / N`` for an exact set of ``N`` allocations, ``1 / (B + 1)`` for ``B``
    Monte Carlo draws; doubled (at most 1) for two-sided tests.
    """
    _check_alternative(alternative)
    one = 1.0 / int(assignments.matrix.shape[0])
    return min(1.0, 2.0 * one) if alternative == "two-sided" else one


def sums_by_allocation(
    rows: np.ndarray, code: int, values: np.ndarray, blocks: BlockChoices | None = None
) -> np.ndarray:
    """``(m, k)`` sums of the per-period ``values`` over the periods where ``rows == code``.

    One float64 matrix product per batch of rows bounds memory for large sets.  With
    ``blocks`` (the same rows as block choices) a row's sum is a constant plus one term
    per block, so the product runs over blocks instead of periods and an exact product
    set is summed block by block (each block adds its orders to every partial sum).
    """
    if blocks is not None and (blocks.choice is None or blocks.table.shape[0] <= _MAX_ONE_HOT):
        return block_sums(blocks, code, values)
    m, n_periods = rows.shape
    out = np.empty((m, values.shape[1]), dtype=np.float64)
    step = max(1, CACHE_CELLS // max(1, n_periods))
    buf = np.empty((min(m, step), n_periods), dtype=np.float64)
    for start in range(0, m, step):
        part = rows[start : start + step]
        mask = buf[: part.shape[0]]
        np.equal(part, code, out=mask, casting="unsafe")
        out[start : start + step] = mask @ values
    return out


def contrast_data(
    y: np.ndarray,
    period: np.ndarray,
    assignments: AssignmentSet,
    scheme: Scheme,
    *,
    active: str,
    placebo: str,
    day: np.ndarray | None = None,
) -> ContrastData:
    """Check the inputs of a contrast and keep the days and allocations it uses.

    When the scheme has periods of arms other than the two compared, the set must hold
    them at their observed arm: built with ``compare=(active, placebo)``, or exact
    (then the matching rows are kept).
    """
    index = {a: i for i, a in enumerate(scheme.arms)}
    for name in (active, placebo):
        if name not in index:
            raise ValueError(f"arm {name!r} is not in the scheme")
    if active == placebo:
        raise ValueError("active and placebo must be different arms")
    y = np.asarray(y, dtype=np.float64)
    period = np.asarray(period)
    if y.ndim != 1 or period.shape != y.shape:
        raise ValueError("y and period must be 1-D arrays of the same length")
    if day is not None:
        day = np.asarray(day, dtype=np.float64)
        if day.shape != y.shape:
            raise ValueError("day must have the same length as y")
    rows = np.asarray(assignments.matrix)
    n_periods = scheme.n_periods
    if rows.ndim != 2 or rows.shape[1] != n_periods or rows.shape[0] == 0:
        raise ValueError("the assignment matrix does not match the scheme's periods")
    if not np.issubdtype(period.dtype, np.integer):
        raise DataError("period numbers must be whole numbers; check the period column")
    if np.any((period < -1) | (period >= n_periods)):
        raise DataError(f"a period number is outside 1..{n_periods}; check the period column")
    a, p = index[active], index[placebo]
    obs = rows[0]
    in_pair = (obs == a) | (obs == p)
    total = assignments.total
    blocks = assignments.blocks
    if not in_pair.all():
        wanted = assignments.compare is not None and set(assignments.compare) == {active, placebo}
        if not wanted:
            if not assignments.exact:
                raise ValueError(
                    "a Monte Carlo set for a contrast of two of several arms must be built "
                    "with compare=(active, placebo)"
                )
            keep = (rows[:, ~in_pair] == obs[~in_pair]).all(axis=1)
            rows = rows[keep]
            total = rows.shape[0]
            blocks = None
    elif assignments.compare is not None and set(assignments.compare) != {active, placebo}:
        raise ValueError("the assignment set was built for another contrast")
    kept = np.isfinite(y) & (period >= 0)
    kept[kept] = in_pair[period[kept]]
    if day is not None:
        if not np.all(np.isfinite(day[kept])):
            raise DataError("a day number is missing; check the date column")
        day = day[kept]
    per = period[kept].astype(np.intp)
    observed_active = obs[per] == a
    for name, n in ((active, int(observed_active.sum())), (placebo, int((~observed_active).sum()))):
        if n == 0:
            raise DataError(f"no ratings on {name} days; the contrast cannot be estimated")
    return ContrastData(
        rows=rows,
        total=total,
        exact=assignments.exact,
        draws=assignments.draws,
        active=a,
        placebo=p,
        n_periods=n_periods,
        period=per,
        y=y[kept],
        day=day,
        observed_active=observed_active,
        blocks=blocks,
    )


def _per_period(data: ContrastData, columns: list[np.ndarray]) -> np.ndarray:
    return np.column_stack(
        [np.bincount(data.period, weights=c, minlength=data.n_periods) for c in columns]
    )


def _statistics(data: ContrastData, statistic: str) -> tuple[np.ndarray, np.ndarray]:
    """The statistic for ``y`` and for the observed-active indicator, per allocation."""
    y = data.y
    z = data.observed_active.astype(np.float64)
    ones = np.ones_like(y)
    n = float(y.size)
    if statistic == "mean-difference":
        sums = sums_by_allocation(
            data.rows, data.active, _per_period(data, [y, z, ones]), data.blocks
        )
        total = np.array([y.sum(), z.sum(), n])
        n_a = sums[:, 2]
        n_p = n - n_a
        with np.errstate(divide="ignore", invalid="ignore"):
            t_y = sums[:, 0] / n_a - (total[0] - sums[:, 0]) / n_p
            t_z = sums[:, 1] / n_a - (total[1] - sums[:, 1]) / n_p
        bad = (n_a == 0) | (n_p == 0)
    else:
        if data.day is None:
            raise ValueError("the trend-adjusted statistic needs day")
        d = data.day - data.day.mean()
        sdd = float(d @ d)
        if sdd <= 0:
            raise DataError("the trend-adjusted statistic needs ratings on more than one day")

        def resid(v: np.ndarray) -> np.ndarray:
            # Residual of v on (1, day): Frisch-Waugh-Lovell.
            out: np.ndarray = v - v.mean() - d * float(d @ v) / sdd
            return out

        sums = sums_by_allocation(
            data.rows, data.active, _per_period(data, [resid(y), resid(z), ones, d]), data.blocks
        )
        n_a = sums[:, 2]
        # Residual sum of squares of the active indicator on (1, day).
        den = n_a - n_a**2 / n - sums[:, 3] ** 2 / sdd
        bad = den <= TIE_TOLERANCE * n
        with np.errstate(divide="ignore", invalid="ignore"):
            t_y = sums[:, 0] / den
            t_z = sums[:, 1] / den
    t_y[bad] = np.nan
    t_z[bad] = np.nan
    return t_y, t_z


def _observed_estimate(data: ContrastData, statistic: str) -> float:
    """The observed statistic computed directly (no period sums), for reporting."""
    on = data.observed_active
    if statistic == "mean-difference":
        return float(data.y[on].mean() - data.y[~on].mean())
    if data.day is None:
        raise ValueError("the trend-adjusted statistic needs day")
    x = np.column_stack([np.ones_like(data.y), on.astype(np.float64), data.day])
    coef = np.linalg.lstsq(x, data.y, rcond=None)[0]
    return float(coef[1])


def randomization_test(
    y: np.ndarray,
    period: np.ndarray,
    assignments: AssignmentSet,
    scheme: Scheme,
    *,
    active: str,
    placebo: str,
    alternative: str = "two-sided",
    statistic: str = "mean-difference",
    day: np.ndarray | None = None,
    alpha: float = 0.05,
) -> RandomizationResult:
    """Randomization test and interval for the effect of ``active`` against ``placebo``.

    Parameters
    ----------
    y : ndarray
        The outcome of each day (NaN: missing, left out).
    period : ndarray
        The 0-based period of each day; -1 for days outside every period (baseline,
        washout).  Under allocation ``a`` a day's arm is ``a[period]``.
    assignments : AssignmentSet
        The reference set (row 0 observed); see ``assignment_set``.
    scheme : Scheme
        The scheme the set was built from (arm names of the indices).
    active, placebo : str
        The arms compared; days of other arms are left out.
    alternative : {'two-sided', 'greater', 'less'}
        ``greater``: ``active`` raises ``y``.
    statistic : {'mean-difference', 'trend-adjusted'}
        Mean over ``active`` days minus mean over ``placebo`` days, or the ``active``
        coefficient of the OLS fit ``y ~ active + day`` on the same days (needs ``day``).
    day : ndarray, optional
        Day number of each day (for the linear trend).
    alpha : float
        ``ci95`` is the ``1 - alpha`` interval (the two-sided rule inverted).

    Returns
    -------
    RandomizationResult

    Examples
    --------
    >>> from blindself.analysis.stats.assignments import assignment_set
    >>> s = Scheme("blocks", ("active", "placebo"), ("active", "placebo"), n_blocks=3)
    >>> obs = ["active", "placebo"] * 3
    >>> ref = assignment_set(s, obs, np.random.default_rng(0))
    >>> r = randomization_test(np.array([3.0, 1, 4, 1, 5, 9]), np.arange(6), ref, s,
    ...                        active="active", placebo="placebo", alternative="greater")
    >>> round(r.estimate, 12), r.p_value, r.p_min
    (0.333333333333, 0.5, 0.125)
    """
    _check_alternative(alternative)
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    data = contrast_data(y, period, assignments, scheme, active=active, placebo=placebo, day=day)
    t_y, t_z = _statistics(data, statistic)
    t_obs = float(t_y[0])
    if not np.isfinite(t_obs):
        raise DataError("the statistic cannot be computed for the observed allocation")
    defined = np.isfinite(t_y) & np.isfinite(t_z)
    tol = TIE_TOLERANCE * float(np.max(np.abs(data.y)))
    u = t_y[defined] - t_obs
    u[np.abs(u) <= tol] = 0.0
    v = 1.0 - t_z[defined]
    v[np.abs(v) <= TIE_TOLERANCE] = 0.0
    n_ref = u.size
    p_greater = float(np.count_nonzero(u >= 0)) / n_ref
    p_less = float(np.count_nonzero(u <= 0)) / n_ref
    p_two = min(1.0, 2.0 * min(p_greater, p_less))
    p_value = {"two-sided": p_two, "greater": p_greater, "less": p_less}[alternative]
    # The floor of these data, not the design's: an allocation that puts the periods holding a
    # value on the same arms as the observed one gives the same statistic whatever the values,
    # so a sparse outcome (a questionnaire asked in 5 of 30 periods) ties with many
    # (docs/design.md#sparse-floor).
    used = np.unique(data.period)
    pattern = data.rows[:, used] == data.active
    ties = int(np.count_nonzero((pattern == pattern[0]).all(axis=1) & defined))
    p_min = ties / n_ref if alternative != "two-sided" else min(1.0, 2.0 * ties / n_ref)
    return RandomizationResult(
        estimate=_observed_estimate(data, statistic),
        p_value=p_value,
        p_greater=p_greater,
        p_less=p_less,
        ci95=invert(u, v, alpha),
        exact=data.exact,
        assignments=data.total,
        draws=data.draws,
        p_min=p_min,
        alternative=alternative,
        periods=int(used.size),
        pair_periods=int(np.count_nonzero(np.isin(data.rows[0], (data.active, data.placebo)))),
    )
