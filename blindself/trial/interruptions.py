"""Pauses and lost containers as the log records them (docs/design.md#pauses,
docs/design.md#lost-containers).

Both are public log entries: a pause moves the rest of the calendar (see
:mod:`blindself.trial.schedule`), a lost or damaged container is a fact about one code.
Neither reads the allocation, so every command may show them before unblinding.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from blindself.protocol.model import Protocol
from blindself.trial.log.store import Entry
from blindself.trial.schedule import Calendar, Pause, build_calendar

PAUSE_KIND = "pause"
RESUME_KIND = "resume"  # ends a pause early (``pause --end``), or cancels one not yet begun
LOST_KIND = "lost"
MAX_PAUSE_DAYS = 366


class LostContainer(NamedTuple):
    """A container reported lost or damaged on ``date`` (``code`` canonical, undashed)."""

    date: date
    code: str
    damaged: bool
    note: str
    seq: int


def pauses_of(pauses: list[Entry], resumes: list[Entry]) -> tuple[Pause, ...]:
    """The pauses in force: each recorded pause, shortened by a later ``resume`` entry."""
    out: dict[int, Pause] = {}
    for e in pauses:
        p = e.payload
        out[e.seq] = Pause(
            date.fromisoformat(str(p["from"])), int(p["days"]), str(p["reason"]), e.seq
        )
    for e in resumes:
        target = out.get(int(e.payload["pause"]))
        if target is not None:
            days = (date.fromisoformat(str(e.payload["date"])) - target.start).days
            out[target.seq] = Pause(target.start, days, target.reason, target.seq)
    return tuple(sorted((p for p in out.values() if p.days > 0), key=lambda p: p.start))


def lost_of(entries: list[Entry]) -> tuple[LostContainer, ...]:
    """Every lost or damaged container reported, in the order recorded."""
    return tuple(
        LostContainer(
            date=date.fromisoformat(str(e.payload["date"])),
            code=str(e.payload["code"]),
            damaged=bool(e.payload.get("damaged")),
            note=str(e.payload.get("note", "")),
            seq=e.seq,
        )
        for e in entries
        if e.kind == LOST_KIND
    )


def current_calendar(protocol: Protocol, calendar: Calendar, entries: list[Entry]) -> Calendar:
    """``calendar`` if the pauses in ``entries`` are the ones it carries, else rebuilt.

    A trial's calendar is built when it is opened; a writer re-reads the log inside its
    transaction, so a pause another process recorded in between is seen before anything is
    appended (never a check-in on a day that became paused, never two overlapping pauses).
    """
    pauses = pauses_of(
        [e for e in entries if e.kind == PAUSE_KIND], [e for e in entries if e.kind == RESUME_KIND]
    )
    if pauses == calendar.pauses:
        return calendar
    return build_calendar(protocol, calendar.start, pauses)
