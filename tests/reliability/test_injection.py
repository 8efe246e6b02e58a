"""Text that other programs execute or display misleadingly (T-45): spreadsheet formulas in
CSV cells, C1 controls and bidi overrides, terminal escapes in a protocol."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, at, day, make_context, with_clock
from reliability.support import assert_one_error_line, make_small_trial

from blindself.errors import CheckinError
from blindself.services.daily import record_checkin
from blindself.services.export import export_trial
from blindself.services.unblinding import unblind_trial
from blindself.trial.checkins import CheckinRequest, check_free_text

FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "=1+1\nsecond"]


def _trial_with_notes(tmp_path: Path, notes: list[str]) -> Path:
    t, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n, note in enumerate(notes):
        req = CheckinRequest(
            date=day(n),
            code=by_period[n - 1] if n >= 2 else None,
            ratings={"mood": 4 + n % 3, "anxiety": 3},
            guess="unsure" if n >= 2 else None,
            note=note,
        )
        record_checkin(t, req, with_clock(make_context(), at(day(n))))
    return t


def _notes(text: str) -> list[str]:
    return [row["note"] for row in csv.DictReader(io.StringIO(text)) if row["note"]]


def test_formula_notes_are_neutralised_in_csv_not_in_json(tmp_path: Path) -> None:
    """The reported attack: a note of =HYPERLINK(...) reached the CSV unchanged."""
    t = _trial_with_notes(tmp_path, FORMULAS)
    assert _notes(export_trial(t, "csv", False)) == ["'" + n for n in FORMULAS]
    rows = json.loads(export_trial(t, "json", False))["rows"]
    assert [r["note"] for r in rows if r["note"]] == FORMULAS  # JSON keeps the text


def test_report_data_csv_is_neutralised_and_numbers_stay_numbers(tmp_path: Path) -> None:
    t = _trial_with_notes(tmp_path, ["plain", "=1+1", "fine -1", "-1"])
    unblind_trial(t, with_clock(make_context(), at(day(10))), passphrase=PASSPHRASE)
    text = (t / "report" / "data.csv").read_text()
    assert _notes(text) == ["plain", "'=1+1", "fine -1", "'-1"]
    moods = [row["mood"] for row in csv.DictReader(io.StringIO(text)) if row["mood"]]
    assert moods[:4] == ["4", "5", "6", "4"]


@pytest.mark.parametrize(
    "bad",
    ["\x9b31m red", "abc\u202etxt.exe", "x\u2066y", "del\x7f", "bare\rCR", "\x1b[2J", "a\u2028b"],
    ids=["C1-CSI", "RLO", "LRI", "DEL", "CR", "ESC", "LSEP"],
)
def test_check_free_text_refuses_c1_bidi_and_controls(bad: str) -> None:
    with pytest.raises(CheckinError, match=r"note contains .*U\+[0-9A-F]{4}.*; type plain text"):
        check_free_text(bad, "note")


@pytest.mark.parametrize("good", ["café au lait", "two\nlines\tand tab", "👩‍💻 ok", "שלום"])
def test_check_free_text_keeps_ordinary_text(good: str) -> None:
    check_free_text(good, "note")


def test_note_with_c1_control_is_refused_by_the_cli(tmp_path: Path, invoke: Invoke) -> None:
    t, _ = make_small_trial(tmp_path)
    r = invoke(
        ["checkin", "--trial", str(t), "--date", day(0).isoformat(), "--rate", "mood=5",
         "--rate", "anxiety=3", "--note", "x\u202egnp.exe"],
        with_clock(make_context(), at(day(0))),
    )  # fmt: skip
    assert_one_error_line(r)
    assert "U+202E" in r.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Mood \x1b]0;owned\x07trial"),
        ("title", "Mood\x9b2J"),
        ("title", "Good\rBAD"),
        ("question", "Does it \u202ehelp?"),
    ],
    ids=["OSC", "C1-CSI", "bare-CR", "RLO"],
)
def test_terminal_escapes_in_a_protocol_are_refused_at_load(
    tmp_path: Path, invoke: Invoke, field: str, value: str
) -> None:
    """The reported attack: a title's escape sequence reached status, plan and init output."""
    text = SMALL_PROTOCOL.format(blinding="helper")
    original = next(line for line in text.splitlines() if line.startswith(f"{field} = "))
    protocol = tmp_path / "p.toml"
    protocol.write_text(text.replace(original, f"{field} = {json.dumps(value)}"))
    for args in (
        ["plan", str(protocol)],
        ["init", str(protocol), str(tmp_path / "t"), "--no-sheet"],
    ):
        r = invoke(args, env={"BLINDSELF_PASSPHRASE": PASSPHRASE})
        assert_one_error_line(r)
        assert f"trial.{field} contains" in r.output
        assert "\x1b" not in r.output and "\x9b" not in r.output and "\u202e" not in r.output
    assert not (tmp_path / "t").exists()


def test_calendar_is_written_by_icalendar_and_parses_back(tmp_path: Path, invoke: Invoke) -> None:
    """Text that ICS treats specially (, ; \\ and long multi-byte lines) round-trips exactly;
    a bare CR never gets this far (refused at protocol load, above)."""
    from icalendar import Calendar

    title = 'Mood; energy, sleep \\ "focus" – größer ✓ ' + "ü" * 40
    text = SMALL_PROTOCOL.format(blinding="helper")
    original = next(line for line in text.splitlines() if line.startswith("title = "))
    protocol = tmp_path / "p.toml"
    protocol.write_text(text.replace(original, f"title = {json.dumps(title)}"))
    trial = tmp_path / "t"
    r = invoke(
        ["init", str(protocol), str(trial), "--no-sheet", "--start", day(0).isoformat()],
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / "cal.ics"
    ics = invoke(["calendar", "--trial", str(trial), "--remind-at", "07:45", "-o", str(out)])
    assert ics.exit_code == 0, ics.output
    raw = out.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cal = Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert len(events) == 10
    # Issue 16: the title leads with what to do; the protocol's title is in the description
    # and names the calendar.
    assert str(cal["X-WR-CALNAME"]) == f"blindself: {title}"
    assert str(events[0]["SUMMARY"]) == "Rate only"
    assert str(events[0]["DESCRIPTION"]).startswith(f"{title}: day 1 of 10.\nBaseline day")
    assert events[0].decoded("DTSTART") == datetime.combine(day(0), time(7, 45), UTC)
    assert str(events[2]["SUMMARY"]).startswith("Dose + rate · ")
    assert str(events[2]["DESCRIPTION"]).startswith(f"{title}: day 3 of 10.\nDose day: take ")
    (alarm,) = events[0].walk("VALARM")
    assert alarm.decoded("TRIGGER").total_seconds() == 0
    assert alarm["TRIGGER"].params["RELATED"] == "START"


def _csv_with_column(tmp_path: Path, column: str) -> Path:
    """A CSV collected elsewhere: 12 days alternating A / P, one outcome named ``column``."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["participant", "date", "arm", column])
    for i in range(12):
        w.writerow(["p1", f"2026-03-{i + 1:02d}", "AP"[i % 2], 5 + (i % 2 == 0) + i % 3])
    path = tmp_path / "x.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["analyze", "pool"])
def test_terminal_escapes_in_a_csv_are_refused(
    tmp_path: Path, invoke: Invoke, command: str
) -> None:
    """F21: a column named with CSI and OSC escapes reached the terminal through the plan line,
    the table and error messages (OSC passes even when click strips colours)."""
    path = _csv_with_column(tmp_path, "mo\x1b[31mod\x1b]0;PWN\x07")
    args = [command, str(path), "--arm-column", "arm", "--active", "A", "--placebo", "P"]
    if command == "pool":
        args += ["--participant-column", "participant", "--outcome-column", "mood"]
    r = invoke(args)
    assert r.exit_code == 1
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert (
        r.output
        == "Error: x.csv line 1 contains control characters (U+001B); save it as plain text\n"
    )


def test_markdown_output_escapes_column_names(tmp_path: Path, invoke: Invoke) -> None:
    """F18: the .md carried a column name as raw HTML (run by viewers that pass inline HTML)
    and a ``|`` in it broke the results table."""
    path = _csv_with_column(tmp_path, "<img src=x onerror=alert(1)>|x")
    out = tmp_path / "x.md"
    r = invoke(["analyze", str(path), "--arm-column", "arm", "--active", "A", "--placebo", "P",
                "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    md = out.read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;\\|x" in md
    header = next(line for line in md.splitlines() if line.startswith("| outcome"))
    cells = header.count(" | ")
    for line in md.splitlines():
        if "&lt;img" in line and line.startswith("| "):
            assert line.replace("\\|", "").count(" | ") == cells  # the row keeps its columns
