"""The pre-registered analysis of an unblinded trial, as ``report.json``
(docs/design.md#statistical-plan).

This module assembles; the statistics live in ``blindself.analysis.stats`` (one module per family),
each tested against an external reference.  Output is plain JSON-able data: every renderer
(text, Markdown, HTML) reads only this.

Here: the entry point, the per-outcome assembly with the pre-registered contrasts, the
multiplicity adjustment and adherence; the secondary analyses (dose trend, day after,
placebo response, expectancy, carry-over, trend, blinding) are in
:mod:`blindself.analysis.secondary`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from blindself import __version__
from blindself.analysis.dataset import DayRow, TrialData
from blindself.analysis.secondary import (
    as_float,
    as_pair,
    attempt,
    blinding_section,
    carryover,
    day_after,
    dose_trend,
    expectancy,
    placebo_response,
    trend_per_week,
)
from blindself.analysis.stats import bayes, multiplicity, ordinal, regression
from blindself.analysis.stats.assignments import AssignmentSet, assignment_set
from blindself.analysis.stats.randomization import minimum_p, randomization_test
from blindself.protocol.model import Outcome
from blindself.trial.codes import format_code

SCHEMA = "blindself-report/1"
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


def analyze(data: TrialData) -> dict[str, Any]:
    """Run the whole analysis plan; returns the report.json document (no NaN anywhere)."""
    sets = ReferenceSets(data)
    assignments = sets.full()
    placebo = next(a.name for a in data.arms if a.kind == "placebo")
    # every declared active arm gets its contrast (in protocol order), empty ones with a note
    actives = [a.name for a in data.arms if a.kind == "active"]
    none_arm = next(
        (a.name for a in data.arms if a.kind == "none" and a.name in data.observed), None
    )
    # Code-broken days and days a mistake took out of the randomized comparison (see
    # dataset.from_trial) are left out; the adherence section counts them by reason.
    rows = [r for r in data.rows if not r.codebroken and not r.excluded]
    outcomes = [_outcome(data, rows, o, sets, placebo, actives, none_arm) for o in data.outcomes]
    _adjust(outcomes, data)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "trial": _trial_info(data, assignments, placebo, actives),
        "adherence": _adherence(data),
        "outcomes": outcomes,
        "blinding": blinding_section(data, rows, sets.get, placebo, actives),
    }
    from blindself.analysis.verdict import verdict

    report["verdict"] = verdict(report)
    finite: dict[str, Any] = _finite(report)
    return finite


def _finite(x: Any) -> Any:
    """A copy with every non-finite float replaced by None and numpy scalars made plain.

    report.json is written with ``allow_nan=False``; an undefined statistic (a blinding
    index with no definite guess, a variance of one value) is ``null`` there.
    """
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return as_float(x)
    return x


def _seed(material: str) -> int:
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big")


def _trial_info(
    data: TrialData, a: AssignmentSet, placebo: str, actives: list[str]
) -> dict[str, Any]:
    plan = data.plan
    return {
        **data.meta,
        "title": data.title,
        "question": data.question,
        "arms": [
            {"name": x.name, "kind": x.kind, "label": x.label, "dose": x.dose, "unit": x.unit}
            for x in data.arms
        ],
        "primary": next(o.name for o in data.outcomes if o.primary),
        "plan": {
            "alpha": plan.alpha,
            "alternative": plan.alternative,
            "correction": plan.correction,
            "missing": plan.missing,
            "statistic": plan.statistic,
            "primary_test": plan.primary_test,
        },
        "scheme": data.scheme.to_json(),
        "scheme_note": data.scheme_note,
        "randomization": {
            "exact": a.exact,
            "assignments": a.total,
            "draws": a.draws,
            # for the pre-registered alternative; a pairwise contrast beside a third arm has
            # its own (smaller) set, reported with the contrast
            "p_min": minimum_p(a, "two-sided" if plan.alternative == "two-sided" else "greater"),
        },
        "placebo": placebo,
        "actives": actives,
        "days": len(data.rows),
        "periods": data.scheme.n_periods,
        "seed_material_sha256": hashlib.sha256(data.seed_material.encode()).hexdigest(),
    }


def _values(
    rows: Sequence[DayRow], outcome: str, listwise: bool, names: Sequence[str]
) -> np.ndarray:
    out = np.full(len(rows), np.nan)
    for i, r in enumerate(rows):
        v = r.ratings.get(outcome)
        if v is None:
            continue
        if listwise and any(r.ratings.get(n) is None for n in names):
            continue
        out[i] = float(v)
    return out


def _outcome(
    data: TrialData,
    rows: list[DayRow],
    o: Outcome,
    sets: ReferenceSets,
    placebo: str,
    actives: list[str],
    none_arm: str | None,
) -> dict[str, Any]:
    plan = data.plan
    names = [x.name for x in data.outcomes]
    y_all = _values(rows, o.name, plan.missing == "listwise", names)
    dose = np.array([r.day_type == "dose" and r.arm is not None for r in rows])
    day = np.array([r.day for r in rows], dtype=float)
    arm = np.array([r.arm or "" for r in rows], dtype=object)
    period = np.array([r.period if r.period is not None else -1 for r in rows])
    y = np.where(dose, y_all, np.nan)
    p_dose = np.where(dose, period, -1)
    alternative = _alternative(plan.alternative, o.better)

    n = {a.name: int(np.sum(~np.isnan(y) & (arm == a.name))) for a in data.arms}
    mean = {
        a.name: as_float(np.nanmean(y[arm == a.name])) if n[a.name] else None for a in data.arms
    }
    notes: list[str] = []
    contrasts = []
    for act in actives:
        contrasts.append(
            _contrast(
                data, o, y, p_dose, day, arm, sets.get((act, placebo)), act, placebo, alternative
            )
        )
    result: dict[str, Any] = {
        "name": o.name,
        "question": o.question,
        "primary": o.primary,
        "better": o.better,
        "scale": list(o.scale),
        "mcid": o.mcid,
        "alternative": alternative,
        "n": n,
        "mean": mean,
        "sd": {
            a.name: as_float(np.nanstd(y[arm == a.name], ddof=1)) if n[a.name] > 1 else None
            for a in data.arms
        },
        "contrasts": contrasts,
        "dose_trend": attempt(
            notes,
            "dose trend",
            dose_trend,
            data,
            y,
            p_dose,
            sets.get,
            placebo,
            actives,
            alternative,
        ),
        "day_after": day_after(data, rows, y_all, period, arm, sets.get, actives, placebo),
        "placebo_response": attempt(
            notes,
            "placebo response",
            placebo_response,
            data,
            rows,
            y_all,
            period,
            day,
            arm,
            sets.get,
            placebo,
            none_arm,
        ),
        "expectancy": attempt(notes, "expectancy", expectancy, rows, y, day, arm, actives, placebo),
        "carryover": attempt(
            notes, "carryover", carryover, rows, y, day, arm, data.observed, actives, placebo
        ),
        "trend_per_week": attempt(notes, "trend", trend_per_week, y, day, arm, actives, placebo),
        "notes": notes,
        "series": [
            {
                "day": int(d),
                "date": r.date,
                "arm": r.arm,
                "day_type": r.day_type,
                "y": as_float(v),
                "guess": r.guess,
                "code": format_code(r.code) if r.code else None,
            }
            for r, d, v in zip(rows, day, y_all, strict=True)
        ],
    }
    return result


def _alternative(planned: str, better: str) -> str:
    # "greater" is pre-registered as "better than placebo" in the outcome's direction.
    if planned == "two-sided":
        return "two-sided"
    return "greater" if better == "higher" else "less"


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


def _adjust(outcomes: list[dict[str, Any]], data: TrialData) -> None:
    """Holm across the primary outcome's contrasts (several active arms); for each contrast,
    the pre-registered correction over the secondary outcomes.  A contrast that could not be
    estimated (p None) stays None and is not counted in its family."""
    correction = data.plan.correction
    primary = next(o for o in outcomes if o["primary"])
    pc = primary["contrasts"]
    _set_adjusted(pc, "holm" if len(pc) > 1 else "none")
    secondary = [o for o in outcomes if not o["primary"]]
    for i in range(len(pc)):
        _set_adjusted([o["contrasts"][i] for o in secondary if len(o["contrasts"]) > i], correction)


def _set_adjusted(family: list[dict[str, Any]], correction: str) -> None:
    present = [c for c in family if c["p_randomization"] is not None]
    ps = [float(c["p_randomization"]) for c in present]
    if correction == "holm":
        adj = multiplicity.holm(ps)
    elif correction == "bh":
        adj = multiplicity.benjamini_hochberg(ps)
    else:
        adj = ps
    for c in family:
        c["p_adjusted"] = None
        c["correction"] = correction
        c["family_size"] = len(present)
    for c, p in zip(present, adj, strict=True):
        c["p_adjusted"] = as_float(p)


def _adherence(data: TrialData) -> dict[str, Any]:
    # Days after an early unblinding were never due: neither scheduled nor missed.
    rows = tuple(r for r in data.rows if r.excluded != "after-unblinding")
    checked = [r for r in rows if r.ratings]
    dose_days = [r for r in rows if r.day_type == "dose"]
    return {
        "scheduled": len(rows),
        "checked_in": len(checked),
        "missed": len(rows) - len(checked),
        "dose_days": len(dose_days),
        "not_taken": sum(1 for r in dose_days if r.ratings and r.taken is False),
        "deviations": sum(1 for r in rows if r.deviation),
        "codebreaks": len(data.meta.get("codebreaks", [])),
        "codebroken_days": sum(1 for r in rows if r.codebroken),
        "excluded_days": dict(
            sorted(
                Counter(
                    r.excluded for r in rows if r.excluded and r.ratings and not r.codebroken
                ).items()
            )
        ),
    }
