"""The calendar people use (issue 16 item 4): short titles that lead with what to do, the
detail in the description, reminders at the check-in time in the trial's time zone, and a
printable page by week.  Every .ics is parsed back with icalendar and with vobject."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, make_context

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}


def make_trial(
    invoke: Invoke,
    tmp: Path,
    blinding: str = "helper",
    edit: tuple[tuple[str, str], ...] = (),
    start: date = START,
    alloc_seed: int = 1,
) -> Path:
    text = SMALL_PROTOCOL.format(blinding=blinding)
    for old, new in edit:
        assert old in text, old
        text = text.replace(old, new)
    protocol = tmp / "p.toml"
    protocol.write_text(text)
    trial = tmp / "trial"
    args = ["init", str(protocol), str(trial), "--start", start.isoformat()]
    r = invoke(
        [*args, "--sheet", str(tmp / "s.json")], make_context(alloc_seed=alloc_seed), env=ENV
    )
    assert r.exit_code == 0, r.output
    return trial


def ics(invoke: Invoke, trial: Path, *args: str) -> str:
    r = invoke(["calendar", "--trial", str(trial), *args])
    assert r.exit_code == 0, r.output
    return str(r.stdout)


def events(text: str) -> list[Any]:
    from icalendar import Calendar

    return list(Calendar.from_ical(text).walk("VEVENT"))


def vobject_events(text: str) -> list[Any]:
    import vobject

    return list(vobject.readOne(io.StringIO(text)).vevent_list)


def sheet(tmp: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp / "s.json").read_text())
    return data


def test_titles_lead_with_what_to_do(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet(tmp_path)["containers"]}
    found = events(ics(invoke, trial))
    assert [str(e["SUMMARY"]) for e in found] == ["Rate only"] * 2 + [
        f"Dose + rate · {by_period[p]}" for p in range(1, 9)
    ]
    assert all(len(str(e["SUMMARY"])) <= 20 for e in found)  # what a phone shows of a title
    assert str(found[2]["DESCRIPTION"]) == (
        f"Small test trial: day 3 of 10.\nDose day: take container {by_period[1]}, then rate "
        "how you are and guess what you took.\nCheck in with: blindself checkin (rate mood, "
        f"anxiety).\nTrial {trial_id(trial)}."
    )
    assert str(found[0]["DESCRIPTION"]).splitlines()[1] == (
        "Baseline day: no capsule yet; rate how you are."
    )


def trial_id(trial: Path) -> str:
    from blindself.trial.folder import opened_trial

    with opened_trial(trial, readonly=True) as t:
        return t.trial_id


def test_self_mode_titles_name_the_bag(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path, "self")
    summaries = [str(e["SUMMARY"]) for e in events(ics(invoke, trial))]
    assert summaries[2:] == [f"Dose + rate · bag {1 + (n // 2)}" for n in range(8)]
    description = str(events(ics(invoke, trial))[2]["DESCRIPTION"])
    assert "open any envelope from bag 1 and take what it holds" in description


def test_without_a_time_events_are_all_day_without_alarm(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path)
    text = ics(invoke, trial)
    for e in events(text):
        assert type(e.decoded("DTSTART")) is date and not list(e.walk("VALARM"))
    assert [v.dtstart.value for v in vobject_events(text)] == [
        START + timedelta(days=n) for n in range(10)
    ]


def test_reminders_at_the_check_in_time_in_the_trial_zone(tmp_path: Path, invoke: Invoke) -> None:
    # Starts on 2026-03-25: Europe/Berlin moves to summer time on 2026-03-29.
    trial = make_trial(
        invoke,
        tmp_path,
        edit=(('timezone = "UTC"', 'timezone = "Europe/Berlin"'),),
        start=date(2026, 3, 25),
    )
    text = ics(invoke, trial, "--remind-at", "08:30")
    assert "BEGIN:VTIMEZONE\nTZID:Europe/Berlin" in text  # (CliRunner shows CRLF as LF)
    assert "DTSTART;TZID=Europe/Berlin:20260325T083000" in text
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 3, 25, 8, 30, tzinfo=berlin)
    for n, (e, v) in enumerate(zip(events(text), vobject_events(text), strict=True)):
        start = e.decoded("DTSTART")
        want = datetime.combine(date(2026, 3, 25) + timedelta(days=n), time(8, 30), berlin)
        # 08:30 local on both sides of the change.  vobject reads the same wall-clock time
        # and zone name; its instant is not compared: dateutil's tzical, which it uses, ignores
        # the RDATE list of the VTIMEZONE icalendar writes and keeps +01:00 after 29 March
        # (calendar apps resolve the IANA TZID by name; docs/design.md#calendar-files).
        assert start == want
        assert v.dtstart.value.replace(tzinfo=None) == want.replace(tzinfo=None)
        assert v.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["Europe/Berlin"]
        assert start.astimezone(berlin).time() == time(8, 30)
        assert e.decoded("DTEND") - start == timedelta(minutes=15)
        (alarm,) = e.walk("VALARM")
        assert alarm.decoded("TRIGGER") == timedelta(0)
        assert alarm["TRIGGER"].params["RELATED"] == "START"
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert v.valarm.trigger.value == timedelta(0)
    offsets = {e.decoded("DTSTART").utcoffset() for e in events(text)}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}
    assert first.astimezone(UTC).hour == 7


def test_a_utc_trial_writes_utc_times(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path)
    text = ics(invoke, trial, "--remind-at", "7:05")
    assert "DTSTART:20260302T070500Z" in text and "VTIMEZONE" not in text


def test_a_check_in_before_the_day_starts_falls_on_the_next_morning(
    tmp_path: Path, invoke: Invoke
) -> None:
    """A trial day runs from day_starts (here noon) to noon next day: its 08:30 check-in is
    the following morning (a melatonin trial rates the night's sleep then)."""
    trial = make_trial(
        invoke, tmp_path, edit=(("guess = true", 'guess = true\nday_starts = "12:00"'),)
    )
    starts = [e.decoded("DTSTART") for e in events(ics(invoke, trial, "--remind-at", "08:30"))]
    assert starts[0] == datetime(2026, 3, 3, 8, 30, tzinfo=ZoneInfo("UTC"))
    late = [e.decoded("DTSTART") for e in events(ics(invoke, trial, "--remind-at", "21:00"))]
    assert late[0] == datetime(2026, 3, 2, 21, 0, tzinfo=ZoneInfo("UTC"))


def test_the_protocol_sets_the_default_check_in_time(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(
        invoke, tmp_path, edit=(("guess = true", 'guess = true\nremind_at = "07:15"'),)
    )
    assert "DTSTART:20260302T071500Z" in ics(invoke, trial)
    assert "DTSTART:20260302T090000Z" in ics(invoke, trial, "--remind-at", "09:00")


def test_a_bad_check_in_time_is_refused(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path)
    for bad in ("24:00", "8", "08:60", "８:30", "08:30:00"):
        r = invoke(["calendar", "--trial", str(trial), "--remind-at", bad])
        assert r.exit_code == 2 and "use HH:MM, e.g. 08:30" in r.stderr, bad
    protocol = tmp_path / "bad.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper").replace(
            "guess = true", 'guess = true\nremind_at = "8h"'
        )
    )
    r = invoke(["plan", str(protocol)])
    assert r.exit_code == 1
    assert (
        r.stderr == 'Error: bad.toml: checkin.remind_at is "8h"; give a time HH:MM, e.g. "04:00"\n'
    )


WASHOUT = (("baseline_days = 2", "baseline_days = 2\nwashout_days = 2"),)


def test_washout_days(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path, edit=WASHOUT)
    found = events(ics(invoke, trial))
    washouts = [e for e in found if str(e["SUMMARY"]).startswith("Washout")]
    assert len(washouts) == 14 and {str(e["SUMMARY"]) for e in washouts} == {"Washout · rate"}
    assert "Washout day: no capsule" in str(washouts[0]["DESCRIPTION"])


def test_dose_only_check_ins_leave_washouts_off_the_ics_and_on_the_page(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make_trial(
        invoke, tmp_path, edit=(*WASHOUT, ("guess = true", 'guess = true\ndays = "dose"'))
    )
    summaries = {str(e["SUMMARY"]).split(" · ")[0] for e in events(ics(invoke, trial))}
    assert summaries == {"Rate only", "Dose + rate"}  # baseline and dose days only
    out = tmp_path / "cal.html"
    assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
    page = out.read_text()
    assert page.count('class="day washout"') == 14
    assert page.count('<p class="nocheckin">no check-in</p>') == 14
    assert page.count('class="day off"') == 0  # a weekday pattern would have "No capsule" days


def test_printable_page_groups_weeks_and_marks_days(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(invoke, tmp_path, "self", edit=WASHOUT)
    out = tmp_path / "cal.html"
    assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
    page = out.read_text()
    # 2 baseline + 8 dose + 7 washouts x 2 = 24 days from Monday 2026-03-02: 4 weeks.
    assert page.count('<section class="week"') == 4
    assert '<h2 id="week-1">Week 1 &middot; Mon 2 Mar to Sun 8 Mar 2026</h2>' in page
    assert page.count('class="day outside"') == 4  # the last week ends on Wednesday
    assert page.count('class="day dose') == 8
    assert page.count("<strong>Dose + rate</strong>") == 8 + 1  # and the key
    # Bags 1-4 begin on the first dose day of each block, marked by a star and in words.
    assert page.count('class="day dose new-bag"') == 4
    assert page.count("new bag</p>") == 4
    assert page.count('<span aria-hidden="true">●</span>') == 0  # symbols carry class sym
    assert (
        page.count(
            '<span class="sym" aria-hidden="true">≈</span> <strong>Washout · rate</strong></p>'
        )
        == 14
    )
    # A line to write on for each outcome and a note, on every check-in day.
    assert page.count("<span>mood</span><span>anxiety</span><span>note</span>") == 24


def test_pause_days_and_day_types_added_later(tmp_path: Path, invoke: Invoke) -> None:
    """The hook for pauses (issue 16 item 2): a paused day is shown, without a check-in or a
    reminder; a day type the calendar does not know is shown under its own name."""
    from blindself.report.calendar import participant_calendar
    from blindself.services.calendar import day_plans, ics_text
    from blindself.trial.folder import opened_trial

    trial_dir = make_trial(invoke, tmp_path)
    with opened_trial(trial_dir, readonly=True) as trial:
        days = list(trial.calendar.days)
        days[1] = days[1]._replace(day_type="pause")  # type: ignore[arg-type]
        days[2] = days[2]._replace(day_type="holiday", period=None)  # type: ignore[arg-type]
        changed = trial._replace(calendar=trial.calendar._replace(days=tuple(days)))
        plans = day_plans(changed)
        page = participant_calendar(trial.protocol, trial.trial_id, plans, None)
        text = ics_text(changed, datetime(2026, 3, 1, tzinfo=UTC), time(8, 30))
    paused, other = plans[1], plans[2]
    assert (paused.title, paused.summary, paused.checkin) == ("Paused", "Paused", False)
    assert paused.description.splitlines()[1].startswith("Paused: no capsule and no check-in")
    assert (other.title, other.checkin) == ("Holiday", True)
    assert '<li class="day pause">' in page and "<strong>Paused</strong>" in page
    assert '<li class="day other">' in page and "<strong>Holiday</strong>" in page
    found = {str(e["SUMMARY"]): e for e in events(text)}
    assert type(found["Paused"].decoded("DTSTART")) is date
    assert not list(found["Paused"].walk("VALARM")) and list(found["Holiday"].walk("VALARM"))


def test_no_arm_in_either_calendar_for_two_allocations(tmp_path: Path, invoke: Invoke) -> None:
    seen = []
    for seed in (1, 2):
        base = tmp_path / str(seed)
        base.mkdir()
        trial = make_trial(invoke, base, "self", edit=WASHOUT, alloc_seed=seed)
        out = base / "cal.html"
        assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
        text = ics(invoke, trial, "--remind-at", "08:30")
        for doc in (text, out.read_text()):
            assert "placebo" not in doc  # ("active" is in the protocol's question)
        seen.append((text, out.read_text()))
        assert sheet(base)["codes"] != {}
    assert seen[0] == seen[1]


def test_off_days_of_a_dose_only_protocol_say_no_capsule(tmp_path: Path, invoke: Invoke) -> None:
    trial = make_trial(
        invoke,
        tmp_path,
        edit=(('dosing = "daily"', 'dosing = "every-other-day"'),
              ("guess = true", 'guess = true\ndays = "dose"')),
    )  # fmt: skip
    out = tmp_path / "cal.html"
    assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
    page = out.read_text()
    assert page.count('<li class="day off">') == 8
    assert "<strong>No capsule</strong>: no capsule, no check-in</li>" in page  # the key
    assert "<strong>Rate only</strong>: no capsule yet; check in</li>" in page  # baseline
    summaries = {str(e["SUMMARY"]) for e in events(ics(invoke, trial))}
    assert "No capsule" not in summaries and "Rate only" in summaries


def test_each_day_lists_what_its_check_in_asks(tmp_path: Path, invoke: Invoke) -> None:
    """A questionnaire on its own schedule gets a line on its days only; an outcome another
    app measures (source = "import") gets none: nothing to write by hand."""
    trial = make_trial(
        invoke,
        tmp_path,
        edit=(("[checkin]\n", '[[outcomes]]\ninstrument = "gad7"\nschedule = "weekly:sun"\n\n'
                              "[checkin]\n"),),
    )  # fmt: skip
    out = tmp_path / "cal.html"
    assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
    page = out.read_text()
    # 2026-03-02 is a Monday: the 10 days hold one Sunday (2026-03-08).
    assert page.count("<span>mood</span><span>anxiety</span><span>gad7</span>") == 1
    assert page.count("<span>mood</span><span>anxiety</span><span>note</span>") == 9
    assert "questionnaires on their days: <strong>gad7</strong>" in page
    found = events(ics(invoke, trial))
    sunday = next(e for e in found if e.decoded("DTSTART") == date(2026, 3, 8))
    assert "(rate mood, anxiety, gad7)" in str(sunday["DESCRIPTION"])
    assert "(rate mood, anxiety)." in str(found[0]["DESCRIPTION"])


def test_an_imported_outcome_has_no_line_to_write(tmp_path: Path, invoke: Invoke) -> None:
    protocol = Path(__file__).parent / "data" / "melatonin-measured-sleep.toml"
    trial = tmp_path / "trial"
    args = ["init", str(protocol), str(trial), "--start", START.isoformat(), "--no-sheet"]
    assert invoke(args, make_context(), env=ENV).exit_code == 0
    out = tmp_path / "cal.html"
    assert invoke(["calendar", "--trial", str(trial), "-o", str(out)]).exit_code == 0
    page = out.read_text()
    assert "<span>sleep_minutes</span>" not in page
    assert page.count("<span>grogginess</span><span>note</span>") == 49
    assert "(sleep_minutes comes from <code>blindself import</code>)" in page
    description = str(events(ics(invoke, trial))[0]["DESCRIPTION"])
    assert "(rate grogginess)." in description and "sleep_minutes" not in description
