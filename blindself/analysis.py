"""The pre-registered analysis of an unblinded trial, as ``report.json`` (SPEC 9).

This module assembles; the statistics live in ``blindself.stats`` (one module per family),
each tested against an external reference.  Output is plain JSON-able data: every renderer
(text, Markdown, HTML) reads only this.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from blindself import __version__
from blindself.codes import format_code
from blindself.dataset import DayRow, TrialData
from blindself.errors import DataError
from blindself.protocol import Outcome
from blindself.stats import bayes, blinding, multiplicity, ordinal, regression, trend
from blindself.stats.assignments import AssignmentSet, assignment_set
from blindself.stats.guesses import guess_independence_p
from blindself.stats.randomization import minimum_p, randomization_test

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
    rows = [r for r in data.rows if not r.codebroken]
    outcomes = [_outcome(data, rows, o, sets, placebo, actives, none_arm) for o in data.outcomes]
    _adjust(outcomes, data)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "trial": _trial_info(data, assignments, placebo, actives),
        "adherence": _adherence(data),
        "outcomes": outcomes,
        "blinding": _blinding(data, rows, sets, placebo, actives),
    }
    from blindself.verdict import verdict

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
        return _num(x)
    return x


T = TypeVar("T")


def _try(notes: list[str], label: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run a companion model; data it cannot fit (no variation, too few days) gives a note.

    A numerical failure of a companion (an optimiser that cannot bracket its root, a singular
    matrix) also leaves a note instead of losing the whole report: the randomization test,
    which is not run through here, is the pre-registered analysis.
    """
    try:
        return fn(*args, **kwargs)
    except DataError as exc:
        notes.append(f"{label}: {exc}")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        notes.append(f"{label}: could not be computed ({type(exc).__name__}: {exc})")
    return None


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
    mean = {a.name: _num(np.nanmean(y[arm == a.name])) if n[a.name] else None for a in data.arms}
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
            a.name: _num(np.nanstd(y[arm == a.name], ddof=1)) if n[a.name] > 1 else None
            for a in data.arms
        },
        "contrasts": contrasts,
        "dose_trend": _try(
            notes, "dose trend", _dose_trend, data, y, p_dose, sets, placebo, actives, alternative
        ),
        "day_after": _day_after(data, rows, y_all, period, arm, sets, actives, placebo),
        "placebo_response": _try(
            notes,
            "placebo response",
            _placebo_response,
            data,
            rows,
            y_all,
            period,
            day,
            arm,
            sets,
            placebo,
            none_arm,
        ),
        "expectancy": _try(notes, "expectancy", _expectancy, rows, y, day, arm, actives, placebo),
        "carryover": _try(
            notes, "carryover", _carryover, rows, y, day, arm, data.observed, actives, placebo
        ),
        "trend_per_week": _try(notes, "trend", _trend, y, day, arm, actives, placebo),
        "notes": notes,
        "series": [
            {
                "day": int(d),
                "date": r.date,
                "arm": r.arm,
                "day_type": r.day_type,
                "y": _num(v),
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
        estimate=_num(rt.estimate),
        ci95=_pair(rt.ci95),
        p_randomization=_num(rt.p_value),
        p_greater=_num(rt.p_greater),
        p_less=_num(rt.p_less),
        randomization={
            "exact": rt.exact,
            "assignments": rt.assignments,
            "draws": rt.draws,
            "p_min": _num(rt.p_min),
            "statistic": plan.statistic,
            "reaches_alpha": bool(rt.p_min <= plan.alpha),
        },
    )
    c = _try(notes, "classical", regression.classical, yk, is_active)
    if c is not None:
        out["classical"] = {
            "estimate": _num(c.estimate),
            "se": _num(c.se),
            "df": _num(c.df),
            "p": _num(c.p),
            "ci95": _pair(c.ci95),
        }
    ar = _try(notes, "AR(1)", regression.ar1_gls, yk, is_active, dk)
    if ar is not None:
        out["ar1"] = {
            "estimate": _num(ar.estimate),
            "se": _num(ar.se),
            "rho": _num(ar.rho),
            "p": _num(ar.p),
            "ci95": _pair(ar.ci95),
            "df": _num(ar.df),
        }
    width = o.scale[1] - o.scale[0]
    weak = _try(
        notes,
        "Bayes",
        bayes.bayes_effect,
        yk,
        is_active,
        dk,
        better=o.better,
        mcid=o.mcid,
        prior="weak",
        scale_width=width,
    )
    ref = _try(
        notes,
        "Bayes (reference prior)",
        bayes.bayes_effect,
        yk,
        is_active,
        dk,
        better=o.better,
        mcid=o.mcid,
        prior="reference",
        scale_width=width,
    )
    if weak is not None and ref is not None:
        out["bayes"] = {**_bayes(weak), "reference": _bayes(ref)}
    cd = ordinal.cliffs_delta_test(
        y, period, assignments, data.scheme, active=act, placebo=placebo, alternative=alternative
    )
    out["cliffs_delta"] = {
        "delta": _num(cd.delta),
        "p_randomization": _num(cd.p_randomization),
        "levels": cd.levels,
    }
    return out


def _dose_trend(
    data: TrialData,
    y: np.ndarray,
    period: np.ndarray,
    sets: ReferenceSets,
    placebo: str,
    actives: list[str],
    alternative: str,
) -> dict[str, Any] | None:
    """The ordered trend over placebo and two or more active arms (secondary, see SPEC 12)."""
    if len(actives) < 2:
        return None
    doses = {a.name: a.dose for a in data.arms}
    scores, source = trend.dose_scores(doses, placebo, actives)
    r = trend.trend_test(
        y, period, sets.get(list(scores)), data.scheme, scores, alternative=alternative
    )
    unit = next((a.unit for a in data.arms if a.name in actives and a.unit), None)
    per = f"per {unit}" if source == "dose" and unit else "per unit score"
    return {
        "scores": r.scores,
        "score_source": source,
        "statistic": "least-squares slope of the arm means on the scores (each arm weighted "
        "equally)",
        "estimate": _num(r.estimate),
        "estimate_unit": f"rating points {per}",
        "alternative": r.alternative,
        "p_randomization": _num(r.p_value),
        "p_greater": _num(r.p_greater),
        "p_less": _num(r.p_less),
        "n": r.n_days,
        "randomization": {
            "exact": r.exact,
            "assignments": r.assignments,
            "draws": r.draws,
            "p_min": _num(r.p_min),
        },
        "role": "secondary: each active arm against placebo (Holm) is the primary analysis",
    }


def _bayes(b: Any) -> dict[str, Any]:
    return {
        "prior": b.prior,
        "mean": _num(b.mean),
        "ci95": _pair(b.ci95),
        "p_benefit": _num(b.p_benefit),
        "p_above_mcid": _num(b.p_above_mcid),
    }


def _day_after(
    data: TrialData,
    rows: list[DayRow],
    y_all: np.ndarray,
    period: np.ndarray,
    arm: np.ndarray,
    sets: ReferenceSets,
    actives: list[str],
    placebo: str,
) -> list[dict[str, Any]] | None:
    off = np.array([r.day_type == "off" and r.arm is not None for r in rows])
    if off.sum() < 4:
        return None
    y = np.where(off, y_all, np.nan)
    p = np.where(off, period, -1)
    out = []
    for act in actives:
        if not (np.any(~np.isnan(y) & (arm == act)) and np.any(~np.isnan(y) & (arm == placebo))):
            continue
        rt = randomization_test(
            y,
            p,
            sets.get((act, placebo)),
            data.scheme,
            active=act,
            placebo=placebo,
            alternative="two-sided",
            alpha=data.plan.alpha,
        )
        out.append(
            {
                "active": act,
                "placebo": placebo,
                "estimate": _num(rt.estimate),
                "ci95": _pair(rt.ci95),
                "p_randomization": _num(rt.p_value),
                "n_days": int(np.sum(~np.isnan(y) & ((arm == act) | (arm == placebo)))),
            }
        )
    return out or None


def _placebo_response(
    data: TrialData,
    rows: list[DayRow],
    y_all: np.ndarray,
    period: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    sets: ReferenceSets,
    placebo: str,
    none_arm: str | None,
) -> dict[str, Any] | None:
    dose = np.array([r.day_type == "dose" for r in rows])
    if none_arm is not None:
        # The conditional set (active periods held) is the exact reference of this contrast.
        y = np.where(dose, y_all, np.nan)
        p_dose = np.where(dose, period, -1)
        ref = sets.get((placebo, none_arm))
        kwargs: dict[str, Any] = {
            "active": placebo,
            "placebo": none_arm,
            "alternative": "two-sided",
            "alpha": data.plan.alpha,
        }
        rt = randomization_test(y, p_dose, ref, data.scheme, **kwargs)
        adjusted = None
        with_day = _try(
            [],
            "trend",
            randomization_test,
            y,
            p_dose,
            ref,
            data.scheme,
            statistic="trend-adjusted",
            day=day,
            **kwargs,
        )
        if with_day is not None:
            adjusted = {
                "estimate": _num(with_day.estimate),
                "ci95": _pair(with_day.ci95),
                "p_randomization": _num(with_day.p_value),
            }
        return {
            "source": "randomized none arm",
            "randomized": True,
            "estimate": _num(rt.estimate),
            "ci95": _pair(rt.ci95),
            "p_randomization": _num(rt.p_value),
            "randomization": {
                "exact": rt.exact,
                "assignments": rt.assignments,
                "draws": rt.draws,
                "p_min": _num(rt.p_min),
            },
            "n": {
                placebo: int(np.sum(~np.isnan(y) & (arm == placebo))),
                none_arm: int(np.sum(~np.isnan(y) & (arm == none_arm))),
            },
            "trend_adjusted": adjusted,
        }
    base = np.array([r.day_type == "baseline" for r in rows]) & ~np.isnan(y_all)
    plc = dose & (arm == placebo) & ~np.isnan(y_all)
    if base.sum() < 2 or plc.sum() < 2:
        return None
    keep = base | plc
    est = float(np.mean(y_all[plc]) - np.mean(y_all[base]))
    c = regression.ols_term(y_all[keep], {"placebo": plc[keep].astype(float)}, "placebo")
    adjusted = None
    if keep.sum() >= 5:
        t = regression.ols_term(
            y_all[keep], {"placebo": plc[keep].astype(float), "day": day[keep]}, "placebo"
        )
        adjusted = {
            "estimate": _num(t.estimate),
            "se": _num(t.se),
            "ci95": _pair(t.ci95),
            "p": _num(t.p),
        }
    return {
        "source": "baseline run-in (not randomized: time and novelty are confounded with it)",
        "randomized": False,
        "estimate": _num(est),
        "ci95": _pair(c.ci95),
        "p": _num(c.p),
        "n": {"baseline": int(base.sum()), "placebo": int(plc.sum())},
        "trend_adjusted": adjusted,
    }


def _expectancy(
    rows: list[DayRow],
    y: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    actives: list[str],
    placebo: str,
) -> dict[str, Any] | None:
    if not actives:
        return None
    act = actives[0]
    guess = np.array([r.guess or "" for r in rows], dtype=object)
    usable = ~np.isnan(y) & ((arm == act) | (arm == placebo))
    sure = usable & ((guess == act) | (guess == placebo))
    unsure = int(np.sum(usable & (guess == "unsure")))
    if sure.sum() < 4:
        return None
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for g in (act, placebo):
        table[g] = {}
        for a in (act, placebo):
            cell = sure & (guess == g) & (arm == a)
            table[g][a] = {
                "n": int(cell.sum()),
                "mean": _num(np.mean(y[cell])) if cell.any() else None,
            }
    model = None
    believed = (guess[sure] == act).astype(float)
    actual = (arm[sure] == act).astype(float)
    if 0 < believed.sum() < len(believed) and sure.sum() >= 6:
        cols = {"arm": actual, "belief": believed, "day": day[sure]}
        b_arm = regression.ols_term(y[sure], cols, "arm")
        b_bel = regression.ols_term(y[sure], cols, "belief")
        model = {
            "formula": "y ~ arm + belief + day",
            "arm": {
                "estimate": _num(b_arm.estimate),
                "se": _num(b_arm.se),
                "p": _num(b_arm.p),
                "ci95": _pair(b_arm.ci95),
            },
            "belief": {
                "estimate": _num(b_bel.estimate),
                "se": _num(b_bel.se),
                "p": _num(b_bel.p),
                "ci95": _pair(b_bel.ci95),
            },
        }
    return {
        "label": "exploratory",
        "caveat": (
            "The guess is measured after randomization and can be caused by the drug's own "
            "effects (a mediator), so 'belief' effects are associations, not randomized effects."
        ),
        "active": act,
        "placebo": placebo,
        "table": table,
        "n_unsure": unsure,
        "model": model,
    }


def _carryover(
    rows: list[DayRow],
    y: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    observed: tuple[str, ...],
    actives: list[str],
    placebo: str,
) -> dict[str, Any] | None:
    if not actives or len(observed) < 4:
        return None
    act = actives[0]
    prev = np.array([float(observed[r.period - 1] == act) if r.period else np.nan for r in rows])
    keep = ~np.isnan(y) & ~np.isnan(prev) & ((arm == act) | (arm == placebo))
    if keep.sum() < 8 or prev[keep].min() == prev[keep].max():
        return None
    cols = {"arm": (arm[keep] == act).astype(float), "previous": prev[keep], "day": day[keep]}
    c = regression.ols_term(y[keep], cols, "previous")
    return {
        "formula": "y ~ arm + previous period active + day",
        "estimate": _num(c.estimate),
        "se": _num(c.se),
        "p": _num(c.p),
        "ci95": _pair(c.ci95),
    }


def _trend(
    y: np.ndarray, day: np.ndarray, arm: np.ndarray, actives: list[str], placebo: str
) -> float | None:
    if not actives:
        return None
    keep = ~np.isnan(y) & ((arm == actives[0]) | (arm == placebo))
    if keep.sum() < 5 or np.ptp(day[keep]) == 0:
        return None
    cols = {"arm": (arm[keep] == actives[0]).astype(float), "day": day[keep]}
    return _num(regression.ols_term(y[keep], cols, "day").estimate * 7)


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
        c["p_adjusted"] = _num(p)


def _blinding(
    data: TrialData,
    rows: list[DayRow],
    sets: ReferenceSets,
    placebo: str,
    actives: list[str],
) -> dict[str, Any]:
    blinded = [a.name for a in data.arms if a.kind != "none"]
    answers = {*blinded, blinding.UNSURE}
    notes: list[str] = []
    last: dict[int, DayRow] = {}
    other = 0
    for r in rows:
        if r.day_type == "dose" and r.period is not None and r.guess and r.arm in blinded:
            if r.guess in answers:
                last[r.period] = r
            else:
                other += 1
    if other:
        # e.g. a CSV guess naming the open no-capsule arm on a blinded day
        notes.append(f"{other} guesses naming no blinded arm were left out")
    periods = sorted(last)
    actual = [last[p].arm or "" for p in periods]
    guesses = [last[p].guess or "" for p in periods]
    table = blinding.guess_table(actual, guesses, blinded)
    pair = [actives[0], placebo] if actives else None
    out: dict[str, Any] = {
        "level": "last guess of each period",
        "arms": blinded,
        "table": table,
        "n_periods": len(periods),
        "pair": pair,
        "bang": None,
        "james": None,
        "p_randomization": None,
        "randomization": None,
        "brier": None,
        "n_brier": 0,
        "by_week": [],
        "notes": notes,
    }
    if not periods:
        return out
    if pair is not None:
        sub = {g: {a: table[g][a] for a in pair} for g in [*pair, blinding.UNSURE]}
        bang = blinding.bang_index(sub, pair)
        out["bang"] = {
            a: {"bi": _num(b.bi), "se": _num(b.se), "limit95": _num(b.limit95)}
            for a, b in bang.items()
        }
        j = blinding.james_index(sub, pair)
        out["james"] = {"bi": _num(j.bi), "se": _num(j.se), "ci95": _pair(j.ci95)}
    # The none periods are unblinded (their guess would differ had they been blinded), so
    # they keep their arm: the set re-shuffles only the blinded arms.
    ref = sets.get(blinded)
    out["p_randomization"] = _num(
        guess_independence_p({p: last[p].guess or "" for p in periods}, ref, data.scheme, blinded)
    )
    out["randomization"] = {
        "exact": ref.exact,
        "assignments": ref.total,
        "draws": ref.draws,
        "alternative": "greater (more correct guesses than chance)",
        "p_min": minimum_p(ref, "greater"),
    }
    sure = [
        i
        for i, g in enumerate(guesses)
        if g != blinding.UNSURE and last[periods[i]].confidence is not None
    ]
    if sure:
        brier = _try(
            notes,
            "Brier score",
            blinding.brier_score,
            [guesses[i] == actual[i] for i in sure],
            [float(last[periods[i]].confidence or 0) / 100 for i in sure],
        )
        out["brier"] = _num(brier)
        out["n_brier"] = len(sure) if brier is not None else 0
    daily = [r for r in rows if r.day_type == "dose" and r.guess in answers and r.arm in blinded]
    out["by_week"] = blinding.correct_rate_by_week(
        [r.day // 7 + 1 for r in daily],
        [None if r.guess == blinding.UNSURE else r.guess == r.arm for r in daily],
    )
    return out


def _adherence(data: TrialData) -> dict[str, Any]:
    rows = data.rows
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
    }


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _pair(p: Any) -> list[float | None] | None:
    if p is None:
        return None
    return [_num(p[0]), _num(p[1])]
