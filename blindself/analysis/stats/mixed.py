"""The random-intercept linear mixed model fitted by REML in closed form over per-person sums.

A random-intercept model has a closed-form profile likelihood in the variance ratio
``gamma = tau^2 / sigma^2``, so only per-person sums enter and the fit is a one-dimensional
search (as ``lme4::lmer`` fits it; Bates D, Maechler M, Bolker B, Walker S. Fitting linear
mixed-effects models using lme4. *J Stat Softw* 2015;67(1):1-48).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from blindself.errors import DataError

Float = NDArray[np.float64]


Int = NDArray[np.intp]


# scipy.special's functions behind scipy.stats.norm (whose import costs ~0.6 s).
_Z975 = float(special.ndtri(0.975))


@dataclass(frozen=True)
class Effect:
    """A Wald estimate: ``ci95 = estimate -/+ 1.96 se``, two-sided normal p."""

    estimate: float
    se: float
    ci95: tuple[float, float]
    p: float

    @classmethod
    def wald(cls, estimate: float, se: float) -> Effect:
        if not se > 0:
            return cls(estimate, se, (math.nan, math.nan), math.nan)
        half = _Z975 * se
        p = float(2 * special.ndtr(-abs(estimate) / se))
        return cls(estimate, se, (estimate - half, estimate + half), p)

    def to_json(self) -> dict[str, Any]:
        return {"estimate": _num(self.estimate), "se": _num(self.se),
                "ci95": [_num(self.ci95[0]), _num(self.ci95[1])], "p": _num(self.p)}  # fmt: skip


@dataclass(frozen=True)
class MixedFit:
    """REML fit of ``y ~ X + (1 | group)``; ``cov`` is the fixed effects' covariance."""

    names: tuple[str, ...]
    coef: Float
    cov: Float
    sigma2: float  # residual variance
    tau2: float  # between-person variance of the intercept
    n_obs: int
    n_groups: int

    def effect(self, name: str) -> Effect:
        i = self.names.index(name)
        return Effect.wald(float(self.coef[i]), math.sqrt(float(self.cov[i, i])))

    def contrast(self, weights: Mapping[str, float]) -> Effect:
        """Wald estimate of ``sum(w * coef)`` over the named coefficients."""
        L = np.zeros(len(self.names))
        for name, w in weights.items():
            L[self.names.index(name)] = w
        return Effect.wald(float(L @ self.coef), math.sqrt(max(float(L @ self.cov @ L), 0.0)))


def fit_random_intercept(y: Float, X: Float, groups: Int, names: Sequence[str]) -> MixedFit:
    """REML fit of the random-intercept model ``y = X b + u[group] + e``.

    ``groups`` holds 0-based person indices; ``X`` includes the intercept column.  The
    profile REML criterion (Bates et al. 2015, eq. 41, with one variance ratio) is
    minimised over ``theta = tau / sigma`` on a log grid refined by Brent's method; the
    boundary ``theta = 0`` (no between-person variance) is checked too.

    Examples
    --------
    Two people, two days each; the person effect is as large as the day-to-day noise:

    >>> X = np.column_stack([np.ones(6), [1.0, 0, 1, 0, 1, 0]])
    >>> f = fit_random_intercept(np.array([3.0, 1, 5, 4, 2, 1]), X, np.array([0, 0, 1, 1, 2, 2]),
    ...                          ["(Intercept)", "arm"])
    >>> round(float(f.coef[1]), 4)
    1.3333
    """
    n, p = X.shape
    if y.shape != (n,) or groups.shape != (n,):
        raise ValueError("y, X and groups must have the same number of rows")
    if n <= p:
        raise DataError(f"{n} observations cannot fit {p} coefficients: pool more data")
    if np.linalg.matrix_rank(X) < p:
        raise DataError(
            "the model's columns are collinear (a covariate constant or duplicated, or an arm "
            "never seen): drop that covariate"
        )
    G = int(groups.max()) + 1
    ni = np.bincount(groups, minlength=G).astype(float)
    Sx = np.zeros((G, p))
    _group_sums(Sx, groups, X)
    Sy = np.bincount(groups, weights=y, minlength=G)
    XtX, Xty, yty = X.T @ X, X.T @ y, float(y @ y)

    def parts(theta: float) -> tuple[float, Float, Float, float]:
        gamma = theta * theta
        w = gamma / (1.0 + ni * gamma)
        A = XtX - (Sx * w[:, None]).T @ Sx
        b = Xty - Sx.T @ (w * Sy)
        beta = np.asarray(np.linalg.solve(A, b), dtype=np.float64)
        rss = yty - float((w * Sy) @ Sy) - float(b @ beta)
        return rss, A, beta, float(np.log1p(ni * gamma).sum())

    def criterion(log_theta: float) -> float:
        rss, A, _, logdet_v = parts(math.exp(log_theta))
        return _reml(rss, A, logdet_v, n, p)

    rss0, A0, _, _ = parts(0.0)
    if not rss0 > 1e-12 * max(yty, 1.0):
        raise DataError(
            "the ratings do not vary beyond what the model explains (a constant measure?): "
            "nothing to estimate"
        )
    from scipy import optimize

    grid = np.linspace(-8.0, 6.0, 29)
    values = [criterion(t) for t in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    best = optimize.minimize_scalar(criterion, bounds=(lo, hi), method="bounded",
                                    options={"xatol": 1e-9})  # fmt: skip
    theta = math.exp(float(best.x))
    if _reml(rss0, A0, 0.0, n, p) <= float(best.fun):
        theta = 0.0
    rss, A, beta, _ = parts(theta)
    sigma2 = max(rss, 0.0) / (n - p)
    cov = sigma2 * np.linalg.inv(A)
    return MixedFit(tuple(names), beta, cov, sigma2, sigma2 * theta * theta, n, G)


def _group_sums(out: Float, groups: Int, X: Float) -> None:
    # bincount per column: np.add.at is an order of magnitude slower on large inputs
    for j in range(X.shape[1]):
        out[:, j] = np.bincount(groups, weights=X[:, j], minlength=out.shape[0])


def _reml(rss: float, A: Float, logdet_v: float, n: int, p: int) -> float:
    sign, logdet_a = np.linalg.slogdet(A)
    if sign <= 0 or not rss > 0:
        return math.inf
    return (n - p) * math.log(rss / (n - p)) + logdet_v + float(logdet_a)


def covariate_matrix(
    columns: Mapping[str, Sequence[str]],
) -> tuple[Float, tuple[str, ...], NDArray[np.bool_]]:
    """Design columns for covariates given as text; returns (matrix, names, row is complete).

    A column whose every non-empty value parses as a number is numeric; otherwise it is
    categorical, coded by treatment contrasts against its first level in sorted order
    (R's default), one column ``NAME[LEVEL]`` per other level.  Empty and ``NA`` cells mark
    the row incomplete.

    Examples
    --------
    >>> m, names, ok = covariate_matrix({"age": ["30", "", "41"], "sex": ["m", "f", "m"]})
    >>> names, ok.tolist(), m[:, 1].tolist()
    (('age', 'sex[m]'), [True, False, True], [1.0, 0.0, 1.0])
    """
    n = len(next(iter(columns.values()))) if columns else 0
    ok = np.ones(n, dtype=bool)
    blocks: list[Float] = []
    names: list[str] = []
    for name, raw in columns.items():
        text = np.asarray(raw, dtype=str)
        text = np.char.strip(text)
        missing = np.isin(text, ["", "NA", "NaN", "nan", "None"])
        ok &= ~missing
        present = text[~missing]
        try:
            numbers = np.full(n, np.nan)
            numbers[~missing] = present.astype(float)
        except ValueError:
            levels = sorted(set(present.tolist()))
            if len(levels) < 2:
                raise DataError(
                    f"covariate {name!r} has a single value ({levels[0] if levels else 'none'}): "
                    "drop it from --covariates"
                ) from None
            for level in levels[1:]:
                blocks.append((text == level).astype(float))
                names.append(f"{name}[{level}]")
            continue
        if not np.isfinite(numbers[~missing]).all():
            raise DataError(f"covariate {name!r} holds an infinite value: fix the data")
        blocks.append(np.where(missing, 0.0, numbers))
        names.append(name)
    matrix = np.column_stack(blocks) if blocks else np.zeros((n, 0))
    return matrix, tuple(names), ok


def _num(x: float) -> float | None:
    """JSON-safe number: NaN and infinities become null."""
    return float(x) if math.isfinite(x) else None
