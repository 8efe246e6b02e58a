"""Daily check-ins: what a day asks for, validation, and the current view of the log.

Nothing here reads the allocation: every check uses the public schedule only, so the
messages are the same whichever code is active.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from blindself.errors import BlindselfError, CheckinError
from blindself.protocol.fields import unsafe_text
from blindself.protocol.model import Outcome, StopRule
from blindself.trial.codes import format_code, match_code
from blindself.trial.folder import Trial
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins
from blindself.trial.questionnaires import check_answers, due_instruments
from blindself.trial.schedule import Day

MAX_NOTE = 2000
MAX_EXACT = 2**53 - 1  # the largest integer canonical JSON (RFC 8785) stores exactly
_IDENTITY_IGNORES = ("recorded_at", "reason", "anomaly")
USED_TWICE = "container-used-twice"  # the deviation flag of a container used in two periods


@dataclass(frozen=True)
class CheckinRequest:
    date: date
    code: str | None = None
    ratings: dict[str, float] = field(default_factory=dict)
    guess: str | None = None
    confidence: int | None = None
    note: str | None = None  # None: not given (--replace then keeps the recorded note)
    no_capsule: bool = False
    replace: bool = False
    reason: str | None = None
    # Questionnaire answers by instrument: option values in item order, "-" for a skipped
    # item (docs/design.md#instruments).
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckinForm:
    """What a day's check-in needs; the CLI prompts for whatever a request lacks."""

    day: Day
    needs_code: bool
    expected_code: str | None  # helper mode: today's container
    bag: int | None  # self mode: 1-based bag to open
    outcomes: tuple[Outcome, ...]
    asks_guess: bool
    guess_options: tuple[str, ...]
    guess_first: bool
    issued: tuple[str, ...] = ()  # every code of the trial (public), to check a typed code early
    instruments: tuple[Outcome, ...] = ()  # questionnaires due on the day, asked after ratings


@dataclass(frozen=True)
class CheckinOutcome:
    status: str  # "recorded" | "already recorded" | "replaced"
    entry: Entry
    deviations: tuple[str, ...]
    stop_rules: tuple[StopRule, ...]
    previous: Entry | None = None  # the entry a --replace superseded
    # Questionnaires whose score entered their published "severe" band with this check-in.
    severe: tuple[Outcome, ...] = ()


def checkin_form(trial: Trial, when: date, today: date) -> CheckinForm:
    """Validate the date and say what its check-in needs."""
    cal = trial.calendar
    if when > today:
        raise CheckinError(
            f"{when} is in the future (today is {today}); check --date",
            plain=f"{when} is in the future (today is {today}); check the date",
        )
    day = cal.day(when)
    if day is None:
        if when < cal.start:
            raise CheckinError(
                f"the trial starts on {cal.start}; nothing can be recorded for {when}"
            )
        raise CheckinError(f"the trial ended on {cal.end}; nothing can be recorded for {when}")
    pause = cal.pause_of(when)
    if pause is not None:
        raise CheckinError(paused_message(when, pause.start, pause.last))
    if trial.protocol.checkin.days == "dose" and day.day_type in ("off", "washout"):
        raise CheckinError(
            f"{when} is a{'n' if day.day_type == 'off' else ''} {day.day_type} day and this "
            "protocol rates dose days only; nothing to record"
        )
    schedule = trial.schedule
    expected = None
    bag = None
    if day.is_dose and day.period is not None:
        if schedule.period_code:
            expected = format_code(schedule.period_code[day.period])
        elif day.block is not None:
            bag = day.block + 1
    plan = trial.protocol.checkin
    return CheckinForm(
        day=day,
        needs_code=day.is_dose,
        expected_code=expected,
        bag=bag,
        # Imported outcomes come from another app's export (blindself import), never asked;
        # questionnaires are asked on their own days (``instruments``).
        outcomes=trial.protocol.daily_outcomes,
        asks_guess=plan.guess and day.is_dose,
        guess_options=(*trial.protocol.arm_names, "unsure"),
        guess_first=plan.guess_first,
        issued=trial.schedule.codes,
        instruments=due_instruments(trial.protocol, cal, when),
    )


def paused_message(when: date, first: date, last: date) -> str:
    """Why a paused day takes no check-in (the same words on the command line and the web)."""
    return (
        f"{when} is inside the pause from {first} to {last}: nothing to record (to resume "
        "sooner: blindself pause --end DATE)"
    )


def build_payload(
    trial: Trial, form: CheckinForm, req: CheckinRequest, entries: list[Entry], recorded_at: str
) -> tuple[dict[str, Any], list[str]]:
    """Validate a request against the form and the log; return the payload and deviations."""
    day = form.day
    deviations: list[str] = []
    code = _check_code(trial, form, req, entries, deviations)
    imported = [o.name for o in trial.protocol.outcomes if o.source == "import"]
    for name in req.ratings:
        if name in imported:
            raise CheckinError(
                f"--rate {name}: this outcome is measured by another app and brought in with "
                "blindself import, not rated at check-in; leave it out",
                plain=f"{name} is measured by another app and imported, not rated here",
            )
    answers = check_answers(
        trial.protocol, trial.calendar, form.instruments, form.day.date, req.ratings, req.answers
    )
    ratings = _check_ratings(
        form.outcomes, {k: v for k, v in req.ratings.items() if k not in answers}
    )
    for name, record in answers.items():
        if record["score"] is not None:
            ratings[name] = record["score"]
    guess, confidence = _check_guess(form, req)
    note = req.note or ""
    check_free_text(note, "the note")
    if req.reason is not None:
        # Reliability fix: --reason was stored unchecked (10 MB, escape codes, bad bytes).
        check_free_text(req.reason, "the reason")
    payload: dict[str, Any] = {
        "date": day.date.isoformat(),
        "day_type": day.day_type,
        "period": None if day.period is None else day.period + 1,
        "block": None if day.block is None else day.block + 1,
        "code": code,
        "taken": bool(day.is_dose and code is not None and not req.no_capsule),
        "ratings": ratings,
        "guess": guess,
        "confidence": confidence,
        "note": note,
        "deviation": deviations,
        "recorded_at": recorded_at,
    }
    if answers:
        # Only on days an instrument is asked: the payloads of protocols without
        # questionnaires stay as they were.
        payload["answers"] = answers
    if req.reason:
        payload["reason"] = req.reason
    return payload, deviations


def check_free_text(text: str, what: str, error: type[BlindselfError] = CheckinError) -> None:
    """Refuse free text the log should not hold: too long, control characters, bad bytes."""
    if len(text) > MAX_NOTE:
        raise error(f"{what} is longer than {MAX_NOTE} characters; shorten it")
    # Reliability fix (docs/design.md T-45): C1 controls (U+009B is a terminal CSI) and bidi
    # overrides (U+202E) passed the check that looked only below U+0020.
    problem = unsafe_text(text)
    if problem:
        raise error(f"{what} contains {problem}; type plain text")
    try:
        # Undecodable bytes in argv arrive as lone surrogates, which the log cannot store.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what} is not valid text (undecodable bytes); type plain text") from None


def same_checkin(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two payloads record the same thing (ignoring when and why)."""

    def strip(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k not in _IDENTITY_IGNORES}

    return strip(a) == strip(b)


def check_container_code(
    trial: Trial, form: CheckinForm, code: str, entries: list[Entry]
) -> tuple[str, list[str]]:
    """The check-in's own code rule on a code alone: ``(code, deviations)`` or CheckinError.

    Lets the prompt judge a typed code before it asks for the ratings.
    """
    deviations: list[str] = []
    req = CheckinRequest(date=form.day.date, code=code)
    checked = _check_code(trial, form, req, entries, deviations)
    if checked is None:  # a day with no container: _check_code refused the code already
        raise CheckinError(f"{form.day.date} is a {form.day.day_type} day with no container")
    return checked, deviations


def _check_code(
    trial: Trial, form: CheckinForm, req: CheckinRequest, entries: list[Entry], dev: list[str]
) -> str | None:
    day = form.day
    if not form.needs_code:
        if req.code:
            raise CheckinError(
                f"{day.date} is a {day.day_type} day with no container; leave out --code",
                plain=f"{day.date} is a {day.day_type} day with no container; leave the code out",
            )
        if req.no_capsule:
            raise CheckinError(
                f"{day.date} is a {day.day_type} day: no capsule was due; leave out --no-capsule",
                plain=f"{day.date} is a {day.day_type} day: no capsule was due",
            )
        return None
    if req.code is None:
        if req.no_capsule:
            return None
        raise CheckinError(
            f"{day.date} is a dose day: give --code (the container's label) or --no-capsule",
            plain=f"{day.date} is a dose day: type the code on the container's label, or tap "
            "'I did not take a capsule today'",
        )
    code = match_code(req.code, trial.schedule.codes)
    period = (day.period or 0) + 1
    reused = False
    for e in current_checkins(entries).values():
        if e.day == day.date.isoformat() or e.payload.get("period") is None:
            continue
        other = e.payload.get("code")
        if other == code and e.payload["period"] != period:
            if _doses_per_period(trial, day) < 2:
                # One dose a container: using it again is impossible, so it is a typo.
                raise CheckinError(
                    f"{format_code(code)} was already used on {e.day}, in another period; "
                    "each container belongs to one period: check the label (if the code "
                    f"recorded on {e.day} was the mistake, correct that day first)"
                )
            # A container of several doses already used in another period is recorded as
            # taken, with a flag (adversary review F22: one started a period early could not
            # be recorded at all); the analysis leaves out the period where it does not
            # belong (docs/design.md#container-used-twice).
            reused = True
        if (
            other not in (None, code)
            and e.payload["period"] == period
            and not trial.schedule.period_code
        ):
            raise CheckinError(
                f"this period already uses {format_code(other)} (from {e.day}); "
                "enter that code, or correct the earlier day with --replace",
                plain=f"this period already uses {format_code(other)} (from {e.day}); "
                f"enter that code, or correct {e.day} first",
            )
    dev.extend(code_deviations(trial, day, code))
    if reused:
        dev.append(USED_TWICE)
    return code


def code_deviations(trial: Trial, day: Day, code: str) -> list[str]:
    """Deviation flags of a code typed on a dose day, from the public schedule only."""
    period = day.period or 0
    if trial.schedule.period_code:
        return [] if trial.schedule.period_code[period] == code else ["container-swapped"]
    if day.block is not None and trial.schedule.bag_of(code) != day.block:
        return ["wrong-bag"]
    return []


def _doses_per_period(trial: Trial, day: Day) -> int:
    """How many dose days a container of ``day``'s period serves (every period alike)."""
    return sum(1 for d in trial.calendar.days if d.period == day.period and d.is_dose)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date:
    """A day in the documented form YYYY-MM-DD only; ValueError otherwise.

    Python also reads 20260302 and 2026-W10-1 as dates; the command line and the web form
    share this one rule (review F4).
    """
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


V = TypeVar("V")


def collect_ratings(pairs: Iterable[tuple[str, V]]) -> dict[str, V]:
    """Ratings by outcome name; a name given twice is refused, never silently one of them."""
    out: dict[str, V] = {}
    for name, value in pairs:
        if name in out:
            shown = "".join(c if c.isprintable() else "?" for c in name[:30])
            raise CheckinError(f"{shown!r} is given twice; give each rating once")
        out[name] = value
    return out


def _check_ratings(outcomes: tuple[Outcome, ...], ratings: dict[str, float]) -> dict[str, float]:
    known = {o.name: o for o in outcomes}
    for name in ratings:
        if name not in known:
            # Reliability fix: show a bounded, printable part of the name, not all of it.
            shown = "".join(c if c.isprintable() else "?" for c in name[:20])
            shown += "..." if len(name) > 20 else ""
            raise CheckinError(
                f"--rate {shown}: no such outcome (outcomes: {', '.join(known)})",
                plain=f"{shown}: no such outcome (outcomes: {', '.join(known)})",
            )
    missing = [o.name for o in outcomes if o.name not in ratings]
    if missing:
        raise CheckinError(
            "missing ratings: " + ", ".join(missing) + " (give --rate NAME=VALUE for each)",
            plain="missing ratings: " + ", ".join(missing) + " (rate each one)",
        )
    out: dict[str, float] = {}
    for o in outcomes:
        v = ratings[o.name]
        lo, hi = o.scale
        if not math.isfinite(v) or not lo <= v <= hi:
            raise CheckinError(
                f"--rate {o.name}={v:g} is outside the scale {lo:g}-{hi:g}",
                plain=f"{o.name} {v:g} is outside the scale {lo:g}-{hi:g}",
            )
        if abs(v) > MAX_EXACT:
            # Fix: the canonical JSON of the log (RFC 8785) holds integers exactly only up
            # to 2^53; a larger rating crashed the check-in.
            raise CheckinError(
                f"--rate {o.name}={v:g} is too large to record exactly; ratings must lie "
                f"within +-{MAX_EXACT}",
                plain=f"{o.name} {v:g} is too large to record exactly; ratings must lie "
                f"within +-{MAX_EXACT}",
            )
        out[o.name] = int(v) if float(v).is_integer() else float(v)
    return out


def _check_guess(form: CheckinForm, req: CheckinRequest) -> tuple[str | None, int | None]:
    if not form.asks_guess:
        if req.guess is not None or req.confidence is not None:
            raise CheckinError(
                f"no guess is asked on {form.day.date} (not a dose day); leave out --guess",
                plain=f"no guess is asked on {form.day.date} (not a dose day); leave it out",
            )
        return None, None
    if req.no_capsule and req.guess is None:
        return None, None
    if req.guess is None:
        raise CheckinError(
            "missing guess: give --guess "
            + "|".join(form.guess_options)
            + " and --confidence 50-100",
            plain="missing guess: choose which you think you took ("
            + ", ".join(form.guess_options)
            + ") and how sure you are",
        )
    if req.guess not in form.guess_options:
        raise CheckinError(
            f"--guess {req.guess[:20]!r}: choose one of {', '.join(form.guess_options)}",
            plain=f"guess {req.guess[:20]!r}: choose one of {', '.join(form.guess_options)}",
        )
    if req.guess == "unsure":
        if req.confidence is not None:
            raise CheckinError(
                "--confidence goes with a guess of an arm, not with 'unsure'",
                plain="how sure you are goes with a guess of an arm, not with 'unsure'",
            )
        return "unsure", None
    if req.confidence is None:
        raise CheckinError(
            "missing --confidence: how sure are you of your guess, 50-100 (%)",
            plain="missing: how sure are you of your guess, 50-100 (%)",
        )
    if not 50 <= req.confidence <= 100:
        raise CheckinError(
            f"--confidence {req.confidence} must be 50-100 (%)",
            plain=f"how sure you are ({req.confidence} %) must be 50-100 (%)",
        )
    return req.guess, req.confidence


def stop_rules_met(
    rules: tuple[StopRule, ...], outcomes: tuple[Outcome, ...], current: dict[str, Entry]
) -> tuple[StopRule, ...]:
    """Stop rules whose threshold was reached on at least ``days`` check-in days."""
    hits = []
    for rule in rules:
        better = next(o.better for o in outcomes if o.name == rule.outcome)
        n = 0
        for e in current.values():
            v = e.payload.get("ratings", {}).get(rule.outcome)
            if v is None:
                continue
            # An adverse rating is one at or beyond the threshold in the *worse* direction.
            if (better == "lower" and v >= rule.threshold) or (
                better == "higher" and v <= rule.threshold
            ):
                n += 1
        if n >= rule.days:
            hits.append(rule)
    return tuple(hits)
