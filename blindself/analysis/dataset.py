"""Tidy trial data for the analysis: one row per trial day, arms known (after unblinding).

Built from an unblinded trial's log (:func:`from_trial`) or from a CSV collected
elsewhere (``services/analyze.py``).  Pure Python, so building it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blindself.protocol.model import AnalysisPlan, Arm, Outcome
from blindself.trial.scheme import Scheme


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
    excluded: str = ""  # why the day is left out of the comparison (see from_trial)
    # The container code the day's period is analysed under (the code taken, or the code an
    # untyped period counts under); ``share`` names it so that ``pool`` can check the arm.
    analysed_code: str | None = None
    # Outcome values imported from another app (blindself import) but no check-in that day:
    # analysed, yet a missed check-in for adherence (docs/design.md#imported-outcomes).
    imported_only: bool = False


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
    block_codes: tuple[tuple[str, ...], ...],
    scheduled: tuple[str, ...],
    codebroken: set[str],
) -> tuple[list[DayRow], tuple[str, ...]]:
    """Rows and the observed allocation of an unblinded trial, mistakes included.

    ``checkins`` maps ISO date -> current check-in payload; ``block_codes`` holds the codes of
    each block (helper mode: the block's scheduled codes; self mode: the bag); ``scheduled``
    is the public helper schedule (empty in self mode).

    Why periods are analysed by the code typed (as taken): the allocation randomizes arms to
    *codes* within a block, and which code a blinded person takes in which period of that
    block cannot depend on the allocation, so the arms of the codes taken are still a uniform
    permutation of the block's arms and the randomization test stays exact.  That no longer
    holds for a code from another block (a wrong-bag envelope, a container of another week),
    nor for two codes in one period: those periods are kept in the allocation but their days
    are *excluded* from the comparison, with the reason on every row (``DayRow.excluded``).
    A whole block taken in another block's days counts as that block (``_bag_of_slots``).
    A period nobody typed a code for takes a code its block has left (helper mode: its
    scheduled one when free, so a no-capsule day is analysed as scheduled, intention to
    treat); in self mode such a period never had a container, so its days are excluded.
    """
    by_period: dict[int, list[str]] = {}
    for payload in sorted(checkins.values(), key=lambda p: str(p.get("date"))):
        entered, number = payload.get("code"), payload.get("period")
        if entered and number is not None and entered not in by_period.get(number - 1, []):
            by_period.setdefault(number - 1, []).append(entered)
    period_code, reason = _assign_codes(block_codes, scheduled, by_period, code_arm)
    arm_of = {k: code_arm[c] for k, c in period_code.items()}
    start = calendar_days[0].date
    rows = []
    for d in calendar_days:
        c = checkins.get(d.date.isoformat())
        in_period = d.period is not None and d.day_type != "baseline"
        code = period_code.get(d.period) if in_period and d.period is not None else None
        typed = by_period.get(d.period, []) if in_period and d.period is not None else []
        rows.append(
            DayRow(
                day=(d.date - start).days,
                date=d.date.isoformat(),
                day_type=d.day_type,
                period=d.period,
                block=d.block,
                arm=arm_of.get(d.period) if in_period and d.period is not None else None,
                guess=c.get("guess") if c else None,
                confidence=c.get("confidence") if c else None,
                ratings=dict(c["ratings"]) if c else {},
                code=c.get("code") if c else None,
                taken=c.get("taken") if c else None,
                deviation=tuple(c.get("deviation", ())) if c else (),
                codebroken=any(x in codebroken for x in (code, *typed) if x),
                excluded=reason.get(d.period, "") if in_period and d.period is not None else "",
                analysed_code=code,
                imported_only=bool(c.get("imported_only")) if c else False,
            )
        )
    return rows, tuple(arm_of[k] for k in range(len(period_code)))


def _bag_of_slots(
    block_codes: tuple[tuple[str, ...], ...],
    typed: dict[int, list[str]],
    code_arm: dict[str, str],
) -> list[int]:
    """Which block's codes each block of periods (slot) is analysed under.

    A slot whose periods took, one each, exactly the codes of one other block with the same
    arm mix (bags opened in the wrong order, a helper's week handed over a week early) holds
    a complete block whose arms are still a uniform permutation drawn at ``init``; which
    slot a blinded person used it in cannot depend on the allocation, so the slot is that
    block, kept in the randomization test (adversary review F14).  Every other slot keeps
    its own block when free, else takes a block no slot used wholly.
    """

    def mix(codes: tuple[str, ...]) -> list[str]:
        return sorted(code_arm.get(c, "") for c in codes)

    owner = {c: b for b, codes in enumerate(block_codes) for c in codes}
    bag_of: dict[int, int] = {}
    first = 0
    for s, codes in enumerate(block_codes):
        used = [typed.get(k, []) for k in range(first, first + len(codes))]
        first += len(codes)
        if not all(len(u) == 1 for u in used):
            continue
        bags = {owner.get(u[0]) for u in used}
        b = bags.pop() if len(bags) == 1 else None
        if (
            b is not None
            and b != s
            and {u[0] for u in used} == set(block_codes[b])
            and mix(block_codes[b]) == mix(codes)
        ):
            bag_of[s] = b
    left = [b for b in range(len(block_codes)) if b not in bag_of.values()]
    for s in range(len(block_codes)):
        if s not in bag_of and s in left:
            bag_of[s] = s
            left.remove(s)
    for s in range(len(block_codes)):
        if s not in bag_of:
            # The slots and blocks left over hold the same arm mixes, so one always matches.
            b = next(b for b in left if mix(block_codes[b]) == mix(block_codes[s]))
            bag_of[s] = b
            left.remove(b)
    return [bag_of[s] for s in range(len(block_codes))]


def _assign_codes(
    block_codes: tuple[tuple[str, ...], ...],
    scheduled: tuple[str, ...],
    typed: dict[int, list[str]],
    code_arm: dict[str, str],
) -> tuple[dict[int, str], dict[int, str]]:
    """The code each period counts under, and why a period's days are excluded."""
    helper = bool(scheduled)
    period_code: dict[int, str] = {}
    reason: dict[int, str] = {}
    first = 0
    for slot, bag in enumerate(_bag_of_slots(block_codes, typed, code_arm)):
        codes = block_codes[bag]
        members = range(first, first + len(block_codes[slot]))
        first += len(block_codes[slot])
        for k in members:
            used = typed.get(k, [])
            if len(used) > 1:
                reason[k] = "two-containers"
            elif used and used[0] not in codes:
                reason[k] = "container-of-another-block" if helper else "wrong-bag"
            elif used and used[0] in period_code.values():
                # A container of several doses used on from an earlier period (review F22,
                # docs/design.md#container-used-twice): that period keeps it.
                reason[k] = "container-used-twice"
            elif used:
                period_code[k] = used[0]
        free = [c for c in codes if c not in period_code.values()]
        for k in members:
            if k in period_code:
                continue
            pick = scheduled[k] if helper and scheduled[k] in free else free[0]
            free.remove(pick)
            period_code[k] = pick
            if not helper:
                reason.setdefault(k, "no-container")
    return period_code, reason
