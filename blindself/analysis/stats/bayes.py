"""Conjugate Bayesian estimate of the arm effect with AR(1) errors integrated over rho.

Model: ``y = b0 + b_arm * arm (+ b_t * day) + e`` with ``e ~ N(0, sigma^2 R(rho))``,
``R_ij = rho ** |day_i - day_j|`` and unknown sigma.  For each rho of a grid (uniform prior)
the posterior is closed form (normal-inverse-gamma, so the arm effect is a Student t); the
grid points are then mixed with weights proportional to their marginal likelihoods.  No
sampling is involved, so the numbers are reproducible to rounding.

Priors (flat on the intercept and the trend in both):

``reference``
    ``p(b, sigma) ∝ 1/sigma``.  With rho fixed at 0 and no trend the posterior probability
    that the effect is positive equals one minus the one-sided p of the pooled two-sample
    t-test, and the 95 % interval is the classical t interval.
``weak``
    ``b_arm | sigma ~ N(0, sigma^2)``: the standardised effect ``b_arm / sigma`` is
    ``N(0, 1)`` (the conjugate effect-size prior of Gönen et al. [2]_).  It is conditional
    on sigma so the posterior stays closed form; since a rating confined to a scale of
    width W has ``sigma <= W / 2`` (Popoviciu's inequality), the prior sd of the effect is
    at most half the scale width: a difference as large as the whole scale is a priori
    unlikely, anything a self-experiment can plausibly show is not.

References
----------
.. [1] Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data
   Analysis*, 3rd ed. CRC, 2013, section 14.2 (conjugate linear regression).
.. [2] Gönen M, Johnson WO, Lu Y, Westfall PH. The Bayesian two-sample t test. *Am Stat*
   2005;59:252-257.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from blindself.analysis.stats.regression import ar1_design, ar1_whiten

__all__ = ["DEFAULT_RHO_GRID", "PRIORS", "BayesResult", "bayes_effect"]

FloatArray = npt.NDArray[np.float64]

#: 41 equally spaced values on [-0.95, 0.95] (step 0.0475, 0 included), uniform prior.
DEFAULT_RHO_GRID: FloatArray = np.linspace(-0.95, 0.95, 41)

PRIORS = ("weak", "reference")


@dataclass(frozen=True)
class BayesResult:
    """Posterior summary of the arm effect (active - placebo, sign as measured).

    ``prior`` describes the prior in words; ``p_benefit`` is the posterior probability
    that the effect points in the outcome's ``better`` direction; ``p_above_mcid`` that it
    does so by more than the minimal clinically important difference (None without one).
    """

    prior: str
    mean: float
    ci95: tuple[float, float]
    p_benefit: float
    p_above_mcid: float | None


def _describe(prior: str, scale_width: float | None, trend: bool, grid: FloatArray) -> str:
    model = "AR(1) errors" + (", linear trend" if trend else "")
    if grid.size == 1:
        rho = f"rho fixed at {float(grid[0]):g}"
    else:
        rho = f"rho uniform on {grid.size} points in [{grid.min():g}, {grid.max():g}]"
    if prior == "reference":
        text = "reference prior p(b, sigma) ~ 1/sigma"
    else:
        text = "weakly informative: effect ~ Normal(0, sigma), flat on intercept"
        if trend:
            text += " and trend"
        text += ", p(sigma) ~ 1/sigma"
        if scale_width is not None:
            text += f" (prior sd of the effect at most {scale_width / 2:g} points)"
    return f"{text}; {model}; {rho}"


def _components(
    yv: FloatArray, x: FloatArray, gaps: npt.NDArray[np.int64], grid: FloatArray, weak: bool
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Per rho: posterior weight, t location and t scale of b_arm; and the t df."""
    n, k = x.shape
    logdet, (yw, xw) = ar1_whiten(grid, gaps, yv, x)
    prec = np.einsum("mni,mnj->mij", xw, xw)
    if weak:
        prec[:, 1, 1] += 1.0  # b_arm | sigma ~ N(0, sigma^2)
    xty = np.einsum("mni,mn->mi", xw, yw)
    cov = np.linalg.inv(prec)
    b = np.einsum("mij,mj->mi", cov, xty)
    s = np.einsum("mn,mn->m", yw, yw) - np.einsum("mi,mi->m", b, xty)
    nu = n - k + (1 if weak else 0)
    _, logdet_prec = np.linalg.slogdet(prec)
    # log marginal likelihood up to a constant shared by every rho
    logml = -0.5 * logdet - 0.5 * logdet_prec - 0.5 * nu * np.log(s)
    w = np.exp(logml - logml.max())
    w /= w.sum()
    loc = b[:, 1]
    scale = np.sqrt(s / nu * cov[:, 1, 1])
    return w, loc, scale, float(nu)


def _mixture_cdf(x: float, w: FloatArray, loc: FloatArray, scale: FloatArray, nu: float) -> float:
    return float(np.dot(w, special.stdtr(nu, (x - loc) / scale)))


def _mixture_quantile(
    q: float, w: FloatArray, loc: FloatArray, scale: FloatArray, nu: float
) -> float:
    # the mixture quantile lies between the smallest and largest component quantiles
    tq = float(special.stdtrit(nu, q))  # scipy.stats.t.ppf
    lo = float(np.min(loc + scale * tq))
    hi = float(np.max(loc + scale * tq))
    if hi - lo < 1e-14 * max(1.0, abs(hi)):
        return lo

    def gap(x: float) -> float:
        return _mixture_cdf(x, w, loc, scale, nu) - q

    # Rounding in the CDF can leave the bracket's ends on the same side of q when one
    # component dominates; the quantile is then that end.
    if gap(lo) >= 0.0:
        return lo
    if gap(hi) <= 0.0:
        return hi
    from scipy import optimize

    root: float = optimize.brentq(gap, lo, hi, xtol=1e-13, rtol=1e-14)
    return root


def bayes_effect(
    y: npt.ArrayLike,
    is_active: npt.ArrayLike,
    day: npt.ArrayLike,
    *,
    better: str,
    mcid: float | None,
    prior: str = "weak",
    scale_width: float | None = None,
    trend: bool = True,
    rho_grid: npt.ArrayLike | None = None,
) -> BayesResult:
    """Posterior of the arm effect, AR(1) correlation integrated over a grid of rho.

    Parameters
    ----------
    y : array_like
        The outcome, one value per day (NaN rows are dropped).
    is_active : array_like of bool
        1/True for the active arm, 0/False for placebo.
    day : array_like of int
        Day numbers (distinct; gaps allowed).
    better : {"higher", "lower"}
        Which direction of the outcome is good.
    mcid : float or None
        Minimal clinically important difference (rating points, >= 0).
    prior : {"weak", "reference"}
        See the module docstring.
    scale_width : float, optional
        Width of the rating scale (max - min), quoted in the prior description.
    trend : bool
        Include a linear trend in day.
    rho_grid : array_like, optional
        Values of rho (uniform prior); default :data:`DEFAULT_RHO_GRID`.  When every gap
        between rated days is even, rho and -rho are indistinguishable; they are kept
        anyway, which leaves the effect's posterior unchanged.

    Returns
    -------
    BayesResult
        Posterior mean, equal-tailed 95 % interval, P(benefit), P(benefit > mcid).

    Examples
    --------
    >>> r = bayes_effect([5.0, 6.0, 4.0, 7.0, 6.5, 8.0], [0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 5, 6],
    ...                  better="higher", mcid=1.0, prior="reference", trend=False,
    ...                  rho_grid=[0.0])
    >>> round(r.mean, 4), round(r.p_benefit, 4)
    (2.1667, 0.9797)
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, not {prior!r}")
    if mcid is not None and not mcid >= 0:
        raise ValueError("mcid must be a non-negative number of rating points")
    if scale_width is not None and not scale_width > 0:
        raise ValueError("scale_width must be positive")
    grid = DEFAULT_RHO_GRID if rho_grid is None else np.asarray(rho_grid, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.abs(grid) < 1):
        raise ValueError("rho_grid must be a non-empty 1-D array of values in (-1, 1)")
    yv, x, gaps = ar1_design(y, is_active, day, trend)
    w, loc, scale, nu = _components(yv, x, gaps, grid, prior == "weak")
    sign = 1.0 if better == "higher" else -1.0
    # P(sign * b > c) = P(b > c) for higher, P(b < -c) for lower
    cdf_zero = _mixture_cdf(0.0, w, loc, scale, nu)
    p_benefit = 1.0 - cdf_zero if sign > 0 else cdf_zero
    p_mcid: float | None = None
    if mcid is not None:
        c = _mixture_cdf(sign * mcid, w, loc, scale, nu)
        p_mcid = 1.0 - c if sign > 0 else c
    ci = (
        _mixture_quantile(0.025, w, loc, scale, nu),
        _mixture_quantile(0.975, w, loc, scale, nu),
    )
    mean = float(np.dot(w, loc)) if nu > 1 else math.nan
    return BayesResult(
        prior=_describe(prior, scale_width, trend, grid),
        mean=mean,
        ci95=ci,
        p_benefit=p_benefit,
        p_above_mcid=p_mcid,
    )
