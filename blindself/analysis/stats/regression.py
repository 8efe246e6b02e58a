"""Frequentist regression for one outcome: OLS with iid errors and GLS with AR(1) errors.

The AR(1) correlation between two ratings is ``rho ** |day_i - day_j|`` with integer day
numbers, so missed days simply widen the gap.  With the days sorted this is a Markov chain,
its inverse correlation matrix is tridiagonal, and whitening, the log-determinant and hence
the profile likelihood cost O(n) (:func:`ar1_whiten`).

References
----------
.. [1] Pinheiro J, Bates D. *Mixed-Effects Models in S and S-PLUS*. Springer, 2000,
   section 5.3 (``nlme::gls`` with ``corAR1``).
.. [2] Prais SJ, Winsten CB. Trend estimators and serial correlation. Cowles Commission
   discussion paper 383, 1954.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from blindself.errors import DataError

__all__ = [
    "Ar1Result",
    "Coefficient",
    "ar1_design",
    "ar1_gls",
    "ar1_whiten",
    "classical",
    "ols_term",
]

FloatArray = npt.NDArray[np.float64]

#: |rho| is searched inside this bound; the likelihood is degenerate at +-1.
RHO_BOUND = 0.999


@dataclass(frozen=True)
class Coefficient:
    """One regression coefficient with its t-test (iid errors).

    ``df`` is the residual degrees of freedom, ``p`` two-sided, ``ci95`` the t interval.
    """

    estimate: float
    se: float
    df: float
    p: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class Ar1Result:
    """The arm coefficient of a GLS fit with AR(1) errors, by maximum likelihood.

    rho is the ML estimate; ``se`` scales ``(X' R^-1 X)^-1`` by RSS / (n - p); ``p`` and
    ``ci95`` use a t distribution with ``df = n - p``: all as ``summary()`` and
    ``intervals()`` of ``nlme::gls`` with ``method = "ML"``.
    """

    estimate: float
    se: float
    rho: float
    p: float
    ci95: tuple[float, float]
    df: float


def _t_summary(estimate: float, se: float, df: float) -> tuple[float, tuple[float, float]]:
    """Two-sided p and 95 % interval for ``estimate / se`` on ``df`` degrees of freedom."""
    # scipy.special's t functions, which scipy.stats.t calls (its import costs ~0.6 s).
    half = float(special.stdtrit(df, 0.975)) * se
    p = float(2.0 * special.stdtr(df, -abs(estimate / se))) if se > 0 else math.nan
    return p, (estimate - half, estimate + half)


def _check_residual(yv: FloatArray, x: FloatArray) -> None:
    """Refuse data the model fits exactly: no residual variance, no test."""
    beta, *_ = np.linalg.lstsq(x, yv, rcond=None)
    rss = float(np.sum((yv - x @ beta) ** 2))
    if rss <= 1e-20 * max(1.0, float(np.sum(yv**2))):
        raise DataError("the ratings have no variation left to test: record more days")


def ols_term(y: npt.ArrayLike, columns: dict[str, npt.ArrayLike], term: str) -> Coefficient:
    """Fit ``y ~ 1 + columns`` by OLS and return the coefficient of ``term``.

    Rows with a NaN in ``y`` or in any column are dropped.

    Parameters
    ----------
    y : array_like
        The outcome.
    columns : dict of str to array_like
        Covariates, each as long as ``y`` (booleans are coded 0/1).
    term : str
        The key of ``columns`` to report.

    Returns
    -------
    Coefficient
        Estimate, standard error, residual df, two-sided t-test p and 95 % interval.

    Raises
    ------
    DataError
        Too few complete rows, or a covariate that is constant or collinear.

    Examples
    --------
    >>> c = ols_term([1.0, 2.0, 2.5, 4.5], {"x": [0, 1, 2, 3]}, "x")
    >>> round(c.estimate, 6), c.df
    (1.1, 2.0)
    """
    if term not in columns:
        raise ValueError(f"term {term!r} is not one of the columns")
    yv = np.asarray(y, dtype=float)
    names = list(columns)
    x = np.column_stack([np.ones_like(yv)] + [np.asarray(columns[k], dtype=float) for k in names])
    if x.shape[0] != yv.shape[0]:
        raise ValueError("every column must be as long as y")
    keep = ~(np.isnan(yv) | np.isnan(x).any(axis=1))
    yv, x = yv[keep], x[keep]
    n, k = x.shape
    if n <= k:
        raise DataError(f"only {n} complete rows for {k} coefficients: record more days")
    if np.linalg.matrix_rank(x) < k:
        raise DataError(
            f"cannot separate {term!r} from the other terms (constant or collinear): "
            "check that both arms have ratings"
        )
    _check_residual(yv, x)
    # What statsmodels' ``OLS(y, x).fit()`` computes (method "pinv"): beta = X+ y and
    # cov(beta) = X+ X+' RSS / (n - k); importing statsmodels costs ~1 s (pandas,
    # formulaic) for these few lines.  tests/stats/test_regression.py compares the two.
    pinv = np.linalg.pinv(x, rcond=1e-15)
    beta = pinv @ yv
    resid = yv - x @ beta
    df = float(n - k)
    j = names.index(term) + 1
    estimate = float(beta[j])
    scale = float(resid @ resid) / df
    se = math.sqrt(float((pinv @ pinv.T)[j, j]) * scale)
    p, ci = _t_summary(estimate, se, df)
    return Coefficient(estimate=estimate, se=se, df=df, p=p, ci95=ci)


def classical(y: npt.ArrayLike, is_active: npt.ArrayLike) -> Coefficient:
    """OLS ``y ~ arm`` with iid errors: the pooled two-sample t-test.

    This is what most published self-experiments report; ``estimate`` is
    mean(active) - mean(placebo).

    Examples
    --------
    >>> c = classical([3.0, 4.0, 5.0, 6.0, 2.0, 3.0], [1, 1, 1, 0, 0, 0])
    >>> round(c.estimate, 6), round(c.se, 6), c.df
    (0.333333, 1.333333, 4.0)
    """
    return ols_term(y, {"arm": np.asarray(is_active, dtype=float)}, "arm")


def _day_gaps(day: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Sort order and the positive integer gaps between consecutive days."""
    d = np.asarray(day, dtype=float)
    if np.isnan(d).any() or not np.array_equal(d, np.round(d)):
        raise DataError("day numbers must be whole numbers: check the date column")
    order = np.argsort(d, kind="stable")
    gaps = np.diff(d[order]).astype(np.int64)
    if (gaps == 0).any():
        raise DataError("two ratings share a day: keep one rating per day for this outcome")
    return order, gaps


def ar1_whiten(
    rho: FloatArray, gaps: npt.NDArray[np.int64], *arrays: FloatArray
) -> tuple[FloatArray, list[FloatArray]]:
    """Whiten rows (sorted by day) for AR(1) correlation ``rho ** gap``.

    Parameters
    ----------
    rho : ndarray, shape (m,)
        Correlations between consecutive days.
    gaps : ndarray of int, shape (n - 1,)
        Day differences between consecutive rows.
    *arrays : ndarray, shape (n,) or (n, k)
        Vectors or design matrices to whiten.

    Returns
    -------
    logdet : ndarray, shape (m,)
        ``log det R`` for each rho.
    whitened : list of ndarray, shapes (m, n) or (m, n, k)
        ``L^-1 a`` with ``R = L L^T``: the first row unchanged, row i replaced by
        ``(a_i - phi_i a_{i-1}) / sqrt(1 - phi_i^2)`` with ``phi_i = rho ** gap_i``.

    Examples
    --------
    >>> logdet, (w,) = ar1_whiten(np.array([0.5]), np.array([1]), np.array([1.0, 1.0]))
    >>> round(float(logdet[0]), 6), np.round(w, 6).tolist()
    (-0.287682, [[1.0, 0.57735]])
    """
    phi = np.power(rho[:, None], gaps[None, :])  # (m, n-1)
    one_minus = 1.0 - phi * phi
    logdet = np.log(one_minus).sum(axis=1)
    scale = 1.0 / np.sqrt(one_minus)
    out: list[FloatArray] = []
    for a in arrays:
        if a.ndim == 1:
            w = np.empty((rho.size, a.size))
            w[:, 0] = a[0]
            w[:, 1:] = (a[None, 1:] - phi * a[None, :-1]) * scale
        else:
            w = np.empty((rho.size, *a.shape))
            w[:, 0, :] = a[0, :]
            w[:, 1:, :] = (a[None, 1:, :] - phi[:, :, None] * a[None, :-1, :]) * scale[:, :, None]
        out.append(w)
    return logdet, out


def ar1_design(
    y: npt.ArrayLike, is_active: npt.ArrayLike, day: npt.ArrayLike, trend: bool
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Complete rows sorted by day: outcome, design (1, arm[, centred day]) and day gaps."""
    yv = np.asarray(y, dtype=float)
    arm = np.asarray(is_active, dtype=float)
    dv = np.asarray(day, dtype=float)
    if not (yv.shape == arm.shape == dv.shape) or yv.ndim != 1:
        raise ValueError("y, is_active and day must be 1-D and of equal length")
    keep = ~(np.isnan(yv) | np.isnan(arm))
    yv, arm, dv = yv[keep], arm[keep], dv[keep]
    order, gaps = _day_gaps(dv)
    yv, arm, dv = yv[order], arm[order], dv[order]
    cols = [np.ones_like(yv), arm]
    if trend:
        # centring changes only the intercept and keeps X'X well conditioned
        cols.append(dv - dv.mean())
    x = np.column_stack(cols)
    n, k = x.shape
    if n < k + 2:
        raise DataError(f"only {n} rated days: an AR(1) model needs at least {k + 2}")
    if np.linalg.matrix_rank(x) < k:
        raise DataError("both arms need ratings (and the arm must not follow the trend exactly)")
    _check_residual(yv, x)
    return yv, x, gaps


def _profile(
    rho: FloatArray, yv: FloatArray, x: FloatArray, gaps: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per rho: ML profile log-likelihood, GLS coefficients, RSS and (X*'X*)^-1."""
    n = yv.size
    logdet, (yw, xw) = ar1_whiten(rho, gaps, yv, x)
    xtx = np.einsum("mni,mnj->mij", xw, xw)
    xty = np.einsum("mni,mn->mi", xw, yw)
    inv = np.linalg.inv(xtx)
    beta = np.einsum("mij,mj->mi", inv, xty)
    resid = yw - np.einsum("mni,mi->mn", xw, beta)
    rss = np.einsum("mn,mn->m", resid, resid)
    loglik = -0.5 * n * (math.log(2.0 * math.pi) + np.log(rss / n) + 1.0) - 0.5 * logdet
    return loglik, beta, rss, inv


def _sign_free(gaps: npt.NDArray[np.int64]) -> bool:
    """True when every gap is even: then rho and -rho fit equally well."""
    return gaps.size == 0 or bool(np.all(gaps % 2 == 0))


def ar1_gls(
    y: npt.ArrayLike, is_active: npt.ArrayLike, day: npt.ArrayLike, *, trend: bool = True
) -> Ar1Result:
    """GLS by maximum likelihood for ``y ~ arm (+ day)`` with AR(1) errors over day numbers.

    The correlation of two ratings is ``rho ** |day_i - day_j|``.  The likelihood, profiled
    over the coefficients and the variance, is maximised over rho in (-0.999, 0.999): a
    grid, then a bounded Brent search around the best grid point, so a local optimum at 0
    (where ``nlme::gls`` started at its default can stop) is not taken for the maximum.
    When every gap between rated days is even (e.g. every-other-day dosing) only rho^2 is
    identified; the non-negative rho is reported (the arm estimate is the same for both).

    Parameters
    ----------
    y : array_like
        The outcome, one value per day (NaN rows are dropped).
    is_active : array_like of bool
        1/True for the active arm, 0/False for placebo.
    day : array_like of int
        Day numbers (distinct; gaps allowed).
    trend : bool
        Include a linear trend in day.

    Returns
    -------
    Ar1Result
        Arm estimate, its standard error, rho, the t-test p on ``n - p`` df
        and the t interval; matches ``nlme::gls(y ~ arm + day, correlation = corAR1(form =
        ~ day), method = "ML")`` [1]_.

    References
    ----------
    .. [1] Pinheiro J, Bates D. *Mixed-Effects Models in S and S-PLUS*. Springer, 2000.

    Examples
    --------
    >>> r = ar1_gls([5.1, 4.8, 6.0, 6.3, 5.0, 4.6, 6.4, 6.1], [0, 0, 1, 1, 0, 0, 1, 1],
    ...             [1, 2, 3, 4, 5, 6, 7, 8], trend=False)
    >>> round(r.estimate, 3), round(r.rho, 3), r.df
    (1.31, -0.549, 6.0)
    """
    from scipy import optimize

    yv, x, gaps = ar1_design(y, is_active, day, trend)
    lo = 0.0 if _sign_free(gaps) else -RHO_BOUND

    def negll(r: float) -> float:
        return -float(_profile(np.array([r]), yv, x, gaps)[0][0])

    grid = np.linspace(lo, RHO_BOUND, 41 if lo == 0.0 else 81)
    ll = _profile(grid, yv, x, gaps)[0]
    i = int(np.argmax(ll))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = optimize.minimize_scalar(negll, bounds=(a, b), method="bounded", options={"xatol": 1e-10})
    rho = float(res.x) if -res.fun >= ll[i] else float(grid[i])
    _, beta, rss, inv = _profile(np.array([rho]), yv, x, gaps)
    n, k = x.shape
    # nlme's summary() scales the coefficient covariance by RSS / (n - p) also when the
    # fit is ML (checked against R in tests/reference/ar1_gls.Rout)
    sigma2 = float(rss[0]) / (n - k)
    estimate = float(beta[0, 1])
    se = math.sqrt(sigma2 * float(inv[0, 1, 1]))
    df = float(n - k)
    p, ci = _t_summary(estimate, se, df)
    return Ar1Result(estimate=estimate, se=se, rho=rho, p=p, ci95=ci, df=df)
