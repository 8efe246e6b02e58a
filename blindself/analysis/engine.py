"""The pre-registered analysis of an unblinded trial: the ``report.json`` document.

This module assembles (docs/design.md#statistical-plan): the entry point, the per-outcome
assembly, the multiplicity adjustment and adherence.  The contrasts are in
:mod:`blindself.analysis.contrasts`, the blinding section in :mod:`blindself.analysis.blinding`,
the other secondary analyses (dose trend, day after, placebo response, expectancy, carry-over,
trend) in :mod:`blindself.analysis.secondary`, and the statistics in
:mod:`blindself.analysis.stats` (one module per family, each tested against an external
reference).  Output is plain JSON-able data: every renderer (text, Markdown, HTML) reads only
this.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from blindself import __version__
from blindself.analysis.blinding import blinding_section
from blindself.analysis.blinding_correction import cgrc_section
from blindself.analysis.contrasts import ReferenceSets, _contrast
from blindself.analysis.dataset import DayRow, TrialData
from blindself.analysis.secondary import (
    as_float,
    attempt,
    carryover,
    day_after,
    dose_trend,
    expectancy,
    placebo_response,
    trend_per_week,
)
from blindself.analysis.stats import multiplicity
from blindself.analysis.stats.assignments import AssignmentSet
from blindself.analysis.stats.randomization import minimum_p
from blindself.protocol.model import Outcome
from blindself.trial.codes import format_code

SCHEMA = "blindself-report/1"


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
        "allocation": _allocation(data.rows),
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
    # Listwise deletion is over the daily ratings: a questionnaire asked weekly is missing by
    # design on the other days, which would otherwise delete them all
    # (docs/design.md#instruments).
    names = [x.name for x in data.outcomes if x.instrument is None]
    y_all = _values(rows, o.name, plan.missing == "listwise", names)
    # A questionnaire's score describes its period (it asks about the last days or weeks),
    # so it is compared on whichever day of the period it was asked, dose or "day after";
    # a single rating is compared on dose days (docs/design.md#instruments).
    compared = ("dose", "off") if o.instrument is not None else ("dose",)
    dose = np.array([r.day_type in compared and r.arm is not None for r in rows], dtype=bool)
    day = np.array([r.day for r in rows], dtype=float)
    arm = np.array([r.arm or "" for r in rows], dtype=object)
    period = np.array([r.period if r.period is not None else -1 for r in rows], dtype=int)
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
        c = _contrast(
            data, o, y, p_dose, day, arm, sets.get((act, placebo)), act, placebo, alternative
        )
        c["cgrc"] = attempt(
            c["notes"], "CGRC", cgrc_section, rows, y, arm, p_dose, act, placebo, actives,
            data.seed_material,
        )  # fmt: skip
        contrasts.append(c)
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
        **_instrument(o),
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


def _instrument(o: Outcome) -> dict[str, Any]:
    """A questionnaire's identity and published bands, for the report's course view
    (docs/design.md#instruments); nothing for a single rating, so their reports are unchanged."""
    if o.instrument is None:
        return {}
    i = o.instrument
    return {
        "instrument": {
            "name": i.name,
            "title": i.title,
            "scoring": i.scoring_version,
            "reference": i.reference,
            "bands": [{"from": b.start, "label": b.label, "severe": b.severe} for b in i.bands],
        }
    }


def _alternative(planned: str, better: str) -> str:
    # "greater" is pre-registered as "better than placebo" in the outcome's direction.
    if planned == "two-sided":
        return "two-sided"
    return "greater" if better == "higher" else "less"


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


def _allocation(rows: Sequence[DayRow]) -> list[dict[str, Any]]:
    """Every day of a container, with what it held and what became of it.

    The outcome series holds the analysed days only; this lists the code-broken, excluded,
    missed and not-taken days too, each with its status, so the unsealed allocation table
    leaves no day of a period out.
    """
    out = []
    for r in rows:
        if r.arm is None:
            continue
        if r.excluded == "after-unblinding":
            status = "after unblinding"
        elif r.codebroken:
            status = "code-broken (excluded)"
        elif r.excluded:
            status = f"excluded: {r.excluded}"
        elif not r.ratings:
            status = "missed"
        elif r.day_type == "dose" and r.taken is False:
            status = "not taken (analysed as scheduled)"
        else:
            status = "analysed"
        out.append(
            {
                "day": r.day,
                "date": r.date,
                "day_type": r.day_type,
                "code": format_code(r.code) if r.code else None,
                "arm": r.arm,
                "guess": r.guess,
                "status": status,
            }
        )
    return out


def _adherence(data: TrialData) -> dict[str, Any]:
    # Days after an early unblinding were never due: neither scheduled nor missed.
    rows = tuple(r for r in data.rows if r.excluded != "after-unblinding")
    checked = [r for r in rows if r.ratings and not r.imported_only]
    dose_days = [r for r in rows if r.day_type == "dose"]
    imported_only = sum(1 for r in rows if r.ratings and r.imported_only)
    return {
        # Missed check-ins whose outcome another app measured (blindself import).
        **({"imported_only": imported_only} if imported_only else {}),
        "scheduled": len(rows),
        "checked_in": len(checked),
        "missed": len(rows) - len(checked),
        "dose_days": len(dose_days),
        # Only days still in the comparison are "analysed as scheduled"; a self-mode period
        # without any container is excluded (no-container), not intention to treat (F7).
        "not_taken": sum(
            1
            for r in dose_days
            if r.ratings and r.taken is False and not r.excluded and not r.codebroken
        ),
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
