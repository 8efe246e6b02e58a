"""The trial's calendar for other programs and for paper: an .ics file and a printable page,
built from public facts only (docs/design.md#calendar-files).

Every day's plan (title, detail, description) comes from the protocol and the public
schedule: the container due (helper mode) or the bag (self mode), never an arm, so both
files are byte-identical for two allocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from blindself.services.context import Context
from blindself.services.daily import scheduled
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial

# Short titles that lead with what to do (a phone shows about 20 characters of a title);
# the detail goes to the description.  A day type the schedule adds later (a pause) gets
# its own name as title: docs/design.md#calendar-files.
TITLES = {
    "dose": "Dose + rate",
    "baseline": "Rate only",
    "off": "Rate only",
    "washout": "Washout",
    "pause": "Paused",
}
WHAT = {
    "baseline": "Baseline day: no capsule yet; rate how you are.",
    "off": "Day without a capsule: rate how you are.",
    "washout": "Washout day: no capsule, so the last one wears off; rate how you are.",
    "pause": "Paused: no capsule and no check-in; the rest of the trial moves past these days.",
}
# Days without a check-in that the .ics still shows (as all-day events, no reminder): what the
# schedule marks specially, so that a calendar app shows why nothing is due.
SHOWN_WITHOUT_CHECKIN = ("pause",)
EVENT_MINUTES = 15  # a timed check-in event's length: long enough to see, short enough to fit


@dataclass(frozen=True)
class DayPlan:
    """What one trial day asks of the participant (public facts only)."""

    date: date
    day_type: str
    checkin: bool  # a check-in is asked that day
    title: str  # e.g. "Dose + rate", "Washout"
    short: str  # the bag or container, short: "bag 2", "K7M2-X", or ""
    description: str
    bag: int | None  # self mode, dose days
    container: str | None  # helper mode, dose days
    new_bag: bool = False  # the first dose day of a bag (the printout marks it)
    rate: tuple[str, ...] = ()  # the outcomes the check-in asks for that day

    @property
    def summary(self) -> str:
        """The event title: what to do first, then the bag or container."""
        return f"{self.title} · {self.short}" if self.short else self.title


def day_plans(trial: Trial) -> list[DayPlan]:
    """Every calendar day of the trial with its plan, in date order."""
    from blindself.trial.questionnaires import due_instruments

    cal = trial.calendar
    protocol = trial.protocol
    # Rated at every check-in: neither imported from another app nor a questionnaire (those
    # are asked on their own days).
    daily = tuple(o.name for o in protocol.outcomes if o.source == "checkin" and not o.instrument)
    plans: list[DayPlan] = []
    last_bag: int | None = None
    for number, d in enumerate(cal.days, 1):
        checkin = scheduled(trial, d.day_type) and d.day_type not in SHOWN_WITHOUT_CHECKIN
        bag = container = None
        if d.is_dose and d.period is not None:
            if trial.schedule.period_code:
                container = format_code(trial.schedule.period_code[d.period])
            elif d.block is not None:
                bag = d.block + 1
        title = TITLES.get(d.day_type, d.day_type.replace("-", " ").capitalize())
        if d.day_type == "washout" and checkin:
            title = "Washout · rate"
        elif d.day_type == "off" and not checkin:
            title = "No capsule"  # a protocol that rates dose days only
        if d.is_dose:
            take = (
                f"take container {container}"
                if container
                else f"open any envelope from bag {bag} and take what it holds"
            )
            what = f"Dose day: {take}, then rate how you are"
            what += " and guess what you took." if trial.protocol.checkin.guess else "."
        elif d.day_type == "pause" and (why := cal.pause_of(d.date)) is not None:
            # the pause's reason and span, from its log entry (docs/design.md#pauses)
            what = (
                f"Paused ({why.reason}, {why.start} to {why.last}): "
                + WHAT["pause"].split(": ", 1)[1]
            )
        else:
            what = WHAT.get(d.day_type, f"{title} day.")
        if not checkin and d.day_type not in WHAT:
            what = f"{what.split(':')[0]}: no check-in today."
        lines = [f"{trial.protocol.title}: day {number} of {len(cal.days)}.", what]
        rate: tuple[str, ...] = ()
        if checkin:
            rate = (*daily, *(o.name for o in due_instruments(protocol, cal, d.date)))
            asked = f" (rate {', '.join(rate)})" if rate else ""
            lines.append(f"Check in with: blindself checkin{asked}.")
        lines.append(f"Trial {trial.trial_id}.")
        plans.append(
            DayPlan(
                date=d.date,
                day_type=d.day_type,
                checkin=checkin,
                title=title,
                short=f"bag {bag}" if bag else container or "",
                description="\n".join(lines),
                bag=bag,
                container=container,
                new_bag=bag is not None and bag != last_bag,
                rate=rate,
            )
        )
        if bag is not None:
            last_bag = bag
    return plans


def calendar_ics(trial_dir: Path, ctx: Context, remind_at: time | None = None) -> str:
    """An iCalendar file of check-in days, with no arm information.

    Written with ``icalendar`` (docs/design.md T-45): escaping, folding and CRLF are the library's,
    so no text of the protocol can end a line or start a property.  With a check-in time
    (``remind_at``, else the protocol's ``checkin.remind_at``) each day is a short timed event
    in the trial's time zone (TZID with its VTIMEZONE) with a reminder at its start; without
    one, an all-day event with no reminder.
    """
    from datetime import UTC

    with opened_trial(trial_dir, readonly=True) as trial:
        stamp = ctx.now().astimezone(UTC).replace(microsecond=0)
        return ics_text(trial, stamp, remind_at or trial.protocol.checkin.remind_at)


def ics_text(trial: Trial, stamp: datetime, remind: time | None) -> str:
    """The .ics of an opened trial (see :func:`calendar_ics`); ``stamp`` is the DTSTAMP."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", "-//blindself//blindself//EN")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"blindself: {trial.protocol.title}")
    timed = False
    for plan in day_plans(trial):
        if not plan.checkin and plan.day_type not in SHOWN_WITHOUT_CHECKIN:
            continue
        event = Event()
        event.add("uid", f"{trial.trial_id}-{plan.date.isoformat()}@blindself")
        event.add("dtstamp", stamp)
        event.add("summary", plan.summary)
        event.add("description", plan.description)
        if remind is None or not plan.checkin:
            event.add("dtstart", plan.date)
            event.add("dtend", plan.date + timedelta(days=1))
        else:
            timed = True
            start = checkin_time(trial, plan.date, remind)
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=EVENT_MINUTES))
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"blindself: {plan.summary}")
            alarm.add("trigger", timedelta(0), parameters={"RELATED": "START"})
            event.add_component(alarm)
        cal.add_component(event)
    if timed:
        cal.add_missing_timezones()
    return str(cal.to_ical().decode("utf-8"))


def checkin_time(trial: Trial, day: date, remind: time) -> datetime:
    """When the check-in of trial day ``day`` is due, in the trial's time zone.

    A trial day runs from ``checkin.day_starts`` to the same time next day, so a check-in
    time before ``day_starts`` falls on the next calendar date (a melatonin trial with
    ``day_starts = "12:00"`` rates the night's sleep the following morning).
    """
    on = day + timedelta(days=1) if remind < trial.protocol.checkin.day_starts else day
    return datetime.combine(on, remind, tzinfo=trial.tz)


def day_instruction(trial: Trial, d: Any) -> str:
    """What the participant does on a day: public facts only (container or bag, never an arm)."""
    if d.day_type == "pause":
        pause = trial.calendar.pause_of(d.date)
        return f"paused ({pause.reason if pause else 'pause'}): no capsule, no check-in"
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
    """The participant's printable calendar, week by week: what to do each day, with room to
    write; no arm information."""
    from blindself.report.calendar import participant_calendar

    with opened_trial(trial_dir, readonly=True) as trial:
        return participant_calendar(
            trial.protocol, trial.trial_id, day_plans(trial), trial.protocol.checkin.remind_at
        )
