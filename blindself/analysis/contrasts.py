"""The pre-registered contrasts: each active arm against placebo, by the design's own randomization test, with its companion estimates (docs/design.md#randomization-test)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from blindself.analysis.dataset import TrialData
from blindself.analysis.secondary import as_float, as_pair, attempt
from blindself.analysis.stats import bayes, ordinal, regression
from blindself.analysis.stats.assignments import AssignmentSet, assignment_set
from blindself.analysis.stats.randomization import randomization_test
from blindself.protocol.model import Outcome

MC_DRAWS = 9999


MAX_EXACT = 2**20


class ReferenceSets:
    """The reference sets of the analysis' randomization tests, built once each.

    A test that compares some of the arms of a scheme with more arms (a pairwise contrast
    in ``["none", "placebo", "active"]`` blocks, the dose trend beside a ``none`` arm, the
    blinding test without the unblinded ``none`` periods) uses the conditional set that
    holds every other arm's periods at their observed arm (``assignment_set(...,
    compare=...)``).  Under the sharp null "the compared arms do not differ" the outcomes
    are then fixed in every allocation of the set, which the unconditional set does not give
    when the other arms differ from them (e.g. placebo from nothing), so the test stays
    exact whatever the other arms do.  Each set has its own Monte Carlo seed, derived from
    the trial's seed material and the compared arms, so re-analysis gives the same numbers.
    """

    def __init__(self, data: TrialData) -> None:
        self._data = data
        self._cache: dict[tuple[str, ...] | None, AssignmentSet] = {}

    def full(self) -> AssignmentSet:
        """The set of the whole scheme (every arm re-drawn)."""
        return self.get(tuple(self._data.scheme.arms))

    def get(self, arms: Sequence[str]) -> AssignmentSet:
        """The set that re-shuffles only ``arms`` (all arms: the whole scheme)."""
        data = self._data
        key: tuple[str, ...] | None = tuple(sorted(set(arms)))
        if set(data.observed) <= set(arms):
            key = None
        if key not in self._cache:
            material = data.seed_material if key is None else f"{data.seed_material}|{key}"
            rng = np.random.default_rng(_seed(material))
            self._cache[key] = assignment_set(
                data.scheme,
                data.observed,
                rng,
                max_exact=MAX_EXACT,
                draws=MC_DRAWS,
                compare=key,
            )
        return self._cache[key]


def _seed(material: str) -> int:
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big")


def _contrast(
    data: TrialData,
    o: Outcome,
    y: np.ndarray,
    period: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    assignments: AssignmentSet,
    act: str,
    placebo: str,
    alternative: str,
) -> dict[str, Any]:
    plan = data.plan
    two = (arm == act) | (arm == placebo)
    keep = two & ~np.isnan(y)
    is_active = (arm[keep] == act).astype(float)
    yk, dk = y[keep], day[keep]
    notes: list[str] = []
    out: dict[str, Any] = {
        "active": act,
        "placebo": placebo,
        "estimate": None,
        "ci95": None,
        "p_randomization": None,
        "p_greater": None,
        "p_less": None,
        "alternative": alternative,
        "randomization": None,
        "classical": None,
        "ar1": None,
        "bayes": None,
        "cliffs_delta": None,
        "p_adjusted": None,
        "notes": notes,
    }
    if is_active.sum() < 1 or (1 - is_active).sum() < 1:
        notes.append(f"no rated dose days of {act if is_active.sum() < 1 else placebo}")
        return out
    rt = randomization_test(
        y,
        period,
        assignments,
        data.scheme,
        active=act,
        placebo=placebo,
        alternative=alternative,
        statistic=plan.statistic,
        day=day,
        alpha=plan.alpha,
    )
    out.update(
        estimate=as_float(rt.estimate),
        ci95=as_pair(rt.ci95),
        p_randomization=as_float(rt.p_value),
        p_greater=as_float(rt.p_greater),
        p_less=as_float(rt.p_less),
        randomization={
            "exact": rt.exact,
            "assignments": rt.assignments,
            "draws": rt.draws,
            "p_min": as_float(rt.p_min),
            "statistic": plan.statistic,
            "reaches_alpha": bool(rt.p_min <= plan.alpha),
            # The periods holding a value, of the two arms' periods (docs/design.md#sparse-floor)
            "periods": rt.periods,
            "pair_periods": rt.pair_periods,
        },
    )
    c = attempt(notes, "classical", regression.classical, yk, is_active)
    if c is not None:
        out["classical"] = {
            "estimate": as_float(c.estimate),
            "se": as_float(c.se),
            "df": as_float(c.df),
            "p": as_float(c.p),
            "ci95": as_pair(c.ci95),
        }
    ar = attempt(notes, "AR(1)", regression.ar1_gls, yk, is_active, dk)
    if ar is not None:
        out["ar1"] = {
            "estimate": as_float(ar.estimate),
            "se": as_float(ar.se),
            "rho": as_float(ar.rho),
            "p": as_float(ar.p),
            "ci95": as_pair(ar.ci95),
            "df": as_float(ar.df),
        }
    width = o.scale[1] - o.scale[0]
    weak, ref = (
        attempt(
            notes,
            label,
            bayes.bayes_effect,
            yk,
            is_active,
            dk,
            better=o.better,
            mcid=o.mcid,
            prior=prior,
            scale_width=width,
        )
        for prior, label in (("weak", "Bayes"), ("reference", "Bayes (reference prior)"))
    )
    if weak is not None and ref is not None:
        out["bayes"] = {**_bayes(weak), "reference": _bayes(ref)}
    cd = ordinal.cliffs_delta_test(
        y, period, assignments, data.scheme, active=act, placebo=placebo, alternative=alternative
    )
    out["cliffs_delta"] = {
        "delta": as_float(cd.delta),
        "p_randomization": as_float(cd.p_randomization),
        "levels": cd.levels,
    }
    return out


def _bayes(b: Any) -> dict[str, Any]:
    return {
        "prior": b.prior,
        "mean": as_float(b.mean),
        "ci95": as_pair(b.ci95),
        "p_benefit": as_float(b.p_benefit),
        "p_above_mcid": as_float(b.p_above_mcid),
    }
