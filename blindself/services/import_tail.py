"""Whether the imported outcomes reach the trial's end: unblind's rule, also status's advice.

Imports close at unblinding (docs/design.md#imported-outcomes), so a forgotten last export
would be lost for good: each outcome with ``source = "import"`` needs a value on at least one
of the last ``IMPORT_TAIL_DAYS`` days that take values.  Public facts only (the calendar and
the imported values), so status may say it before unblinding.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from blindself.trial.folder import Trial

IMPORT_TAIL_DAYS = 3


class ShortImport(NamedTuple):
    """An imported outcome without a value on the last trial days, and its latest value's day."""

    name: str
    last: str | None  # ISO date of its latest value, None: no value yet

    @property
    def have(self) -> str:
        return f"its values stop at {self.last}" if self.last else "it has no values yet"


def short_imports(trial: Trial) -> tuple[list[ShortImport], list[date]]:
    """The imported outcomes whose values stop short of the end, and the tail days checked."""
    from blindself.services.daily import scheduled
    from blindself.trial.measures import current_measures

    imported = [o.name for o in trial.protocol.outcomes if o.source == "import"]
    if not imported:
        return [], []
    measures = current_measures(trial.store.entries())
    due = [d.date for d in trial.calendar.days if scheduled(trial, d.day_type)]
    tail = due[-IMPORT_TAIL_DAYS:]
    short = []
    for name in imported:
        days = sorted(d for d, by in measures.items() if name in by)
        if any(d.isoformat() in measures and name in measures[d.isoformat()] for d in tail):
            continue
        short.append(ShortImport(name, days[-1] if days else None))
    return short, tail
