"""Pauses and lost or damaged containers: recording them, and what to do next.

``pause`` takes days out of the trial and moves the rest of the calendar past them
(docs/design.md#pauses); ``lost`` records a container that can no longer be taken
(docs/design.md#lost-containers).  Both read the protocol, the public schedule and the log
only, never the seal: every check, message and piece of advice is the same whichever code
is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from blindself.errors import CheckinError
from blindself.services.context import Context
from blindself.trial.checkins import check_free_text
from blindself.trial.codes import format_code, match_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.interruptions import (
    LOST_KIND,
    MAX_PAUSE_DAYS,
    PAUSE_KIND,
    RESUME_KIND,
    LostContainer,
    current_calendar,
    lost_of,
)
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins
from blindself.trial.schedule import Calendar, Pause, build_calendar


@dataclass(frozen=True)
class PauseOutcome:
    """A pause recorded (or ended early) and how the calendar moved."""

    pause: Pause | None  # None: a pause cancelled before its first day
    seq: int
    end_before: date
    end_after: date
    resumes: date | None  # the first trial day after the pause
    moved: tuple[str, ...]  # "period 3 (container K7M2-X): from 2026-03-12" lines


@dataclass(frozen=True)
class LostOutcome:
    """A lost or damaged container recorded, and what to do next."""

    status: str  # "recorded" | "already recorded"
    code: str  # display form
    seq: int
    advice: tuple[str, ...]


def record_pause(
    trial_dir: Path, start: date | None, days: int, reason: str | None, ctx: Context
) -> PauseOutcome:
    """Append a pause of ``days`` days from ``start`` (default today); the rest of the
    calendar moves past it."""
    text = (reason or "").strip()
    if not text:
        raise CheckinError("a pause needs --reason TEXT (why; logged and shown in the report)")
    check_free_text(text, "the reason")
    if not 1 <= days <= MAX_PAUSE_DAYS:
        raise CheckinError(f"--days {days}: a pause lasts 1 to {MAX_PAUSE_DAYS} days")
    with opened_trial(trial_dir) as trial, trial.store.transaction() as tx:
        entries = tx.entries()
        cal = current_calendar(trial.protocol, trial.calendar, entries)
        trial = trial._replace(calendar=cal)  # the opened store stays the same
        today = trial.today(ctx.now())
        _refuse_if_unblinded(entries)
        start = start or today
        if start < today:
            raise CheckinError(
                f"{start} is in the past (today is {today}): a pause starts today or later; "
                "days already gone stay as they were recorded (or missed)"
            )
        if start < cal.start:
            raise CheckinError(
                f"the trial starts on {cal.start}: to start later, pause from {cal.start}"
            )
        if start > cal.end:
            raise CheckinError(f"the trial's last day is {cal.end}: there is nothing to pause")
        last = start + timedelta(days=days - 1)
        for p in cal.pauses:
            if p.start <= last and start <= p.last:
                raise CheckinError(
                    f"the pause from {p.start} to {p.last} overlaps it: pauses cannot overlap "
                    f"(to extend that one, pause from {p.last + timedelta(days=1)}; to shorten "
                    "it: blindself pause --end DATE)"
                )
        _refuse_recorded(entries, start)
        if not _recalendared(trial, (*cal.pauses, Pause(start, days, text))).pause_of(start):
            # weekdays: patterns only, when the pause takes every day left after the last
            # dose: nothing would move, the pause would only drop those "day after" days
            raise CheckinError(
                f"from {start} on only days after the last dose are left: there is nothing to "
                "move; leave those days unrecorded instead"
            )
        payload = {
            "from": start.isoformat(),
            "days": days,
            "reason": text,
            "recorded_at": ctx.now().isoformat(),
        }
        entry = tx.append(PAUSE_KIND, start.isoformat(), payload)
        pause = Pause(start, days, text, entry.seq)
        after = _recalendared(trial, (*cal.pauses, pause))
    moved = _moved(trial, cal, after, start)
    return PauseOutcome(pause, entry.seq, cal.end, after.end, _next_day(after, last), moved)


def end_pause(trial_dir: Path, when: date, ctx: Context) -> PauseOutcome:
    """End the pause running on ``when`` the day before (``when`` = its first day cancels it)."""
    with opened_trial(trial_dir) as trial, trial.store.transaction() as tx:
        entries = tx.entries()
        cal = current_calendar(trial.protocol, trial.calendar, entries)
        trial = trial._replace(calendar=cal)  # the opened store stays the same
        today = trial.today(ctx.now())
        _refuse_if_unblinded(entries)
        pause = cal.pause_of(when)
        if pause is None:
            raise CheckinError(f"no pause runs on {when}; nothing to end")
        if when < today:
            raise CheckinError(
                f"{when} is in the past (today is {today}): the trial can resume today at the "
                "earliest"
            )
        later = [p for p in cal.pauses if p.start > pause.last]
        if later:
            raise CheckinError(
                f"a later pause from {later[0].start} is recorded: cancel it first "
                f"(blindself pause --end {later[0].start}), then end this one"
            )
        payload = {
            "pause": pause.seq,
            "date": when.isoformat(),
            "recorded_at": ctx.now().isoformat(),
        }
        entry = tx.append(RESUME_KIND, when.isoformat(), payload)
        kept = Pause(pause.start, (when - pause.start).days, pause.reason, pause.seq)
        others = tuple(p for p in cal.pauses if p.seq != pause.seq)
        after = _recalendared(trial, (*others, kept) if kept.days else others)
    resumes = _next_day(after, when - timedelta(days=1))
    moved = _moved(trial, cal, after, pause.start)
    return PauseOutcome(kept if kept.days else None, entry.seq, cal.end, after.end, resumes, moved)


def record_lost(
    trial_dir: Path,
    code: str | None,
    when: date | None,
    damaged: bool,
    note: str | None,
    ctx: Context,
) -> LostOutcome:
    """Record a container lost or damaged on ``when`` (default today); say what to do next."""
    text = (note or "").strip()
    check_free_text(text, "the note")
    with opened_trial(trial_dir) as trial, trial.store.transaction() as tx:
        entries = tx.entries()
        _refuse_if_unblinded(entries)
        today = trial.today(ctx.now())
        when = when or today
        if when > today:
            raise CheckinError(f"{when} is in the future (today is {today}); check --date")
        if when < trial.calendar.start:
            # review F6: a loss before the trial is no trial fact; nothing is logged
            raise CheckinError(
                f"{when} is before the trial's first day ({trial.calendar.start}); check --date"
            )
        canonical = _lost_code(trial, code, when)
        shown = format_code(canonical)
        for lost in lost_of(entries):
            if lost.code == canonical:
                if lost.date == when and lost.damaged == damaged:
                    return LostOutcome("already recorded", shown, lost.seq, _advice(trial, lost))
                raise CheckinError(
                    f"{shown} was already reported {'damaged' if lost.damaged else 'lost'} on "
                    f"{lost.date}"
                )
        payload = {
            "date": when.isoformat(),
            "code": canonical,
            "damaged": damaged,
            "note": text,
            "recorded_at": ctx.now().isoformat(),
        }
        entry = tx.append(LOST_KIND, when.isoformat(), payload)
        lost = LostContainer(when, canonical, damaged, text, entry.seq)
        return LostOutcome("recorded", shown, entry.seq, _advice(trial, lost))


def interruptions(trial: Trial) -> dict[str, Any]:
    """Pauses and lost containers as plain data (status --json, the report's meta)."""
    return {
        "pauses": [
            {
                "from": p.start.isoformat(),
                "to": p.last.isoformat(),
                "days": p.days,
                "reason": p.reason,
            }
            for p in trial.calendar.pauses
        ],
        "lost": [
            {
                "date": x.date.isoformat(),
                "code": format_code(x.code),
                "what": "damaged" if x.damaged else "lost",
                "note": x.note,
            }
            for x in lost_of(trial.store.entries(LOST_KIND))
        ],
    }


def _refuse_if_unblinded(entries: list[Entry]) -> None:
    if any(e.kind == "unblind" for e in entries):
        raise CheckinError("the trial is unblinded; its calendar and containers are closed")


def _refuse_recorded(entries: list[Entry], start: date) -> None:
    """A pause never covers a day that holds a check-in or an imported value: that day would
    become a paused day with data on it (a ``pause`` row in data.csv; review F10)."""
    from blindself.trial.measures import current_measures

    iso = start.isoformat()
    recorded = sorted(d for d in current_checkins(entries) if d >= iso)
    measured = sorted(d for d in current_measures(entries) if d >= iso)
    if recorded and (not measured or recorded[0] <= measured[0]):
        raise CheckinError(
            f"{recorded[0]} is already checked in: a pause starts after the last recorded day"
        )
    if measured:
        names = ", ".join(sorted(current_measures(entries)[measured[0]]))
        raise CheckinError(
            f"{measured[0]} already holds an imported value ({names}): a pause starts after "
            "the last recorded day"
        )


def _recalendared(trial: Trial, pauses: tuple[Pause, ...]) -> Calendar:
    return build_calendar(trial.protocol, trial.calendar.start, pauses)


def _next_day(cal: Calendar, after: date) -> date | None:
    """The first trial day (not paused) after ``after``."""
    return next((d.date for d in cal.days if d.date > after and d.day_type != "pause"), None)


def _moved(trial: Trial, before: Calendar, after: Calendar, start: date) -> tuple[str, ...]:
    """Where each container's period now starts, for the periods that moved."""
    lines = []
    for k in range(after.n_periods):
        old, new = before.period_dates(k), after.period_dates(k)
        if not new or old == new or new[-1] < start:
            continue
        when = f"dose day {new[0]}" if len(new) == 1 else f"dose days from {new[0]} to {new[-1]}"
        lines.append(f"{_container(trial, k)}: {when}")
    return tuple(lines)


def _container(trial: Trial, period: int) -> str:
    """A period and its container (helper) or bag (self): public facts only."""
    if trial.schedule.period_code:
        return f"period {period + 1} (container {format_code(trial.schedule.period_code[period])})"
    day = next(d for d in trial.calendar.days if d.period == period)
    return f"period {period + 1} (bag {(day.block or 0) + 1})"


def _lost_code(trial: Trial, code: str | None, when: date) -> str:
    """The code reported lost: the one given, or (helper mode) the day's scheduled container."""
    if code:
        return match_code(code, trial.schedule.codes)
    day = trial.calendar.day(when)
    if trial.schedule.period_code and day is not None and day.period is not None:
        return trial.schedule.period_code[day.period]
    if not trial.schedule.period_code:
        # self mode: the code is on the slip inside the envelope, so a user without one has
        # an unopened envelope; it changes nothing in the log (review F7)
        raise CheckinError(
            "nothing recorded: in self mode an envelope lost or damaged before it was opened "
            "shows no code and needs no `lost` entry: leave it unopened, go on with the other "
            "envelopes of its bag, and check in the dose days of the period left without an "
            "envelope with --no-capsule (say why in --note); an envelope lost or damaged after "
            "opening: blindself lost --code CODE (the code on its slip)"
        )
    raise CheckinError("give --code CODE: the label of the lost or damaged container")


def _advice(trial: Trial, lost: LostContainer) -> tuple[str, ...]:
    """What to do next, by blinding mode; the same whichever arm the container held."""
    shown = format_code(lost.code)
    rest = (
        "check in its period's remaining dose days with --no-capsule: that period's days from "
        f"{lost.date} on are then left out of the comparison (lost-container)"
    )
    if trial.schedule.period_code:
        return (
            f"Ask your helper for a replacement container labelled {shown}, filled like the lost "
            "one from the allocation they hold (tell them nothing you felt). Take it and check "
            f"in with {shown} as usual: its period stays in the comparison.",
            f"Without a replacement, {rest}.",
            "Do not take another period's container in its place.",
        )
    bag = trial.schedule.bag_of(lost.code)
    where = f"bag {(bag or 0) + 1}"
    # a self-mode code is printed only on the slip inside the envelope: whoever gives it has
    # opened the envelope for its period, so that period takes nothing more (review F7)
    return (
        f"Do not refill {shown} yourself: you would know what is in it. For the rest of its "
        f"period take nothing: {rest}; do not open another envelope of {where} for it (two "
        "containers in one period leave the whole period out).",
        f"If the damage let you see, smell or taste what was inside, say so in a note: with "
        f"{where}'s known mix of arms it may tell you what the envelopes left in it hold, and "
        "your guesses on those days will show it.",
    )


LOST_CONTAINER = "lost-container"


def lost_container_days(rows: list[Any], lost: tuple[Any, ...]) -> list[Any]:
    """Leave out a lost or damaged container's days that went without it
    (docs/design.md#lost-containers).

    The period analysed under a lost code keeps its days before the loss; from the loss on
    its days are excluded (``lost-container``) unless every dose day checked in from then on
    took the container (a replacement of the same code, made by the helper).  Which
    container is lost, and whether it was replaced, cannot depend on the allocation (the
    containers look alike), so the excluded periods are fixed under the null and the
    randomization test stays exact.  Days already excluded for another reason keep it; a
    self-mode period left without any container says it lost one.
    """
    from dataclasses import replace

    out = list(rows)
    for x in lost:
        when = x.date.isoformat()
        periods = {r.period for r in rows if r.period is not None and r.analysed_code == x.code}
        for k in periods:
            after = [
                i for i, r in enumerate(out) if r.period == k and str(r.date) >= when and r.arm
            ]
            doses = [out[i] for i in after if out[i].day_type == "dose" and out[i].ratings]
            if doses and all(r.taken for r in doses):
                continue  # a replacement of the same code was taken
            for i in after:
                if out[i].excluded in ("", "no-container"):
                    out[i] = replace(out[i], excluded=LOST_CONTAINER)
    return out
