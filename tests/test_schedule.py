"""Tests for blindself.trial.schedule: the trial calendar (docs/design.md#calendar-and-periods).

Hand-worked calendars for each dosing pattern, then a brute-force reference
implementation written here (dose-day stream by testing every day against the pattern)
compared with build_calendar over many random designs.

Calendars are written as one token per day: ``B`` baseline, ``W`` washout, ``D<k>`` a
dose day of period k, ``o<k>`` an off day of period k (k counted from 0).
"""

from __future__ import annotations

import inspect
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindself import randomness
from blindself.protocol.loading import load_protocol, parse_protocol
from blindself.protocol.model import Design, Protocol
from blindself.trial import scheme as scheme_module
from blindself.trial.schedule import Calendar, Day, build_calendar, scheme_of

BASE = b"""\
[trial]
title = "t"
question = "q"
[[arms]]
name = "active"
kind = "active"
[[arms]]
name = "placebo"
kind = "placebo"
[[arms]]
name = "none"
kind = "none"
[design]
block = ["active", "placebo"]
blocks = 1
[[outcomes]]
name = "mood"
primary = true
"""
BASE_PROTOCOL = parse_protocol(BASE)

MONDAY = date(2024, 1, 1)  # a Monday
assert MONDAY.weekday() == 0


def protocol(
    dosing: str = "daily",
    period_days: int = 1,
    n_periods: int = 2,
    baseline: int = 0,
    washout: int = 0,
    block: tuple[str, ...] = ("active", "placebo"),
    kind: str = "blocks",
) -> Protocol:
    """The base protocol with a design built directly (no TOML round trip)."""
    if kind == "blocks":
        assert n_periods % len(block) == 0
        design = Design(
            kind="blocks",
            block=block,
            blocks=n_periods // len(block),
            counts=(),
            period_days=period_days,
            dosing=dosing,
            baseline_days=baseline,
            washout_days=washout,
            blinding="helper",
            max_run=None,
        )
    else:
        design = Design(
            kind="complete",
            block=(),
            blocks=1,
            counts=(("active", n_periods - n_periods // 2), ("placebo", n_periods // 2)),
            period_days=period_days,
            dosing=dosing,
            baseline_days=baseline,
            washout_days=washout,
            blinding="helper",
            max_run=None,
        )
    return BASE_PROTOCOL._replace(design=design)


def tokens(cal: Calendar) -> str:
    out = []
    for d in cal.days:
        if d.day_type == "baseline":
            out.append("B")
        elif d.day_type == "washout":
            out.append("W")
        else:
            out.append(("D" if d.day_type == "dose" else "o") + str(d.period))
    return " ".join(out)


# -- hand-worked calendars --------------------------------------------------------------

HAND = [
    # (id, dosing, period_days, n_periods, baseline, washout, start, expected)
    ("daily-1", "daily", 1, 4, 2, 0, MONDAY, "B B D0 D1 D2 D3"),
    ("daily-3-washout", "daily", 3, 2, 0, 1, MONDAY, "D0 D0 D0 W D1 D1 D1"),
    ("daily-2-washout-2", "daily", 2, 4, 1, 2, MONDAY, "B D0 D0 W W D1 D1 W W D2 D2 W W D3 D3"),
    # the last period keeps its off day ("day after")
    ("eod-1", "every-other-day", 1, 4, 1, 0, MONDAY, "B D0 o0 D1 o1 D2 o2 D3 o3"),
    ("eod-2-washout", "every-other-day", 2, 2, 0, 2, MONDAY, "D0 o0 D0 o0 W W D1 o1 D1 o1"),
    ("fadiman-1", "fadiman", 1, 2, 0, 0, MONDAY, "D0 o0 o0 D1 o1 o1"),
    ("fadiman-2", "fadiman", 2, 2, 3, 0, MONDAY, "B B B D0 o0 o0 D0 o0 o0 D1 o1 o1 D1 o1 o1"),
    ("fadiman-2-washout", "fadiman", 2, 2, 0, 1, MONDAY, "D0 o0 o0 D0 o0 o0 W D1 o1 o1 D1 o1 o1"),
    (
        "fadiman-1-washout-2",
        "fadiman",
        1,
        4,
        0,
        2,
        MONDAY,
        "D0 o0 o0 W W D1 o1 o1 W W D2 o2 o2 W W D3 o3 o3",
    ),
    ("stamets-1", "stamets", 1, 4, 0, 0, MONDAY, "D0 D1 D2 D3 o3 o3 o3"),
    ("stamets-2", "stamets", 2, 4, 0, 0, MONDAY, "D0 D0 D1 D1 o1 o1 o1 D2 D2 D3 D3 o3 o3 o3"),
    # a period whose dose days straddle the 3 off days of the cycle
    ("stamets-3", "stamets", 3, 2, 0, 0, MONDAY, "D0 D0 D0 D1 o1 o1 o1 D1 D1"),
    ("stamets-4", "stamets", 4, 2, 1, 0, MONDAY, "B D0 D0 D0 D0 o0 o0 o0 D1 D1 D1 D1 o1 o1 o1"),
    # after a washout the cycle restarts, so the 3 off days never come
    ("stamets-3-washout", "stamets", 3, 2, 0, 1, MONDAY, "D0 D0 D0 W D1 D1 D1"),
    # Mon D0, Tue D1, Wed off, Thu D2, Fri D3, Sat and Sun off
    ("weekdays-1", "weekdays:mon,tue,thu,fri", 1, 4, 0, 0, MONDAY, "D0 D1 o1 D2 D3 o3 o3"),
    (
        "weekdays-4",
        "weekdays:mon,tue,thu,fri",
        4,
        2,
        7,
        0,
        MONDAY,
        "B B B B B B B D0 D0 o0 D0 D0 o0 o0 D1 D1 o1 D1 D1 o1 o1",
    ),
    # starting on a Wednesday: the Wednesday before the first dose is run-in
    (
        "weekdays-midweek",
        "weekdays:mon,tue,thu,fri",
        2,
        2,
        0,
        0,
        date(2024, 1, 3),
        "B D0 D0 o0 o0 D1 D1 o1",
    ),
    # weekdays stay tied to the calendar: after Thu-Fri washout, Sat and Sun wait for
    # Monday and are washout days too (they were labelled "baseline" before the fix)
    (
        "weekdays-washout",
        "weekdays:mon,tue,thu,fri",
        2,
        2,
        0,
        2,
        MONDAY,
        "D0 D0 o0 W W W W D1 D1 o1",
    ),
    (
        "weekdays-sun",
        "weekdays:sun",
        1,
        2,
        0,
        0,
        MONDAY,
        "B B B B B B D0 o0 o0 o0 o0 o0 o0 D1 o1 o1 o1 o1 o1 o1",
    ),
]


@pytest.mark.parametrize(
    ("dosing", "period_days", "n_periods", "baseline", "washout", "start", "expected"),
    [h[1:] for h in HAND],
    ids=[h[0] for h in HAND],
)
def test_hand_worked_calendar(
    dosing: str,
    period_days: int,
    n_periods: int,
    baseline: int,
    washout: int,
    start: date,
    expected: str,
) -> None:
    p = protocol(dosing, period_days, n_periods, baseline, washout)
    cal = build_calendar(p, start)
    assert tokens(cal) == expected
    check_invariants(p, start, cal)
    assert cal.start == start
    assert cal.n_periods == n_periods
    assert cal.period_days == period_days


def test_blocks_are_period_div_block_length() -> None:
    p = protocol("daily", 1, 6, block=("none", "placebo", "active"))
    cal = build_calendar(p, MONDAY)
    assert [(d.period, d.block) for d in cal.days] == [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 1),
        (4, 1),
        (5, 1),
    ]


def test_complete_design_is_one_block() -> None:
    cal = build_calendar(protocol("fadiman", 1, 5, kind="complete"), MONDAY)
    assert {d.block for d in cal.days} == {0}
    assert tokens(cal) == "D0 o0 o0 D1 o1 o1 D2 o2 o2 D3 o3 o3 D4 o4 o4"


def test_calendar_lookup_helpers() -> None:
    cal = build_calendar(protocol("fadiman", 2, 2, baseline=2), MONDAY)
    assert cal.end == MONDAY + timedelta(days=len(cal.days) - 1)
    assert cal.day(MONDAY - timedelta(days=1)) is None
    assert cal.day(cal.end + timedelta(days=1)) is None
    assert cal.day(MONDAY) == Day(MONDAY, "baseline", None, None)
    third = MONDAY + timedelta(days=2)
    assert cal.day(third) == Day(third, "dose", 0, 0)
    assert cal.day(third) is not None and cal.day(third).is_dose  # type: ignore[union-attr]
    assert not cal.days[3].is_dose
    assert cal.period_dates(0) == [MONDAY + timedelta(days=2), MONDAY + timedelta(days=5)]
    assert cal.period_dates(1) == [MONDAY + timedelta(days=8), MONDAY + timedelta(days=11)]
    assert cal.period_dates(2) == []


def test_scheme_of_follows_the_design() -> None:
    p = protocol("daily", 1, 6, block=("none", "placebo", "active"))
    s = scheme_of(p)
    assert (s.kind, s.arms, s.block, s.n_blocks, s.max_run) == (
        "blocks",
        ("active", "placebo", "none"),
        ("none", "placebo", "active"),
        2,
        None,
    )
    c = scheme_of(protocol("daily", 1, 5, kind="complete"))
    assert (c.kind, c.counts, c.n_periods) == ("complete", (("active", 3), ("placebo", 2)), 5)


# -- arm-free ---------------------------------------------------------------------------


def test_calendar_never_sees_an_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    # build_calendar takes only the protocol, the start date and the pauses (public log
    # entries: dates and a reason) ...
    assert list(inspect.signature(build_calendar).parameters) == ["protocol", "start", "pauses"]

    # ... and draws nothing: every source of randomness fails if touched.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the calendar drew randomness")

    monkeypatch.setattr(scheme_module, "draw_allocation", refuse)
    monkeypatch.setattr(scheme_module, "shuffle", refuse)
    monkeypatch.setattr(randomness, "shuffle", refuse)
    monkeypatch.setattr(randomness.SystemRandomSource, "randbelow", refuse)
    p = protocol("weekdays:mon,thu", 2, 4, baseline=3, washout=2)
    first = build_calendar(p, MONDAY)
    assert build_calendar(p, MONDAY) == first
    # the order of arms in the block (which block orders exist) leaves it unchanged
    swapped = protocol("weekdays:mon,thu", 2, 4, baseline=3, washout=2, block=("placebo", "active"))
    assert build_calendar(swapped, MONDAY) == first


# -- the independent reference ------------------------------------------------------------

WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# on/off masks written from the protocols' definitions: every day; one on, one off;
# Fadiman (one on, two off); Stamets (four on, three off)
MASKS = {"daily": "D", "every-other-day": "D.", "fadiman": "D..", "stamets": "DDDD..."}


def is_dose_day(dosing: str, day: date, restart: date) -> bool:
    if dosing.startswith("weekdays:"):
        return WEEKDAY_NAMES[day.weekday()] in dosing.split(":", 1)[1].split(",")
    mask = MASKS[dosing]
    return mask[(day - restart).days % len(mask)] == "D"


def reference_days(p: Protocol, start: date) -> list[tuple[date, str, int | None, int | None]]:
    """docs/design.md#calendar-and-periods by brute force: a dose stream per segment (the whole
    trial without washout, one period per segment with washout), periods of period_days dose days,
    each span up to the day before the next dose of its stream."""
    d = p.design
    n_periods = len(d.block) * d.blocks if d.kind == "blocks" else sum(n for _, n in d.counts)
    block_len = len(d.block) if d.kind == "blocks" else n_periods
    per_segment = n_periods if d.washout_days == 0 else 1
    out: list[tuple[date, str, int | None, int | None]] = []
    day = start
    for _ in range(d.baseline_days):
        out.append((day, "baseline", None, None))
        day += timedelta(days=1)
    period = 0
    for segment in range(n_periods // per_segment):
        restart = day
        stream: list[date] = []
        probe = day
        while len(stream) < per_segment * d.period_days + 1:
            if is_dose_day(d.dosing, probe, restart):
                stream.append(probe)
            probe += timedelta(days=1)
        while day < stream[0]:
            out.append((day, "baseline" if segment == 0 else "washout", None, None))
            day += timedelta(days=1)
        for j in range(per_segment):
            doses = stream[j * d.period_days : (j + 1) * d.period_days]
            while day < stream[(j + 1) * d.period_days]:
                kind = "dose" if day in doses else "off"
                out.append((day, kind, period, period // block_len))
                day += timedelta(days=1)
            period += 1
        if period < n_periods:
            for _ in range(d.washout_days):
                out.append((day, "washout", None, None))
                day += timedelta(days=1)
    return out


def test_reference_agrees_with_the_hand_worked_calendars() -> None:
    # the reference itself is checked against the hand-worked table
    for _, dosing, pd, n, baseline, washout, start, expected in HAND:
        ref = reference_days(protocol(dosing, pd, n, baseline, washout), start)
        got = " ".join(
            "B"
            if t == "baseline"
            else "W"
            if t == "washout"
            else ("D" if t == "dose" else "o") + str(k)
            for _, t, k, _ in ref
        )
        assert got == expected, dosing


WEEKDAY_PATTERNS = st.lists(
    st.sampled_from(WEEKDAY_NAMES), min_size=1, max_size=7, unique=True
).map(lambda days: "weekdays:" + ",".join(days))
DOSINGS = st.sampled_from(sorted(MASKS)) | WEEKDAY_PATTERNS | st.just("weekdays:mon,tue,thu,fri")


@st.composite
def designs(draw: st.DrawFn) -> Protocol:
    kind = draw(st.sampled_from(["blocks", "complete"]))
    block = draw(
        st.sampled_from(
            [("active", "placebo"), ("none", "placebo", "active"), ("active", "active", "placebo")]
        )
    )
    n_periods = (
        len(block) * draw(st.integers(1, 5)) if kind == "blocks" else draw(st.integers(2, 9))
    )
    return protocol(
        dosing=draw(DOSINGS),
        period_days=draw(st.sampled_from([1, 1, 2, 3, 4, 7])),
        n_periods=n_periods,
        baseline=draw(st.integers(0, 9)),
        washout=draw(st.sampled_from([0, 0, 1, 2, 3, 7])),
        block=block,
        kind=kind,
    )


@settings(max_examples=200, deadline=None)
@given(p=designs(), start=st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_calendar_matches_reference_and_invariants(p: Protocol, start: date) -> None:
    cal = build_calendar(p, start)
    assert [(x.date, x.day_type, x.period, x.block) for x in cal.days] == reference_days(p, start)
    check_invariants(p, start, cal)


def check_invariants(p: Protocol, start: date, cal: Calendar) -> None:
    """What docs/design.md#calendar-and-periods says of every calendar, without the reference."""
    d = p.design
    days = cal.days
    block_len = scheme_of(p).block_size
    # consecutive dates from the start, no gaps, so day() is an index
    assert [x.date for x in days] == [start + timedelta(days=i) for i in range(len(days))]
    # the run-in comes first and holds at least baseline_days days
    types = [x.day_type for x in days]
    assert types[: d.baseline_days] == ["baseline"] * d.baseline_days
    first_dose = types.index("dose")
    assert set(types[:first_dose]) <= {"baseline"}
    assert "baseline" not in types[first_dose:]
    # every period has exactly period_days dose days, and starts with one
    n = cal.n_periods
    for k in range(n):
        in_k = [x for x in days if x.period == k]
        assert sum(x.is_dose for x in in_k) == d.period_days
        assert in_k[0].is_dose
        # a period's days are contiguous
        i0 = days.index(in_k[0])
        assert list(days[i0 : i0 + len(in_k)]) == in_k
        assert all(x.block == k // block_len for x in in_k)
    # periods appear in order; period and block are None exactly off the periods
    periods = [x.period for x in days if x.period is not None]
    assert periods == sorted(periods) and set(periods) == set(range(n))
    for x in days:
        assert (x.period is None) == (x.day_type in ("baseline", "washout"))
        assert (x.block is None) == (x.period is None)
    # dose days follow the pattern (weekdays tied to the calendar)
    if d.dosing.startswith("weekdays:"):
        wanted = d.dosing.split(":")[1].split(",")
        assert all(WEEKDAY_NAMES[x.date.weekday()] in wanted for x in days if x.is_dose)
    # washout: at least washout_days between periods, none after the last one
    if d.washout_days:
        for k in range(1, n):
            last_of_prev = max(i for i, x in enumerate(days) if x.period == k - 1)
            first_of_k = min(i for i, x in enumerate(days) if x.period == k)
            gap = types[last_of_prev + 1 : first_of_k]
            assert gap == ["washout"] * len(gap) and len(gap) >= d.washout_days
            if not d.dosing.startswith("weekdays:"):
                assert len(gap) == d.washout_days  # cyclic patterns restart at once
        assert types[-1] != "washout"
    else:
        assert "washout" not in types
    # the last day belongs to the last period
    assert days[-1].period == n - 1


@settings(max_examples=50, deadline=None)
@given(
    dosing=st.sampled_from(["every-other-day", "fadiman", "stamets"]),
    period_days=st.integers(1, 5),
    n_blocks=st.integers(1, 4),
)
def test_without_washout_dose_days_are_one_unbroken_stream(
    dosing: str, period_days: int, n_blocks: int
) -> None:
    # docs/design.md#calendar-and-periods: period k holds dose days k*pd ... (k+1)*pd - 1 of the
    # stream the pattern gives after the baseline.
    p = protocol(dosing, period_days, 2 * n_blocks, baseline=4)
    cal = build_calendar(p, MONDAY)
    run_in_end = MONDAY + timedelta(days=4)
    stream = [
        run_in_end + timedelta(days=i)
        for i in range(400)
        if is_dose_day(dosing, run_in_end + timedelta(days=i), run_in_end)
    ]
    for k in range(cal.n_periods):
        assert cal.period_dates(k) == stream[k * period_days : (k + 1) * period_days]


# -- shipped templates ------------------------------------------------------------------


def _template_paths() -> list[str]:
    import importlib.resources

    root = importlib.resources.files("blindself.protocols")
    return sorted(str(f) for f in root.iterdir() if f.name.endswith(".toml"))


@pytest.mark.parametrize("path", _template_paths(), ids=lambda s: s.rsplit("/", 1)[-1])
def test_templates_match_reference(path: str) -> None:
    from pathlib import Path

    p = load_protocol(Path(path))
    for start in (MONDAY, date(2024, 2, 29), date(2025, 12, 31)):
        cal = build_calendar(p, start)
        assert [(x.date, x.day_type, x.period, x.block) for x in cal.days] == reference_days(
            p, start
        )
        assert cal.n_periods == scheme_of(p).n_periods
        check_invariants(p, start, cal)
