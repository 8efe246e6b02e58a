"""The participant's own diary as the front ends show it: days recorded, missed, ahead.

Public facts and the person's own entries only; nothing here reads the seal, so a page
built from these values is the same whichever code is active.  The check-in types are
re-exported so a front end (the web app) needs no import below the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from blindself.errors import TrialStateError
from blindself.services.bounded import MAX_REPORT_BYTES, REBUILD_ADVICE, read_bounded
from blindself.services.calendar import day_instruction
from blindself.services.context import Context
from blindself.services.daily import scheduled
from blindself.trial.checkins import CheckinForm as CheckinForm
from blindself.trial.checkins import CheckinOutcome as CheckinOutcome
from blindself.trial.checkins import CheckinRequest as CheckinRequest
from blindself.trial.checkins import checkin_form
from blindself.trial.checkins import collect_ratings as collect_ratings
from blindself.trial.checkins import parse_day as parse_day
from blindself.trial.codes import format_code
from blindself.trial.folder import opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins
from blindself.trial.questionnaires import SKIP as SKIP
from blindself.trial.questionnaires import severe_notice as severe_notice


@dataclass(frozen=True)
class CalendarDay:
    """One scheduled day of the participant calendar."""

    date: date
    day_type: str
    what: str  # what to do that day (container or bag, never an arm)
    recorded: bool
    is_today: bool


@dataclass(frozen=True)
class RecordedDay:
    """The current record of a day (after any correction), as the person entered it."""

    date: date
    day_type: str
    code: str | None  # formatted, e.g. K7M2-X
    taken: bool
    ratings: dict[str, float]
    guess: str | None
    confidence: int | None
    note: str
    seq: int
    corrected: bool
    # Questionnaire item answers by instrument (None: skipped), on the days they were asked.
    answers: dict[str, list[int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckinView:
    """What a check-in page needs, read with one opening of the trial."""

    form: CheckinForm | None  # None once the trial is unblinded
    recorded: RecordedDay | None  # the day's current record, if any
    unblinded: bool


def checkin_view(trial_dir: Path, when: date | None, ctx: Context) -> CheckinView:
    """The form of ``when`` (default today), its record if any, and whether check-ins closed.

    Raises the same :class:`CheckinError` as ``checkin`` for a day that takes no check-in.
    """
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        entries = trial.store.entries()
        if any(e.kind == "unblind" for e in entries):
            return CheckinView(None, None, True)
        form = checkin_form(trial, when or today, today)
        entry = current_checkins(entries).get(form.day.date.isoformat())
        recorded = None if entry is None else _recorded(form.day.date, entry)
        return CheckinView(form, recorded, False)


def missed_dates(trial_dir: Path, ctx: Context) -> tuple[date, ...]:
    """Scheduled days before today with no check-in, oldest first."""
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        current = current_checkins(trial.store.entries())
        return tuple(
            d.date
            for d in trial.calendar.days
            if d.date < today and scheduled(trial, d.day_type) and d.date.isoformat() not in current
        )


def calendar_days(trial_dir: Path, ctx: Context) -> tuple[CalendarDay, ...]:
    """Every scheduled day with its instruction and whether it is recorded."""
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        current = current_checkins(trial.store.entries())
        return tuple(
            CalendarDay(
                date=d.date,
                day_type=d.day_type,
                what=day_instruction(trial, d),
                recorded=d.date.isoformat() in current,
                is_today=d.date == today,
            )
            for d in trial.calendar.days
            if scheduled(trial, d.day_type) or d.day_type == "pause"
        )


def _recorded(when: date, entry: Entry) -> RecordedDay:
    p: dict[str, Any] = entry.payload
    code = p.get("code")
    return RecordedDay(
        date=when,
        day_type=str(p["day_type"]),
        code=format_code(code) if code else None,
        taken=bool(p.get("taken")),
        ratings=dict(p.get("ratings", {})),
        guess=p.get("guess"),
        confidence=p.get("confidence"),
        note=str(p.get("note", "")),
        seq=entry.seq,
        corrected=entry.kind == "correction",
        answers={
            str(name): list(record.get("items", []))
            for name, record in (p.get("answers") or {}).items()
        },
    )


def report_html(trial_dir: Path) -> str:
    """The HTML report that ``unblind`` wrote; refused while the trial is blinded.

    It is read as written, never re-rendered here: the front end shows exactly the file
    the command line points to, and nothing on this path opens the seal.
    """
    with opened_trial(trial_dir, readonly=True) as trial:
        if trial.unblinding() is None:
            raise TrialStateError(
                "the trial is still blinded: the report exists only after blindself unblind"
            )
        path = trial.paths.report / "report.html"
        raw = read_bounded(path, MAX_REPORT_BYTES, error=TrialStateError, advice=REBUILD_ADVICE)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TrialStateError(f"{path} is not UTF-8 text; {REBUILD_ADVICE}") from exc
