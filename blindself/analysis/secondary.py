"""The secondary analyses of ``report.json`` (docs/design.md#secondary-analyses): everything beside
the contrasts.

Per outcome: the dose trend over several active arms, the day after a dose, the placebo
response, expectancy (exploratory), carry-over and the trend over the trial; per trial: the
blinding section.  :func:`blindself.analysis.engine.analyze` assembles them; the statistics live in
``blindself.analysis.stats``.  Also the value helpers both modules use (:func:`as_float`,
:func:`as_pair`, :func:`attempt`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import numpy as np

from blindself.analysis.dataset import DayRow, TrialData
from blindself.analysis.stats import regression, trend
from blindself.analysis.stats.assignments import AssignmentSet
from blindself.analysis.stats.randomization import randomization_test
from blindself.errors import DataError

#: The reference set that re-shuffles only the given arms (``analysis.ReferenceSets.get``).
ReferenceLookup: TypeAlias = Callable[[Sequence[str]], AssignmentSet]
T = TypeVar("T")


def attempt(
    notes: list[str], label: str, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T | None:
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


def as_float(x: Any) -> float | None:
    """``x`` as a float; None when it is None or not finite."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def as_pair(p: Any) -> list[float | None] | None:
    """A two-item list of :func:`as_float` values (an interval); None stays None."""
    if p is None:
        return None
    return [as_float(p[0]), as_float(p[1])]


def dose_trend(
    data: TrialData,
    y: np.ndarray,
    period: np.ndarray,
    reference: ReferenceLookup,
    placebo: str,
    actives: list[str],
    alternative: str,
) -> dict[str, Any] | None:
    """The ordered trend over placebo and two or more active arms.

    Secondary by default; the primary test when the protocol pre-registers
    ``analysis.primary_test = "dose-trend"`` (docs/design.md#companion-estimates).
    """
    if len(actives) < 2:
        return None
    doses = {a.name: a.dose for a in data.arms}
    scores, source = trend.dose_scores(doses, placebo, actives)
    r = trend.trend_test(
        y, period, reference(list(scores)), data.scheme, scores, alternative=alternative
    )
    unit = next((a.unit for a in data.arms if a.name in actives and a.unit), None)
    per = f"per {unit}" if source == "dose" and unit else "per unit score"
    return {
        "scores": r.scores,
        "score_source": source,
        "statistic": "least-squares slope of the arm means on the scores (each arm weighted "
        "equally)",
        "estimate": as_float(r.estimate),
        "estimate_unit": f"rating points {per}",
        "alternative": r.alternative,
        "p_randomization": as_float(r.p_value),
        "p_greater": as_float(r.p_greater),
        "p_less": as_float(r.p_less),
        "n": r.n_days,
        "randomization": {
            "exact": r.exact,
            "assignments": r.assignments,
            "draws": r.draws,
            "p_min": as_float(r.p_min),
        },
        "role": (
            "primary: the pre-registered ordered trend test"
            if data.plan.primary_test == "dose-trend"
            else "secondary: each active arm against placebo (Holm) is the primary analysis"
        ),
    }


def day_after(
    data: TrialData,
    rows: list[DayRow],
    y_all: np.ndarray,
    period: np.ndarray,
    arm: np.ndarray,
    reference: ReferenceLookup,
    actives: list[str],
    placebo: str,
) -> list[dict[str, Any]] | None:
    """The randomization test of each active arm against placebo on the off days after a dose."""
    off = np.array([r.day_type == "off" and r.arm is not None for r in rows], dtype=bool)
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
            reference((act, placebo)),
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
                "estimate": as_float(rt.estimate),
                "ci95": as_pair(rt.ci95),
                "p_randomization": as_float(rt.p_value),
                "n_days": int(np.sum(~np.isnan(y) & ((arm == act) | (arm == placebo)))),
            }
        )
    return out or None


def placebo_response(
    data: TrialData,
    rows: list[DayRow],
    y_all: np.ndarray,
    period: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    reference: ReferenceLookup,
    placebo: str,
    none_arm: str | None,
) -> dict[str, Any] | None:
    """Placebo against nothing: the randomized ``none`` arm, else the baseline run-in."""
    dose = np.array([r.day_type == "dose" for r in rows], dtype=bool)
    if none_arm is not None:
        # The conditional set (active periods held) is the exact reference of this contrast.
        y = np.where(dose, y_all, np.nan)
        p_dose = np.where(dose, period, -1)
        ref = reference((placebo, none_arm))
        kwargs: dict[str, Any] = {
            "active": placebo,
            "placebo": none_arm,
            "alternative": "two-sided",
            "alpha": data.plan.alpha,
        }
        rt = randomization_test(y, p_dose, ref, data.scheme, **kwargs)
        adjusted = None
        with_day = attempt(
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
                "estimate": as_float(with_day.estimate),
                "ci95": as_pair(with_day.ci95),
                "p_randomization": as_float(with_day.p_value),
            }
        return {
            "source": "randomized none arm",
            "randomized": True,
            "estimate": as_float(rt.estimate),
            "ci95": as_pair(rt.ci95),
            "p_randomization": as_float(rt.p_value),
            "randomization": {
                "exact": rt.exact,
                "assignments": rt.assignments,
                "draws": rt.draws,
                "p_min": as_float(rt.p_min),
            },
            "n": {
                placebo: int(np.sum(~np.isnan(y) & (arm == placebo))),
                none_arm: int(np.sum(~np.isnan(y) & (arm == none_arm))),
            },
            "trend_adjusted": adjusted,
        }
    base = np.array([r.day_type == "baseline" for r in rows], dtype=bool) & ~np.isnan(y_all)
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
            "estimate": as_float(t.estimate),
            "se": as_float(t.se),
            "ci95": as_pair(t.ci95),
            "p": as_float(t.p),
        }
    return {
        "source": "baseline run-in (not randomized: time and novelty are confounded with it)",
        "randomized": False,
        "estimate": as_float(est),
        "ci95": as_pair(c.ci95),
        "p": as_float(c.p),
        "n": {"baseline": int(base.sum()), "placebo": int(plc.sum())},
        "trend_adjusted": adjusted,
    }


def expectancy(
    rows: list[DayRow],
    y: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    actives: list[str],
    placebo: str,
) -> dict[str, Any] | None:
    """Outcome by guessed and actual arm, and ``y ~ arm + belief + day`` (exploratory)."""
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
                "mean": as_float(np.mean(y[cell])) if cell.any() else None,
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
                "estimate": as_float(b_arm.estimate),
                "se": as_float(b_arm.se),
                "p": as_float(b_arm.p),
                "ci95": as_pair(b_arm.ci95),
            },
            "belief": {
                "estimate": as_float(b_bel.estimate),
                "se": as_float(b_bel.se),
                "p": as_float(b_bel.p),
                "ci95": as_pair(b_bel.ci95),
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


def carryover(
    rows: list[DayRow],
    y: np.ndarray,
    day: np.ndarray,
    arm: np.ndarray,
    observed: tuple[str, ...],
    actives: list[str],
    placebo: str,
) -> dict[str, Any] | None:
    """The previous period's arm as a term of ``y ~ arm + previous + day`` (first active arm)."""
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
        "estimate": as_float(c.estimate),
        "se": as_float(c.se),
        "p": as_float(c.p),
        "ci95": as_pair(c.ci95),
    }


def trend_per_week(
    y: np.ndarray, day: np.ndarray, arm: np.ndarray, actives: list[str], placebo: str
) -> float | None:
    """The day slope of ``y ~ arm + day`` in points per week (first active arm vs placebo)."""
    if not actives:
        return None
    keep = ~np.isnan(y) & ((arm == actives[0]) | (arm == placebo))
    if keep.sum() < 5 or np.ptp(day[keep]) == 0:
        return None
    cols = {"arm": (arm[keep] == actives[0]).astype(float), "day": day[keep]}
    return as_float(regression.ols_term(y[keep], cols, "day").estimate * 7)
