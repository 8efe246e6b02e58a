"""The participant's printable calendar (docs/design.md#calendar-files): the trial's days week
by week, with what to do, the bag or container, and room to write by hand.

Built from public day plans only (``services.calendar.day_plans``): no arm reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from blindself.protocol.model import Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

# The mark of each kind of day: a symbol and a word besides the shading, so the printout reads
# the same in black and white and to a screen reader (the symbols are aria-hidden).
SYMBOLS = {"dose": "●", "baseline": "○", "off": "○", "washout": "≈", "pause": "‖"}
OTHER_SYMBOL = "■"  # a day type the schedule adds later (a pause)


@dataclass(frozen=True)
class Week:
    number: int
    first: date
    last: date
    days: tuple[Any, ...]  # a DayPlan, or None for a date outside the trial (Monday first)


def weeks_of(plans: Sequence[Any]) -> list[Week]:
    """The plans in Monday-to-Sunday weeks; dates outside the trial are None."""
    if not plans:
        return []
    by_date = {p.date: p for p in plans}
    monday = plans[0].date - timedelta(days=plans[0].date.weekday())
    weeks: list[Week] = []
    while monday <= plans[-1].date:
        days = tuple(by_date.get(monday + timedelta(days=i)) for i in range(7))
        inside = [d for d in days if d is not None]
        weeks.append(Week(len(weeks) + 1, inside[0].date, inside[-1].date, days))
        monday += timedelta(days=7)
    return weeks


def participant_calendar(
    protocol: Protocol, trial_id: str, plans: Sequence[Any], remind_at: time | None
) -> str:
    """The printable page: one block per week, each day marked by kind, with a box to tick
    and a line per outcome to write on."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("blindself.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    bags = any(p.bag for p in plans)
    legend = []
    for title in dict.fromkeys(p.title for p in plans):
        plan = next(p for p in plans if p.title == title)
        legend.append((SYMBOLS.get(plan.day_type, OTHER_SYMBOL), title, _meaning(plan, bags)))
    return env.get_template("calendar.html.j2").render(
        title=protocol.title,
        question=protocol.question,
        trial_id=trial_id,
        daily=[o.name for o in protocol.outcomes if o.source == "checkin" and not o.instrument],
        questionnaires=[o.name for o in protocol.instruments],
        imported=[o.name for o in protocol.outcomes if o.source == "import"],
        weeks=weeks_of(plans),
        first=plans[0].date if plans else None,
        last=plans[-1].date if plans else None,
        remind_at=remind_at.strftime("%H:%M") if remind_at else None,
        legend=legend,
        symbols=SYMBOLS,
        other_symbol=OTHER_SYMBOL,
        bags=bags,
    )


def _meaning(plan: Any, bags: bool) -> str:
    """The key's explanation of a day's title."""
    if plan.day_type == "dose":
        take = "open any envelope from the bag shown" if bags else "take the container shown"
        return f"{take}, then check in"
    if not plan.checkin:
        return {"pause": "no capsule, no check-in"}.get(plan.day_type, "no capsule, no check-in")
    return {
        "baseline": "no capsule yet; check in",
        "washout": "no capsule, so the last one wears off; check in",
    }.get(plan.day_type, "no capsule; check in")
