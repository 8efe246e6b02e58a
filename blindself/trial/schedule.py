"""The trial calendar: which day is baseline, dose, off or washout
(docs/design.md#calendar-and-periods).

Pure and arm-free: the calendar depends only on the protocol and the start date, so
every command may show it before unblinding.

Dose days are the stream the ``dosing`` pattern gives after the baseline run-in.
Period k holds dose days ``k*period_days ... (k+1)*period_days - 1`` of that stream;
its span runs from its first dose day to the day before the next period starts
(the off days in between belong to it); the last period's span runs to the day before
the dose day that would come next, so it keeps its "day after" days.
``washout_days`` follow each span except the last (a washout after the final period
would only add excluded days); fadiman, stamets and every-other-day restart after a
washout, ``weekdays:`` stays tied to the calendar, so after a washout the days up to the
next dose weekday are washout days too.  Days before the very first dose (a
``weekdays:`` pattern starting mid-week) are baseline days.

Pauses (``blindself pause``, docs/design.md#pauses) are days taken out of the trial: the
calendar is laid out over the days that are not paused, so whatever was due from a pause's
first day on moves past it (a container's remaining dose days, the remaining baseline or
washout days); cyclic patterns keep their phase, ``weekdays:`` stays on its weekdays.  The
paused days themselves are ``pause`` days of no period.  Pauses are public (the log holds
them), so the calendar still depends on nothing but public facts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Literal, NamedTuple

from blindself.errors import ProtocolError
from blindself.protocol.model import WEEKDAYS, Protocol
from blindself.trial.scheme import Scheme

DayType = Literal["baseline", "dose", "off", "washout", "pause"]

# Cyclic patterns as on/off masks; ``weekdays:`` is handled separately.
_CYCLES: dict[str, tuple[bool, ...]] = {
    "daily": (True,),
    "every-other-day": (True, False),
    "fadiman": (True, False, False),
    "stamets": (True, True, True, True, False, False, False),
}


class Day(NamedTuple):
    """One calendar day of the trial; ``period`` and ``block`` are 0-based."""

    date: date
    day_type: DayType
    period: int | None
    block: int | None

    @property
    def is_dose(self) -> bool:
        return self.day_type == "dose"


class Pause(NamedTuple):
    """Days taken out of the trial: ``days`` days from ``start`` (docs/design.md#pauses)."""

    start: date
    days: int
    reason: str
    seq: int = 0  # the log entry that recorded it

    @property
    def last(self) -> date:
        """The last paused day."""
        return self.start + timedelta(days=self.days - 1)

    def covers(self, when: date) -> bool:
        return self.start <= when <= self.last


class Calendar(NamedTuple):
    start: date
    days: tuple[Day, ...]
    n_periods: int
    period_days: int
    pauses: tuple[Pause, ...] = ()

    @property
    def end(self) -> date:
        return self.days[-1].date

    def day(self, when: date) -> Day | None:
        """The trial day for a date, or None outside the trial."""
        index = (when - self.start).days
        if 0 <= index < len(self.days):
            return self.days[index]
        return None

    def period_dates(self, period: int) -> list[date]:
        """Dose dates of a 0-based period."""
        return [d.date for d in self.days if d.period == period and d.is_dose]

    def pause_of(self, when: date) -> Pause | None:
        """The pause a date falls in, if any."""
        return next((p for p in self.pauses if p.covers(when)), None)


def scheme_of(protocol: Protocol) -> Scheme:
    """The randomization scheme a protocol's design defines."""
    d = protocol.design
    return Scheme(
        kind=d.kind,
        arms=protocol.arm_names,
        block=d.block,
        n_blocks=d.blocks,
        counts=d.counts,
        max_run=d.max_run,
    )


def build_calendar(protocol: Protocol, start: date, pauses: tuple[Pause, ...] = ()) -> Calendar:
    """Lay out every day of the trial from ``start``, around ``pauses`` (non-overlapping)."""
    try:
        return _build_calendar(protocol, start, tuple(sorted(pauses, key=lambda p: p.start)))
    except OverflowError:
        # Fix: a start near 9999-12-31 crashed with a traceback (dates end there).
        raise ProtocolError(
            f"a trial starting on {start} would run past 9999-12-31; choose an earlier start"
        ) from None


def _build_calendar(protocol: Protocol, start: date, pauses: tuple[Pause, ...]) -> Calendar:
    design = protocol.design
    scheme = scheme_of(protocol)
    n_periods = scheme.n_periods
    free = _Free(pauses)
    days: list[Day] = []
    cursor = free.first(start)
    for _ in range(design.baseline_days):
        days.append(Day(cursor, "baseline", None, None))
        cursor = free.after(cursor)
    for period in range(n_periods):
        block = scheme.block_of(period)
        restart = period == 0 or design.washout_days > 0
        # Without washouts a cyclic pattern runs on from the first period's start, so its phase
        # is the number of days laid out since then (counted, not re-scanned: O(days)).
        elapsed = len(days) - design.baseline_days
        doses = _dose_dates(design.dosing, cursor, design.period_days + 1, restart, elapsed, free)
        period_doses = set(doses[: design.period_days])
        next_start = doses[design.period_days]
        d = cursor
        while d < next_start:
            kind: DayType = "dose" if d in period_doses else "off"
            if d >= doses[0]:
                days.append(Day(d, kind, period, block))
            elif days and days[-1].day_type == "washout":
                # Fix: with a washout and a weekdays: pattern, the days from the end of the
                # washout to the next dose weekday were labelled "baseline" in mid-trial;
                # they are no-capsule days between periods, so the washout runs on.
                days.append(Day(d, "washout", None, None))
            elif days and days[-1].period is not None:
                # Weekday patterns: days before this period's first dose are "day after"
                # days of the previous period.
                days.append(Day(d, "off", days[-1].period, days[-1].block))
            else:
                # ... or, before the very first dose, part of the run-in.
                days.append(Day(d, "baseline", None, None))
            d = free.after(d)
        cursor = next_start
        if design.washout_days and period < n_periods - 1:
            for _ in range(design.washout_days):
                days.append(Day(cursor, "washout", None, None))
                cursor = free.after(cursor)
    used = tuple(p for p in pauses if start <= p.start <= days[-1].date)
    return Calendar(
        start=start,
        days=_with_pauses(days, used),
        n_periods=n_periods,
        period_days=design.period_days,
        pauses=used,
    )


class _Free:
    """Steps over the days that are not paused."""

    def __init__(self, pauses: tuple[Pause, ...]) -> None:
        self._paused = {p.start + timedelta(days=i) for p in pauses for i in range(p.days)}

    def first(self, d: date) -> date:
        """``d``, or the first day after it that is not paused."""
        while d in self._paused:
            d += timedelta(days=1)
        return d

    def after(self, d: date) -> date:
        """The first day after ``d`` that is not paused."""
        return self.first(d + timedelta(days=1))


def _with_pauses(days: list[Day], pauses: tuple[Pause, ...]) -> tuple[Day, ...]:
    """The laid-out days with each paused day in its place (one Day per date, in order)."""
    if not pauses:
        return tuple(days)
    paused = [
        Day(p.start + timedelta(days=i), "pause", None, None) for p in pauses for i in range(p.days)
    ]
    return tuple(sorted([*days, *paused], key=lambda d: d.date))


def _dose_dates(
    dosing: str, cursor: date, n: int, restart: bool, elapsed: int, free: _Free
) -> list[date]:
    """The next ``n`` dose dates on or after ``cursor`` (a day that is not paused)."""
    out: list[date] = []
    if dosing.startswith("weekdays:"):
        wanted = {WEEKDAYS.index(w) for w in dosing.removeprefix("weekdays:").split(",")}
        d = cursor
        while len(out) < n:
            if d.weekday() in wanted:
                out.append(d)
            d = free.after(d)
        return out
    cycle = _CYCLES[dosing]
    phase = 0 if restart else elapsed % len(cycle)
    d = cursor
    for on in _cycle_from(cycle, phase):
        if on:
            out.append(d)
            if len(out) == n:
                break
        d = free.after(d)
    return out


def _cycle_from(cycle: tuple[bool, ...], phase: int) -> Iterator[bool]:
    i = phase
    while True:
        yield cycle[i % len(cycle)]
        i += 1
