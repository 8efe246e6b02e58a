"""Tidy trial data for the analysis: one row per trial day, arms known (after unblinding).

Built from an unblinded trial's log (:func:`from_trial`) or from a CSV collected
elsewhere (``services/analyze.py``).  Pure Python, so building it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blindself.protocol import AnalysisPlan, Arm, Outcome
from blindself.scheme import Scheme


@dataclass(frozen=True)
class DayRow:
    """One day; ``period`` and ``block`` are 0-based (None outside periods)."""

    day: int  # days since the first day (0-based), for trends and AR(1) distances
    date: str | None
    day_type: str  # baseline | dose | off | washout
    period: int | None
    block: int | None
    arm: str | None  # the arm whose days these are (scheduled arm in helper mode)
    guess: str | None
    confidence: float | None
    ratings: dict[str, float | None]
    code: str | None = None
    taken: bool | None = None
    deviation: tuple[str, ...] = ()
    codebroken: bool = False


@dataclass(frozen=True)
class TrialData:
    """Everything the analysis needs, and nothing about how it was collected."""

    rows: tuple[DayRow, ...]
    arms: tuple[Arm, ...]
    outcomes: tuple[Outcome, ...]
    plan: AnalysisPlan
    scheme: Scheme
    observed: tuple[str, ...]  # arm per 0-based period, as randomized
    scheme_note: str
    seed_material: str  # fixes the Monte Carlo draws so re-rendering gives the same numbers
    title: str = ""
    question: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def codes_of_periods(
    checkins: dict[str, dict[str, Any]], period_code: tuple[str, ...]
) -> dict[int, str]:
    """The container code of each 0-based period: scheduled (helper) or first entered (self)."""
    if period_code:
        return dict(enumerate(period_code))
    out: dict[int, str] = {}
    for payload in checkins.values():
        entered = payload.get("code")
        number = payload.get("period")
        if entered and number is not None and (number - 1) not in out:
            out[number - 1] = entered
    return out


def from_trial(
    calendar_days: list[Any],
    checkins: dict[str, dict[str, Any]],
    code_arm: dict[str, str],
    period_code: tuple[str, ...],
    codebroken: set[str],
) -> tuple[list[DayRow], tuple[str, ...]]:
    """Rows and the observed allocation from an unblinded trial.

    ``checkins`` maps ISO date -> current check-in payload; ``period_code`` is the public
    helper schedule (empty in self mode, where the code entered decides the period's arm).
    """
    period_codes = codes_of_periods(checkins, period_code)
    period_arm = {k: code_arm[code] for k, code in period_codes.items()}
    start = calendar_days[0].date
    rows = []
    for d in calendar_days:
        c = checkins.get(d.date.isoformat())
        arm = period_arm.get(d.period) if d.period is not None else None
        if d.day_type == "baseline":
            arm = None
        code = period_codes.get(d.period) if d.period is not None else None
        rows.append(
            DayRow(
                day=(d.date - start).days,
                date=d.date.isoformat(),
                day_type=d.day_type,
                period=d.period,
                block=d.block,
                arm=arm,
                guess=c.get("guess") if c else None,
                confidence=c.get("confidence") if c else None,
                ratings=dict(c["ratings"]) if c else {},
                code=c.get("code") if c else None,
                taken=c.get("taken") if c else None,
                deviation=tuple(c.get("deviation", ())) if c else (),
                codebroken=code in codebroken if code else False,
            )
        )
    return rows, tuple(period_arm.get(i, "") for i in range(max(period_arm, default=-1) + 1))


def complete_allocation(scheme: Scheme, observed: tuple[str, ...]) -> tuple[str, ...]:
    """Fill periods nobody opened an envelope for (self mode) from their bag's leftovers.

    Such periods carry no dose-day data, so any assignment consistent with the scheme gives
    the same test; this keeps the observed allocation inside the scheme's set.
    """
    full = list(observed) + [""] * (scheme.n_periods - len(observed))
    if all(full):
        return tuple(full)
    size = scheme.block_size
    for b in range(scheme.n_periods // size):
        pool = (
            list(scheme.block)
            if scheme.kind == "blocks"
            else [a for a, n in scheme.counts for _ in range(n)]
        )
        chunk = full[b * size : (b + 1) * size]
        for arm in chunk:
            if arm:
                pool.remove(arm)
        for i in range(size):
            if not full[b * size + i]:
                full[b * size + i] = pool.pop(0)
    return tuple(full)
