"""The trial's calendar for other programs: an .ics file of check-in days and a printable page, built from public facts only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from blindself.services.context import Context
from blindself.services.daily import scheduled
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial


def calendar_ics(trial_dir: Path, ctx: Context, remind_at: str | None = None) -> str:
    """An iCalendar file of check-in days, with no arm information.

    Written with ``icalendar`` (docs/design.md T-45): escaping, folding and CRLF are the library's,
    so no text of the protocol can end a line or start a property.
    """
    from datetime import UTC

    from icalendar import Alarm, Calendar, Event

    with opened_trial(trial_dir, readonly=True) as trial:
        stamp = ctx.now().astimezone(UTC).replace(microsecond=0)
        cal = Calendar()
        cal.add("version", "2.0")
        cal.add("prodid", "-//blindself//blindself//EN")
        cal.add("calscale", "GREGORIAN")
        for d in trial.calendar.days:
            if not scheduled(trial, d.day_type):
                continue
            event = Event()
            event.add("uid", f"{trial.trial_id}-{d.date.isoformat()}@blindself")
            event.add("dtstamp", stamp)
            event.add("dtstart", d.date)
            event.add("dtend", d.date + timedelta(days=1))
            event.add("summary", f"{trial.protocol.title}: {day_instruction(trial, d)}")
            if remind_at:
                hh, mm = remind_at.split(":")
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", "blindself check-in")
                alarm.add(
                    "trigger",
                    timedelta(hours=int(hh), minutes=int(mm)),
                    parameters={"RELATED": "START"},
                )
                event.add_component(alarm)
            cal.add_component(event)
        return str(cal.to_ical().decode("utf-8"))


def day_instruction(trial: Trial, d: Any) -> str:
    """What the participant does on a day: public facts only (container or bag, never an arm)."""
    what = {
        "baseline": "baseline day: rate, no capsule",
        "dose": "dose day: take today's container, rate, guess",
        "off": "off day: rate, no capsule",
        "washout": "washout day: rate, no capsule",
    }[d.day_type]
    if d.is_dose and d.period is not None and trial.schedule.period_code:
        what += f" (container {format_code(trial.schedule.period_code[d.period])})"
    elif d.is_dose and d.block is not None:
        what += f" (bag {d.block + 1})"
    return what


def calendar_html(trial_dir: Path) -> str:
    """The participant's printable calendar: what to do each day, no arm information."""
    from blindself.report.sheet import participant_calendar

    with opened_trial(trial_dir, readonly=True) as trial:
        days = [
            (d.date, day_instruction(trial, d))
            for d in trial.calendar.days
            if scheduled(trial, d.day_type)
        ]
        return participant_calendar(trial.protocol, trial.trial_id, days)
