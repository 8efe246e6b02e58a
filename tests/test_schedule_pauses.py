"""Pauses in the trial calendar (docs/design.md#pauses).

A brute-force reference laid out over the days that are not paused (written here from the
definition, independently of ``_build_calendar``) is compared with ``build_calendar`` over
random designs and pauses; then the properties a person relies on, and a hand-worked weekly
crossover paused in mid-week.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from test_schedule import MASKS, MONDAY, WEEKDAY_NAMES, designs, protocol, tokens

from blindself.protocol.model import Protocol
from blindself.trial.schedule import Pause, build_calendar

Row = tuple[date, str, int | None, int | None]


def reference_paused(p: Protocol, start: date, pauses: list[Pause]) -> list[Row]:
    """The calendar by brute force over the free (not paused) days, indexed 0, 1, 2...: a
    cyclic pattern counts free days since its restart, ``weekdays:`` reads the real date."""
    paused = {q.start + timedelta(days=i) for q in pauses for i in range(q.days)}
    free: list[date] = []
    probe = start
    while len(free) < 3000:
        if probe not in paused:
            free.append(probe)
        probe += timedelta(days=1)
    d = p.design

    def dose(i: int, restart: int) -> bool:
        if d.dosing.startswith("weekdays:"):
            return WEEKDAY_NAMES[free[i].weekday()] in d.dosing.split(":", 1)[1].split(",")
        mask = MASKS[d.dosing]
        return mask[(i - restart) % len(mask)] == "D"

    n_periods = len(d.block) * d.blocks if d.kind == "blocks" else sum(n for _, n in d.counts)
    block_len = len(d.block) if d.kind == "blocks" else n_periods
    per_segment = n_periods if d.washout_days == 0 else 1
    out: list[Row] = []
    i = 0
    for _ in range(d.baseline_days):
        out.append((free[i], "baseline", None, None))
        i += 1
    period = 0
    for segment in range(n_periods // per_segment):
        restart = i
        stream = [j for j in range(i, len(free)) if dose(j, restart)][
            : per_segment * d.period_days + 1
        ]
        while i < stream[0]:
            out.append((free[i], "baseline" if segment == 0 else "washout", None, None))
            i += 1
        for j in range(per_segment):
            doses = stream[j * d.period_days : (j + 1) * d.period_days]
            while i < stream[(j + 1) * d.period_days]:
                out.append((free[i], "dose" if i in doses else "off", period, period // block_len))
                i += 1
            period += 1
        if period < n_periods:
            for _ in range(d.washout_days):
                out.append((free[i], "washout", None, None))
                i += 1
    last = out[-1][0]
    out += [(x, "pause", None, None) for x in sorted(paused) if start <= x <= last]
    return sorted(out)


@st.composite
def paused_designs(draw: st.DrawFn) -> tuple[Protocol, date, list[Pause]]:
    p = draw(designs())
    start = draw(st.dates(date(2000, 1, 1), date(2090, 12, 31)))
    n_days = len(build_calendar(p, start).days)
    pauses: list[Pause] = []
    cursor = 0
    for _ in range(draw(st.integers(0, 3))):
        gap = draw(st.integers(0, n_days))
        days = draw(st.integers(1, 10))
        pauses.append(Pause(start + timedelta(days=cursor + gap), days, "r", len(pauses) + 2))
        cursor += gap + days  # pauses never overlap (the service refuses it)
    return p, start, pauses


@settings(max_examples=200, deadline=None)
@given(drawn=paused_designs())
def test_paused_calendar_matches_the_reference(drawn: tuple[Protocol, date, list[Pause]]) -> None:
    p, start, pauses = drawn
    cal = build_calendar(p, start, tuple(pauses))
    got = [(x.date, x.day_type, x.period, x.block) for x in cal.days]
    assert got == reference_paused(p, start, pauses)


@settings(max_examples=200, deadline=None)
@given(drawn=paused_designs())
def test_a_pause_moves_what_comes_after_it_and_nothing_before(
    drawn: tuple[Protocol, date, list[Pause]],
) -> None:
    p, start, pauses = drawn
    plain = build_calendar(p, start)
    cal = build_calendar(p, start, tuple(pauses))
    # one day per date, none missing (Calendar.day indexes by date)
    assert [d.date for d in cal.days] == [start + timedelta(days=i) for i in range(len(cal.days))]
    assert cal.days[-1].day_type != "pause"  # the trial ends on a trial day
    kept = [q for q in pauses if q.start <= cal.end]
    assert cal.pauses == tuple(kept)
    paused = {q.start + timedelta(days=i) for q in kept for i in range(q.days)}
    assert {d.date for d in cal.days if d.day_type == "pause"} == paused
    for d in cal.days:
        assert cal.day(d.date) == d
        assert (cal.pause_of(d.date) is not None) == (d.date in paused)
    # before the first pause nothing changed
    first = min((q.start for q in kept), default=cal.end + timedelta(days=1))
    assert [d for d in cal.days if d.date < first] == [d for d in plain.days if d.date < first]
    # every period keeps its dose days, none on a paused day, none earlier than planned
    for k in range(plain.n_periods):
        assert len(cal.period_dates(k)) == len(plain.period_dates(k))
        assert all(a >= b for a, b in zip(cal.period_dates(k), plain.period_dates(k)))
    trial_days = [d for d in cal.days if d.day_type != "pause"]
    if not p.design.dosing.startswith("weekdays:"):
        # a cyclic pattern keeps its phase: the same days in the same order, moved by
        # exactly the paused days
        strip = [(d.day_type, d.period, d.block) for d in plain.days]
        assert [(d.day_type, d.period, d.block) for d in trial_days] == strip
        assert cal.end == plain.end + timedelta(days=sum(q.days for q in kept))
    else:
        wanted = p.design.dosing.split(":", 1)[1].split(",")
        assert all(WEEKDAY_NAMES[d.date.weekday()] in wanted for d in trial_days if d.is_dose)


def test_weekly_crossover_paused_mid_week_resumes_the_same_container() -> None:
    # weekdays Mon/Tue/Thu/Fri, 4 dose days a container; flu from Wednesday to Sunday:
    # the first container's Thursday and Friday doses move to the next Monday and Tuesday,
    # and the second container starts on that Thursday.
    p = protocol("weekdays:mon,tue,thu,fri", 4, 2)
    plain = build_calendar(p, MONDAY)
    assert tokens(plain) == "D0 D0 o0 D0 D0 o0 o0 D1 D1 o1 D1 D1 o1 o1"
    cal = build_calendar(p, MONDAY, (Pause(MONDAY + timedelta(days=2), 5, "flu"),))
    marks = " ".join("P" if d.day_type == "pause" else t for d, t in zip(cal.days, _t(cal)))
    assert marks == "D0 D0 P P P P P D0 D0 o0 D1 D1 o1 o1 D1 D1 o1"
    assert cal.period_dates(0)[2:] == [MONDAY + timedelta(days=7), MONDAY + timedelta(days=8)]
    assert cal.end == plain.end + timedelta(days=3)  # the weekdays absorb 2 of the 5 days


def test_a_pause_from_the_first_day_delays_the_start() -> None:
    p = protocol("daily", 1, 2, baseline=1)
    cal = build_calendar(p, MONDAY, (Pause(MONDAY, 2, "not ready"),))
    assert [d.day_type for d in cal.days] == ["pause", "pause", "baseline", "dose", "dose"]
    assert cal.start == MONDAY and cal.end == MONDAY + timedelta(days=4)


def test_a_pause_after_the_last_day_is_not_part_of_the_calendar() -> None:
    p = protocol("daily", 1, 2)
    cal = build_calendar(p, MONDAY, (Pause(MONDAY + timedelta(days=5), 2, "later"),))
    assert cal.pauses == () and len(cal.days) == 2


def _t(cal: object) -> list[str]:
    return tokens(cal).split()  # type: ignore[arg-type]
