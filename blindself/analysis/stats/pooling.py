"""Pooling trials across people: mixed models, N-of-1 meta-analysis, blinding of the group.

This module assembles them per measure; the models live in
:mod:`blindself.analysis.stats.mixed` and :mod:`blindself.analysis.stats.meta`.

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
.. [5] IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for random
   effects meta-analysis is straightforward and considerably outperforms the standard
   DerSimonian-Laird method. *BMC Med Res Methodol* 2014;14:25 (DerSimonian-Laird intervals
   cover far below 95 % with few studies).
.. [6] Higgins JPT et al. (eds). *Cochrane Handbook for Systematic Reviews of Interventions*,
   version 6.4, 2023, section 10.10.4.1 (the between-study variance is poorly estimated with
   few studies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blindself.analysis.stats.blinding import bang_index
from blindself.analysis.stats.meta import MetaResult, NOf1, n_of_1_estimates, random_effects_meta
from blindself.analysis.stats.mixed import (
    Effect,
    Float,
    Int,
    _num,
    covariate_matrix,
    fit_random_intercept,
)
from blindself.errors import DataError

__all__ = [
    "MeasureResult",
    "group_blinding",
    "pool_measure",
]


SMALL_POOL = 5  # fewer participants than this: the pooled report warns (docs/design.md#pooling)


def distinct_resamples(n: int) -> int:
    """How many different samples resampling ``n`` participants with replacement can give:
    the multisets of size ``n`` from ``n``, ``C(2n - 1, n)``."""
    from math import comb

    return comb(2 * n - 1, n)


def small_pool_warning(n: int) -> str | None:
    """The warning a pool of fewer than :data:`SMALL_POOL` participants carries, else None.

    Every pooled view leans on the spread *between* people, estimated from ``n - 1`` degrees
    of freedom: the mixed model's random intercept, DerSimonian-Laird's ``tau^2`` (whose
    intervals cover far below 95 % with few studies [5]_, [6]_) and the participant
    bootstrap of the correct guess rate curve, which has only ``C(2n - 1, n)`` distinct
    resamples (3, 10, 35 for 2, 3, 4 people; 126 at 5, enough for a 95 % percentile
    interval to take more than a handful of values).
    """
    if n >= SMALL_POOL:
        return None
    people = f"{n} participant{'s' * (n != 1)}"
    return (
        f"only {people}: with fewer than {SMALL_POOL}, the spread between people (the mixed "
        f"model's random intercept, the meta-analysis's tau^2) rests on {max(n - 1, 0)} degree"
        f"{'s' * (n - 1 != 1)} of freedom, so the pooled intervals are too narrow, and "
        f"resampling participants gives only {distinct_resamples(n)} distinct samples; read "
        "the result as separate N-of-1 trials (each person's effect is listed), not as a "
        "group estimate"
    )


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
        from scipy.stats import binomtest  # pool only: kept off the analysis' imports

        correct = int((guess[definite] == arm[definite]).sum())
        share = float(arm[definite].mean())
        chance = max(share, 1.0 - share)
        out["correct_rate"] = correct / n
        out["chance_rate"] = chance
        out["p"] = float(binomtest(correct, n, chance).pvalue) if chance < 1 else None
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
    guess_note: str | None = None  # why the guess-adjusted model / strata are not reported

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
            "guess_note": self.guess_note,
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
    guess_note = None
    has = ~np.isnan(guess)
    n_guess = int(has.sum())
    if n_guess and 0 < guess[has].mean() < 1 and 0 < arm[has].mean() < 1:
        yg, ag, gg, cg = y[has], arm[has], guess[has], cov_cols[has]
        _, grp = np.unique(groups[has], return_inverse=True)
        grp = grp.astype(np.intp)
        Xg = np.column_stack([np.ones(len(yg)), ag, cg, gg])
        # Reliability fix (F10): when a failed blind makes the guess equal the arm (for the
        # people who guessed), this model is rank-deficient; that is a finding about the guess
        # model alone and must not take the drug-effect model and the meta-analysis with it.
        try:
            fit_g = fit_random_intercept(yg, Xg, grp, [*base_names, "guess"])
            drug_adj, guess_eff = fit_g.effect("arm"), fit_g.effect("guess")
            strata = _strata(yg, ag, gg, cg, grp, base_names)
        except DataError as exc:
            drug_adj = guess_eff = strata = None
            guess_note = f"guess-adjusted model not estimable: {exc}"
    elif n_guess:
        guess_note = "guess-adjusted model not estimable: the definite guesses " + (
            "all name one arm" if guess[has].min() == guess[has].max() else "cover one arm"
        )
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
        blinding=group_blinding(arm, guess) if n_guess else None, guess_note=guess_note,
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
