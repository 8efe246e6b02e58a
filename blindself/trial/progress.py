"""Which days the log has recorded, and when unblinding opens: the log's progress.

What ``status`` needs, kept apart from the check-in records and their validation
(:mod:`blindself.trial.checkins`) so that the daily status loads none of them.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from blindself.trial.folder import Trial
from blindself.trial.log.store import Entry
from blindself.trial.schedule import Day

# Entry kinds that record a day's check-in (a correction replaces the day's check-in).
CHECKIN_KINDS = ("checkin", "correction")


def current_checkins(entries: list[Entry]) -> dict[str, Entry]:
    """The latest check-in or correction per day (superseded ones stay in the log)."""
    out: dict[str, Entry] = {}
    for e in entries:
        if e.kind in CHECKIN_KINDS and e.day is not None:
            out[e.day] = e
    return out


def last_due_day(trial: Trial) -> Day:
    """The trial's last day that asks for a check-in (the last day under ``days = "all"``)."""
    days = trial.calendar.days
    if trial.protocol.checkin.days == "all":
        return days[-1]
    return next((d for d in reversed(days) if d.day_type in ("baseline", "dose")), days[-1])


def unblinding_open(trial: Trial, today: date, current: Container[str]) -> bool:
    """Whether unblinding (without --early) is open: the trial is over, or its last due
    check-in is recorded (so a person can unblind on the last day, issue 11 item 6)."""
    last = last_due_day(trial)
    return today > trial.calendar.end or (today >= last.date and last.date.isoformat() in current)
