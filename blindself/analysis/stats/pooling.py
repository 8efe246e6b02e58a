"""Pooling trials across people: mixed models, N-of-1 meta-analysis, blinding of the group.

Three views of the same data, one row per observation (a person's rating on one day):

* :func:`fit_random_intercept`: the linear mixed model ``y ~ X + (1 | participant)`` by
  REML, as ``lme4::lmer`` [1]_ fits it.  A random-intercept model has a closed-form profile
  likelihood in the variance ratio ``gamma = tau^2 / sigma^2`` (each person's covariance is
  ``sigma^2 (I + gamma J)``, inverted by Sherman-Morrison), so only per-person sums enter and
  the fit is a one-dimensional search; 10,000 people cost milliseconds.  Standard errors are
  lme4's (``sigma^2 (X' V^-1 X)^-1`` at the REML estimate), intervals and p-values are Wald
  (normal), as the published analyses report ``estimate +/- 1.96 SE``.
* :func:`n_of_1_estimates` and :func:`random_effects_meta`: each person's own active - placebo
  mean difference, pooled by DerSimonian and Laird [2]_ with ``tau^2`` and Higgins' ``I^2`` [3]_.
* :func:`group_blinding`: the correct-guess rate against a guesser who knows the arm ratio,
  and Bang's index per arm (:mod:`blindself.analysis.stats.blinding`).

References
----------
.. [1] Bates D, Maechler M, Bolker B, Walker S. Fitting linear mixed-effects models using
   lme4. *J Stat Softw* 2015;67(1):1-48.
.. [2] DerSimonian R, Laird N. Meta-analysis in clinical trials. *Control Clin Trials*
   1986;7:177-188.
.. [3] Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. *Stat Med*
   2002;21:1539-1558.
.. [4] Szigeti B et al. Self-blinding citizen science to explore psychedelic microdosing.
   *eLife* 2021;10:e62878 (the condition x guess strata of figure 5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from scipy import stats as sps

from blindself.analysis.stats.blinding import bang_index
from blindself.errors import DataError

__all__ = [
    "Effect",
    "MeasureResult",
    "MetaResult",
    "MixedFit",
    "NOf1",
    "covariate_matrix",
    "fit_random_intercept",
    "group_blinding",
    "n_of_1_estimates",
    "pool_measure",
    "random_effects_meta",
]

Float = NDArray[np.float64]
Int = NDArray[np.intp]
_Z975 = float(sps.norm.ppf(0.975))


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
        p = float(2 * sps.norm.sf(abs(estimate) / se))
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


@dataclass(frozen=True)
class NOf1:
    """Each person's active - placebo mean difference with its pooled-variance SE."""

    participants: tuple[str, ...]
    estimate: Float
    se: Float
    n_active: Int
    n_placebo: Int
    n_both: int  # people with both arms
    n_excluded: int  # of those, left out: fewer than 3 ratings or no within-arm variation


def n_of_1_estimates(y: Float, arm: Float, groups: Int, labels: Sequence[str]) -> NOf1:
    """Per-person N-of-1 contrasts (OLS ``y ~ arm`` within each person), vectorised.

    ``se^2 = s^2 (1/n_a + 1/n_p)`` with ``s^2`` the pooled within-arm variance on
    ``n_a + n_p - 2`` degrees of freedom.  People without both arms are not counted; people
    with both arms but no residual degree of freedom or zero variance are excluded (counted).
    """
    G = len(labels)
    key = groups * 2 + arm.astype(np.intp)
    cnt = np.bincount(key, minlength=2 * G).reshape(G, 2)
    s1 = np.bincount(key, weights=y, minlength=2 * G).reshape(G, 2)
    s2 = np.bincount(key, weights=y * y, minlength=2 * G).reshape(G, 2)
    both = (cnt > 0).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        ss = s2 - s1 * mean  # within-arm sums of squares
        df = cnt.sum(axis=1) - 2
        s2_pooled = np.nansum(ss, axis=1) / df
        se = np.sqrt(s2_pooled * (1 / cnt[:, 1] + 1 / cnt[:, 0]))
        est = mean[:, 1] - mean[:, 0]
    usable = both & (df > 0) & (se > 1e-12 * (1 + np.abs(est)))
    idx = np.flatnonzero(usable)
    return NOf1(
        participants=tuple(labels[int(i)] for i in idx),
        estimate=est[idx],
        se=se[idx],
        n_active=cnt[idx, 1].astype(np.intp),
        n_placebo=cnt[idx, 0].astype(np.intp),
        n_both=int(both.sum()),
        n_excluded=int(both.sum() - usable.sum()),
    )


@dataclass(frozen=True)
class MetaResult:
    """Random-effects pooled estimate (DerSimonian-Laird) and heterogeneity."""

    effect: Effect
    tau2: float
    i2: float
    q: float
    q_p: float
    k: int
    method: str = "DerSimonian-Laird"

    def to_json(self) -> dict[str, Any]:
        return {**self.effect.to_json(), "tau2": _num(self.tau2), "i2": _num(self.i2),
                "q": _num(self.q), "q_p": _num(self.q_p), "k": self.k,
                "method": self.method}  # fmt: skip


def random_effects_meta(estimates: Float, se: Float) -> MetaResult:
    """DerSimonian-Laird random-effects meta-analysis [2]_ with Higgins' I^2 [3]_.

    Examples
    --------
    metafor 3.8-1, ``rma(yi, sei = sei, method = "DL")``, yi = (1, 2, 4), sei = (1, 1, 2):

    >>> r = random_effects_meta(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    >>> round(r.effect.estimate, 4), round(r.tau2, 4)
    (1.7778, 0.0)
    """
    k = len(estimates)
    if k == 0:
        raise DataError("no participant has both arms with usable data: nothing to meta-analyse")
    v = se**2
    w = 1.0 / v
    fixed = float(w @ estimates / w.sum())
    q = float(w @ (estimates - fixed) ** 2)
    c = float(w.sum() - (w @ w) / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 and c > 0 else 0.0
    ws = 1.0 / (v + tau2)
    est = float(ws @ estimates / ws.sum())
    i2 = max(0.0, (q - (k - 1)) / q) if k > 1 and q > 0 else 0.0
    q_p = float(sps.chi2.sf(q, k - 1)) if k > 1 else math.nan
    return MetaResult(Effect.wald(est, math.sqrt(1.0 / ws.sum())), tau2, i2, q, q_p, k)


def group_blinding(arm: Float, guess: Float) -> dict[str, Any]:
    """Was the blind kept across the group?  ``guess`` is 1 active, 0 placebo, NaN unsure.

    The correct-guess rate of definite guesses is compared, by an exact two-sided binomial
    test, with a guesser who knows only the arm ratio ``p`` and always names the more common
    arm (accuracy ``max(p, 1 - p)``).  Bang's index per arm counts unsure answers in its
    denominator.  Observations of one person are not independent: the test is descriptive.
    """
    definite = ~np.isnan(guess)
    n = int(definite.sum())
    table = {
        "active": {"active": int(((guess == 1) & (arm == 1)).sum()),
                   "placebo": int(((guess == 1) & (arm == 0)).sum())},
        "placebo": {"active": int(((guess == 0) & (arm == 1)).sum()),
                    "placebo": int(((guess == 0) & (arm == 0)).sum())},
        "unsure": {"active": int((~definite & (arm == 1)).sum()),
                   "placebo": int((~definite & (arm == 0)).sum())},
    }  # fmt: skip
    bang = bang_index(table, ["active", "placebo"])
    out: dict[str, Any] = {
        "table": table,
        "n_definite": n,
        "n_unsure": int((~definite).sum()),
        "bang": {
            a: {"bi": _num(b.bi), "se": _num(b.se), "limit95": _num(b.limit95)}
            for a, b in bang.items()
        },
        "correct_rate": None,
        "chance_rate": None,
        "p": None,
    }
    if n:
        correct = int((guess[definite] == arm[definite]).sum())
        share = float(arm[definite].mean())
        chance = max(share, 1.0 - share)
        out["correct_rate"] = correct / n
        out["chance_rate"] = chance
        out["p"] = float(sps.binomtest(correct, n, chance).pvalue) if chance < 1 else None
    return out


@dataclass(frozen=True)
class MeasureResult:
    """Everything pooled for one measure, ready for ``to_json``."""

    measure: str
    drug: Effect
    drug_adjusted: Effect | None
    guess: Effect | None
    strata: dict[str, Any] | None
    n_observations: int
    n_participants: int
    n_guess_observations: int
    covariates: tuple[str, ...]
    tau2: float
    sigma2: float
    meta: MetaResult | None
    n_of_1: NOf1
    meta_note: str | None
    blinding: dict[str, Any] | None

    def to_json(self, max_participants: int | None = None) -> dict[str, Any]:
        n1 = self.n_of_1
        shown = len(n1.participants) if max_participants is None else max_participants
        return {
            "measure": self.measure,
            "model": "y ~ arm" + "".join(f" + {c}" for c in self.covariates)
            + " + (1 | participant), REML; Wald 95 % intervals",
            "drug_effect": self.drug.to_json(),
            "drug_effect_guess_adjusted": None if self.drug_adjusted is None
            else self.drug_adjusted.to_json(),
            "guess_effect": None if self.guess is None else {
                k: v for k, v in self.guess.to_json().items() if k != "ci95"},
            "strata": self.strata,
            "n_observations": self.n_observations,
            "n_participants": self.n_participants,
            "n_guess_observations": self.n_guess_observations,
            "variance": {"between_participants": _num(self.tau2), "residual": _num(self.sigma2)},
            "meta_analysis": None if self.meta is None else {
                **self.meta.to_json(), "n_both_arms": n1.n_both, "n_excluded": n1.n_excluded},
            "meta_note": self.meta_note,
            "n_of_1": [
                {"participant": n1.participants[i], "estimate": _num(float(n1.estimate[i])),
                 "se": _num(float(n1.se[i])), "n_active": int(n1.n_active[i]),
                 "n_placebo": int(n1.n_placebo[i])}
                for i in range(min(shown, len(n1.participants)))
            ],
            "blinding": self.blinding,
        }  # fmt: skip


def pool_measure(
    measure: str,
    y: Float,
    arm: Float,
    groups: Int,
    labels: Sequence[str],
    covariates: Mapping[str, Sequence[str]] | None = None,
    guess: Float | None = None,
) -> MeasureResult:
    """All pooled analyses of one measure.

    ``arm`` is 1 for active and 0 for placebo; ``guess`` 1 / 0 / NaN (unsure or not asked);
    ``groups`` 0-based indices into ``labels``.  Rows missing ``y`` or a covariate are dropped
    first.  The guess-adjusted model and the strata use the rows with a definite guess.
    """
    cov_cols, cov_names, ok = covariate_matrix(covariates or {})
    if not covariates:
        cov_cols, ok = np.zeros((len(y), 0)), np.ones(len(y), dtype=bool)
    ok &= np.isfinite(y)
    if guess is None:
        guess = np.full(len(y), np.nan)
    y, arm, groups, guess, cov_cols = y[ok], arm[ok], groups[ok], guess[ok], cov_cols[ok]
    if len(y) == 0:
        raise DataError(f"measure {measure!r} has no complete row: check the columns")
    if arm.min() == arm.max():
        raise DataError(f"measure {measure!r} has only one arm: pooling needs both")
    # renumber people so that unused labels do not enter the model
    used, groups = np.unique(groups, return_inverse=True)
    groups = groups.astype(np.intp)
    labels = [labels[i] for i in used]
    ones = np.ones(len(y))
    base_names = ["(Intercept)", "arm", *cov_names]
    fit = fit_random_intercept(y, np.column_stack([ones, arm, cov_cols]), groups, base_names)
    drug_adj = guess_eff = None
    strata = None
    has = ~np.isnan(guess)
    n_guess = int(has.sum())
    if n_guess and 0 < guess[has].mean() < 1 and 0 < arm[has].mean() < 1:
        yg, ag, gg, cg = y[has], arm[has], guess[has], cov_cols[has]
        _, grp = np.unique(groups[has], return_inverse=True)
        grp = grp.astype(np.intp)
        Xg = np.column_stack([np.ones(len(yg)), ag, cg, gg])
        fit_g = fit_random_intercept(yg, Xg, grp, [*base_names, "guess"])
        drug_adj, guess_eff = fit_g.effect("arm"), fit_g.effect("guess")
        strata = _strata(yg, ag, gg, cg, grp, base_names)
    n1 = n_of_1_estimates(y, arm, groups, labels)
    meta = meta_note = None
    if len(n1.participants):
        meta = random_effects_meta(n1.estimate, n1.se)
    else:
        meta_note = "no participant has both arms with at least 3 varying ratings"
    return MeasureResult(
        measure=measure, drug=fit.effect("arm"), drug_adjusted=drug_adj, guess=guess_eff,
        strata=strata, n_observations=fit.n_obs, n_participants=fit.n_groups,
        n_guess_observations=n_guess, covariates=cov_names, tau2=fit.tau2,
        sigma2=fit.sigma2, meta=meta, n_of_1=n1, meta_note=meta_note,
        blinding=group_blinding(arm, guess) if n_guess else None,
    )  # fmt: skip


def _strata(
    y: Float, arm: Float, guess: Float, cov: Float, groups: Int, base: Sequence[str]
) -> dict[str, Any] | None:
    """The four condition x guess cells (Szigeti et al. 2021, fig. 5) from
    ``y ~ arm * guess + covariates + (1 | participant)``: model means at the covariates'
    averages (as ``emmeans``) and the contrasts at fixed belief and at fixed drug."""
    cells = [(a, g) for a in (0.0, 1.0) for g in (0.0, 1.0)]
    counts = {c: int(((arm == c[0]) & (guess == c[1])).sum()) for c in cells}
    if min(counts.values()) == 0:
        return None
    X = np.column_stack([np.ones(len(y)), arm, cov, guess, arm * guess])
    fit = fit_random_intercept(y, X, groups, [*base, "guess", "arm:guess"])
    means = dict(zip(base[2:], cov.mean(axis=0), strict=True)) if cov.shape[1] else {}
    name = {0.0: "placebo", 1.0: "active"}
    out_cells = []
    for a, g in cells:
        w = {"(Intercept)": 1.0, "arm": a, "guess": g, "arm:guess": a * g, **means}
        e = fit.contrast(w)
        sel = (arm == a) & (guess == g)
        out_cells.append({"arm": name[a], "guess": name[g], "n": counts[(a, g)],
                          "observed_mean": float(y[sel].mean()), **e.to_json()})  # fmt: skip
    contrasts = []
    for g in (0.0, 1.0):
        e = fit.contrast({"arm": 1.0, "arm:guess": g})
        contrasts.append({"kind": "drug at fixed belief", "fixed": f"guess {name[g]}",
                          "label": f"active - placebo | guessed {name[g]}", **e.to_json()})  # fmt: skip
    for a in (0.0, 1.0):
        e = fit.contrast({"guess": 1.0, "arm:guess": a})
        contrasts.append({"kind": "belief at fixed drug", "fixed": f"took {name[a]}",
                          "label": f"guessed active - guessed placebo | took {name[a]}", **e.to_json()})  # fmt: skip
    return {"model": "y ~ arm * guess + covariates + (1 | participant)", "cells": out_cells,
            "contrasts": contrasts, "interaction": fit.effect("arm:guess").to_json()}  # fmt: skip


def _num(x: float) -> float | None:
    """JSON-safe number: NaN and infinities become null."""
    return float(x) if math.isfinite(x) else None
