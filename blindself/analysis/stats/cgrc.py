"""The Correct Guess Rate Curve with honest uncertainty, and its value under a perfect blind.

Szigeti et al. [1]_ estimate what a trial would have shown had the participant guessed
right only a share ``c`` of the time: pseudo-trials re-mix the four arm x guess strata
(:mod:`blindself.analysis.stats.guess_strata`, where the closed-form mean of the pseudo-trials
is derived); the curve is that mean against ``c``, its value at ``c = 0.5`` the
blinding-corrected estimate, its value at the observed rate the trial's own estimate.

Uncertainty.  The spread of pseudo-trials describes a new trial drawn from the observed
strata, not how well the strata are known: a stratum of 3 observations re-weighted to a
quarter of the trial enters every pseudo-trial with its one uncertain mean.  blindself
therefore re-runs the whole estimator (strata, all_prop sizes, closed form) on a cluster
bootstrap of the data -- periods resampled within arm for one person's trial,
participants for a pool -- and reports ``estimate +- t(df) * se_boot`` with ``df`` the
number of clusters minus the number of resampling groups, and the matching two-sided
t p-value.  ``tests/stats/test_cgrc.py`` measures the coverage of this interval (and of
the pseudo-trial spread, which under-covers when small strata are up-weighted) and picks
:data:`MIN_STRATUM` from it.

The guess is measured after randomization, so the strata are not randomized groups:
the curve is a sensitivity analysis that rests on the assumption that guessing right or
wrong changes the outcome the same way in both arms.

References
----------
.. [1] Szigeti B, Nutt D, Carhart-Harris R, Erritzoe D. The difference between
   'placebo group' and 'placebo control': a case study in psychedelic microdosing.
   *Sci Rep* 2023;13:12107. doi:10.1038/s41598-023-34938-7
.. [2] Cameron AC, Miller DL. A practitioner's guide to cluster-robust inference.
   *J Hum Resour* 2015;50:317-372 (the G / (G - 1) small-sample factor, section VI).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from blindself.analysis.stats.guess_strata import (
    STRATA,
    expected_contrast,
    pseudo_trial_sizes,
    strata_of,
)

__all__ = [
    "GRID",
    "MIN_STRATUM",
    "CgrcResult",
    "CurvePoint",
    "correct_guess_rate_curve",
]

FloatArray = npt.NDArray[np.float64]

#: Below this many resampling units (periods, participants) in the smallest stratum the
#: corrected estimate rests on very few observations and its interval covers less often
#: than it says: 0.92 at 1 period, 0.94 at 2, 0.94-0.97 from 3 up in the simulations of
#: tests/stats/test_cgrc.py (one guess per period, strong period effects).
MIN_STRATUM = 3

#: Bootstrap multiplicities are drawn this many (draw, unit) cells at a time.
_SLICE = 1_000_000

#: The grid of the curve (the observed rate and the target are added to it).
GRID = tuple(i / 20 for i in range(21))


@dataclass(frozen=True)
class CurvePoint:
    """The corrected estimate at one correct-guess rate (None where it is undefined)."""

    cgr: float
    estimate: float | None
    ci95: tuple[float, float] | None


@dataclass(frozen=True)
class CgrcResult:
    """The curve and its value at ``target_cgr``.

    ``strata`` counts the observations with a definite guess per stratum (order
    :data:`STRATA`); ``unsure`` those left out.  ``estimate`` is None with ``reason``
    when a stratum the target needs is empty; ``ci95`` and ``p`` are None with
    ``reason`` when the resampling cannot support them.  ``small_strata`` is true when the
    smallest stratum draws on fewer than ``min_stratum`` resampling units
    (``strata_units``: periods of one trial, participants of a pool).
    """

    observed_cgr: float | None
    target_cgr: float
    estimate: float | None
    ci95: tuple[float, float] | None
    p: float | None
    se: float | None
    df: int
    curve: tuple[CurvePoint, ...]
    strata: tuple[int, int, int, int]
    strata_units: tuple[int, int, int, int]
    unsure: int
    clusters: int
    draws: int
    min_stratum: int
    reason: str | None

    @property
    def small_strata(self) -> bool:
        return min(self.strata_units) < self.min_stratum

    def to_json(self) -> dict[str, Any]:
        """The ``cgrc`` object of report.json (plain floats, None for undefined)."""
        return {
            "observed_cgr": self.observed_cgr,
            "target_cgr": self.target_cgr,
            "estimate": self.estimate,
            "ci95": list(self.ci95) if self.ci95 else None,
            "p": self.p,
            "se": self.se,
            "df": self.df,
            "curve": [
                {"cgr": c.cgr, "estimate": c.estimate, "ci95": list(c.ci95) if c.ci95 else None}
                for c in self.curve
            ],
            "strata": dict(zip(STRATA, self.strata, strict=True)),
            "strata_units": dict(zip(STRATA, self.strata_units, strict=True)),
            "unsure": self.unsure,
            "clusters": self.clusters,
            "draws": self.draws,
            "min_stratum": self.min_stratum,
            "small_strata": self.small_strata,
            "reason": self.reason,
            "method": (
                "correct guess rate curve (Szigeti et al. 2023), all_prop stratum sizes; "
                "estimate = closed-form mean of the pseudo-trial difference of means; "
                f"95% t interval and p from a {self.draws}-draw cluster bootstrap"
            ),
        }


def correct_guess_rate_curve(
    y: npt.ArrayLike,
    active: npt.ArrayLike,
    guessed_active: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    cluster: npt.ArrayLike | None = None,
    draws: int = 2000,
    target: float = 0.5,
    grid: Sequence[float] = GRID,
    min_stratum: int = MIN_STRATUM,
) -> CgrcResult:
    """The correct guess rate curve of the difference of means, and its value at ``target``.

    Parameters
    ----------
    y : outcome per observation (NaN = not rated, left out).
    active : 1 for the active arm, 0 for placebo.
    guessed_active : 1 guessed active, 0 guessed placebo, NaN unsure (left out, counted).
    rng : the bootstrap's generator.
    cluster : the resampling unit per observation (period, participant); each observation
        is its own unit when None.  Units that all lie in one arm are resampled within
        their arm (as randomized); otherwise all units together.
    draws : bootstrap replicates.
    target : the correct-guess rate of the corrected estimate (0.5: a perfect blind).
    grid : the rates of the curve; the observed rate and ``target`` are added.
    min_stratum : resampling units per stratum below which ``small_strata`` is set.

    Examples
    --------
    Outcome follows the guess (+2 when guessed active), not the arm; most guesses right:

    >>> rng = np.random.default_rng(1)
    >>> act = np.repeat([1, 0], 40)
    >>> guess = np.where(rng.random(80) < 0.8, act, 1 - act).astype(float)
    >>> y = 2.0 * guess + rng.normal(0, 1, 80)
    >>> r = correct_guess_rate_curve(y, act, guess, rng=rng, draws=500)
    >>> round(r.observed_cgr, 2), r.strata
    (0.74, (33, 7, 26, 14))
    >>> naive = y[act == 1].mean() - y[act == 0].mean()
    >>> round(float(naive), 2), round(r.estimate, 2)
    (1.13, 0.36)
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError("target must be between 0 and 1")
    if draws < 2:
        raise ValueError("draws must be at least 2")
    values = np.asarray(y, dtype=float)
    strata = strata_of(active, guessed_active)
    if values.shape != strata.shape:
        raise ValueError("y and active must have the same length")
    units = np.arange(values.size) if cluster is None else np.asarray(cluster)
    if units.shape != values.shape:
        raise ValueError("cluster must have one entry per observation")
    rated = ~np.isnan(values)
    unsure = int(np.sum(rated & (strata < 0)))
    keep = rated & (strata >= 0)
    values, strata, units = values[keep], strata[keep], units[keep]
    counts = np.bincount(strata, minlength=4).astype(np.int64)
    n = int(counts.sum())
    observed = (counts[0] + counts[2]) / n if n else None
    rates = sorted(
        {*(float(g) for g in grid), float(target), *([observed] if observed is not None else [])}
    )
    rates_arr = np.array(rates)

    means = np.full(4, np.nan)
    for i in range(4):
        if counts[i]:
            means[i] = float(values[strata == i].mean())
    point = expected_contrast(means, pseudo_trial_sizes(counts, rates_arr))

    empty = [STRATA[i] for i in range(4) if counts[i] == 0]
    if empty:
        # the curve mixes all four strata; without one of them any number would be invented
        point = np.full(rates_arr.size, np.nan)
    boot, groups, n_units, per_stratum = _bootstrap(values, strata, units, rates_arr, draws, rng)
    df = n_units - groups
    ok = ~np.isnan(boot)
    valid = ok.sum(axis=1)
    # the bootstrap variance of a mean of G units is (G - 1) / G of the unbiased one; the
    # usual cluster correction G / (G - groups) undoes it (CR1 of cluster-robust errors)
    inflate = math.sqrt(n_units / df) if df > 0 else math.nan
    filled = np.where(ok, boot, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = filled.sum(axis=1) / valid
        spread = np.sqrt(np.where(ok, (boot - centre[:, None]) ** 2, 0.0).sum(axis=1) / (valid - 1))
    # replicates that leave a needed stratum empty have no estimate; if they are most of
    # them the strata are too thin for the bootstrap to describe
    se = np.where(valid >= draws / 2, spread * inflate, np.nan)
    t = _t_quantile(df)
    curve = tuple(
        CurvePoint(
            cgr=float(c),
            estimate=_num(e),
            ci95=(float(e - t * s), float(e + t * s)) if _defined(e, s) and df > 0 else None,
        )
        for c, e, s in zip(rates_arr, point, se, strict=True)
    )
    at = rates.index(float(target))
    est, s_at = point[at], se[at]
    reason = None
    if n == 0:
        reason = "no observation with a definite guess"
    elif empty:
        reason = "no observation " + ", ".join(e.replace("_", " ") for e in empty)
    elif df < 1:
        reason = "too few resampling units for an interval"
    elif math.isnan(s_at) or s_at == 0:
        reason = "the strata are too small: most resamples leave a needed stratum empty"
    ci = curve[at].ci95 if reason is None else None
    p = _t_p(float(est), float(s_at), df) if ci is not None else None
    return CgrcResult(
        observed_cgr=float(observed) if observed is not None else None,
        target_cgr=float(target),
        estimate=_num(est),
        ci95=ci,
        p=p,
        se=float(s_at) if ci is not None else None,
        df=int(df),
        curve=curve,
        strata=(int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3])),
        strata_units=per_stratum,
        unsure=unsure,
        clusters=int(n_units),
        draws=int(draws),
        min_stratum=int(min_stratum),
        reason=reason,
    )


def _bootstrap(
    values: FloatArray,
    strata: npt.NDArray[np.int8],
    units: npt.NDArray[Any],
    rates: FloatArray,
    draws: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, int, int, tuple[int, int, int, int]]:
    """Closed-form curve on ``draws`` cluster-bootstrap replicates: (rates x draws) array,
    the number of resampling groups and units, and the units present in each stratum.

    Per unit the stratum sums and counts are a (units x 4) table, so a replicate is a
    vector of unit multiplicities and its strata are one matrix product.
    """
    _, unit = np.unique(units, return_inverse=True)
    n_units = int(unit.max()) + 1 if unit.size else 0
    if n_units == 0:
        return np.full((rates.size, draws), np.nan), 0, 0, (0, 0, 0, 0)
    sums = np.zeros((n_units, 4))
    cnts = np.zeros((n_units, 4))
    np.add.at(sums, (unit, strata), values)
    np.add.at(cnts, (unit, strata), 1.0)
    present = (cnts > 0).sum(axis=0)
    per_stratum = (int(present[0]), int(present[1]), int(present[2]), int(present[3]))
    arm_of = np.where(cnts[:, :2].sum(1) > 0, 0, 1)
    mixed = bool(np.any((cnts[:, :2].sum(1) > 0) & (cnts[:, 2:].sum(1) > 0)))
    groups = [np.arange(n_units)] if mixed else [np.flatnonzero(arm_of == a) for a in (0, 1)]
    groups = [g for g in groups if g.size]
    b_sums = np.empty((draws, 4))
    b_cnts = np.empty((draws, 4))
    # a (draws x units) multiplicity matrix, built in slices so that 10,000 participants
    # need a few MB at a time rather than the whole matrix at once
    step = max(1, _SLICE // n_units)
    for lo in range(0, draws, step):
        hi = min(draws, lo + step)
        weights = np.zeros((hi - lo, n_units))
        for g in groups:
            weights[:, g] = rng.multinomial(g.size, np.full(g.size, 1.0 / g.size), size=hi - lo)
        b_sums[lo:hi] = weights @ sums
        b_cnts[lo:hi] = weights @ cnts
    with np.errstate(invalid="ignore", divide="ignore"):
        b_means = np.where(b_cnts > 0, b_sums / b_cnts, np.nan)
    sizes = pseudo_trial_sizes(b_cnts[None, :, :], rates[:, None])
    return expected_contrast(b_means[None, :, :], sizes), len(groups), n_units, per_stratum


def _t_quantile(df: int) -> float:
    if df < 1:
        return math.nan
    from scipy import special

    return float(special.stdtrit(df, 0.975))  # scipy.stats.t.ppf


def _t_p(estimate: float, se: float, df: int) -> float:
    from scipy import special

    return float(2.0 * special.stdtr(df, -abs(estimate / se)))  # scipy.stats.t.sf


def _defined(e: float, s: float) -> bool:
    return not (math.isnan(e) or math.isnan(s))


def _num(x: Any) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v
