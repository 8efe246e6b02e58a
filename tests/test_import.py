"""``blindself import`` (issue 16 item 5): outcome values from another app's CSV export.

The example export ``tests/data/sleep-export.csv`` is shaped like a wearable's sleep log
(byte order mark, quoted header, CRLF, ISO date-times with a UTC offset across the change to
summer time, a wake-up ``Date`` column, nights before the trial, a night without a row and a
night with an empty cell); ``tests/data/melatonin-measured-sleep.toml`` takes its primary
outcome from it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, Invoke, at, day, db_dump, init_trial_cli, make_context

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "sleep-export.csv"
PROTOCOL = DATA / "melatonin-measured-sleep.toml"
ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
LAST = 48  # day(48) = 2026-04-19, the trial's last day (7 baseline + 21 pairs of nights)
IMPORT = ["--date-column", "Start Time", "--map", "Minutes Asleep=sleep_minutes"]


def file_nights() -> dict[str, int]:
    """The example's values by night, read independently of blindself: the app dates a night
    by the morning it ends (``Date``), so the trial day is the day before."""
    text = EXPORT.read_text(encoding="utf-8-sig")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        night = date.fromisoformat(row["Date"]) - timedelta(days=1)
        if row["Minutes Asleep"] and night >= START:
            out[night.isoformat()] = int(row["Minutes Asleep"])
    return out


@pytest.fixture
def trial(tmp_path: Path, invoke: Invoke) -> Path:
    t = tmp_path / "trial"
    r = init_trial_cli(invoke, PROTOCOL, t, make_context())
    assert r.exit_code == 0, r.output
    return t


def sheet_codes(trial: Path) -> dict[int, str]:
    sheet = json.loads((trial.parent / f"{trial.name}-sheet.json").read_text())
    return {c["period"]: c["code"] for c in sheet["containers"]}


def run(invoke: Invoke, trial: Path, *args: str, now: int = LAST + 1, hour: int = 13) -> Any:
    ctx = make_context(now=at(day(now), hour))
    return invoke(["import", "--trial", str(trial), *args], ctx)


def checkin(invoke: Invoke, trial: Path, n: int, *args: str) -> Any:
    ctx = make_context(now=at(day(n + 1), 8))  # the next morning (days start at noon)
    r = invoke(["checkin", "--trial", str(trial), "--date", day(n).isoformat(), *args], ctx)
    return r


def check_in_everything(invoke: Invoke, trial: Path, skip: tuple[int, ...] = ()) -> None:
    codes = sheet_codes(trial)
    for n in range(LAST + 1):
        if n in skip:
            continue
        args = ["--rate", f"grogginess={1 + n % 5}"]
        if n >= 7:
            args += ["--code", codes[n - 6], "--guess", "unsure"]
        r = checkin(invoke, trial, n, *args)
        assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ the whole path
@pytest.mark.slow
def test_import_unblind_report_and_analyze_reproduce(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    check_in_everything(invoke, trial, skip=(12, 30))  # two mornings without a check-in
    shutil.copy(EXPORT, tmp_path / "sleep-export.csv")
    export = tmp_path / "sleep-export.csv"
    refused = run(invoke, trial, str(export), *IMPORT)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: row 2: 2026-02-27 is before the trial's first day (2026-03-02); add "
        "--skip-outside to leave out rows outside the trial's days (2026-03-02 to 2026-04-19)\n"
    )
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, str(export), *IMPORT, "--skip-outside")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Read sleep-export.csv (sha256 ")
    assert lines[0].endswith(
        "...): header on row 1, comma-separated; 'Minutes Asleep' -> sleep_minutes"
    )
    assert lines[1] == "Left out 3 rows outside the trial's days."
    assert lines[2].startswith(
        "Imported 47 values (2026-03-02 to 2026-04-19): 47 new, 0 replaced, 0 already recorded"
    )
    after = db_dump(trial / "trial.db")
    assert after[: len(before)] == before  # appended only
    added = after[len(before) :]
    assert [row[1] for row in added] == ["measure"] * 47
    nights = file_nights()
    got = {row[2]: json.loads(row[3]) for row in added}
    assert {d: p["value"] for d, p in got.items()} == nights  # day_starts rule == wake date - 1
    first = got["2026-03-02"]

    assert first["source"] == {
        "file": "sleep-export.csv",
        "sha256": hashlib.sha256(EXPORT.read_bytes()).hexdigest(),
        "column": "Minutes Asleep",
        "rows": [[5, 5]],
        "combine": None,
    }
    assert first["imported_at"] == at(day(LAST + 1), 13).isoformat()

    # Idempotent, and the wake-up date with --day-shift -1 names the same nights.
    again = run(invoke, trial, str(export), "--date-column", "date", "--day-shift", "-1",
                "--map", "minutes asleep=sleep_minutes", "--skip-outside")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == (
        "Nothing new: all 47 values (2026-03-02 to 2026-04-19) are already recorded"
    )
    assert db_dump(trial / "trial.db") == after

    u = invoke(["unblind", "--trial", str(trial)], make_context(now=at(day(LAST + 1), 13)), env=ENV)
    assert u.exit_code == 0, u.output
    sha = hashlib.sha256(EXPORT.read_bytes()).hexdigest()
    line = f"sleep_minutes: 47 values imported from sleep-export.csv (sha256 {sha[:16]}...)"
    assert line in u.stdout
    report = json.loads((trial / "report" / "report.json").read_text())
    assert report["trial"]["imports"] == [
        {
            "outcome": "sleep_minutes",
            "values": 47,
            "file": "sleep-export.csv",
            "sha256": sha,
            "column": "Minutes Asleep",
        }
    ]
    assert line in (trial / "report" / "report.html").read_text()

    # data.csv carries the imported nights, including the two without a check-in.
    rows = list(csv.DictReader(io.StringIO((trial / "report" / "data.csv").read_text())))
    values = {r["date"]: int(r["sleep_minutes"]) for r in rows if r["sleep_minutes"]}
    assert values == nights
    missed = {r["date"]: r for r in rows}
    assert missed[day(12).isoformat()]["code"] == "" and missed[day(12).isoformat()]["arm"]
    assert missed[day(12).isoformat()]["sleep_minutes"] == str(nights[day(12).isoformat()])
    assert missed[day(12).isoformat()]["deviation"] == "no-checkin"

    # The primary comparison uses every dose night with a value: 42 nights minus the one
    # without a row (03-20) and the one with an empty cell (04-07).
    primary = report["outcomes"][0]
    assert primary["name"] == "sleep_minutes"
    assert primary["n"]["melatonin"] + primary["n"]["placebo"] == 40
    # Two mornings without a check-in count as missed, though their nights were measured.
    assert (report["adherence"]["checked_in"], report["adherence"]["missed"]) == (47, 2)
    assert report["adherence"]["imported_only"] == 2
    assert "Adherence: 47 of 49 days checked in, 2 missed (2 with imported values)" in u.stdout
    # Each night is analysed under the arm of the capsule scheduled for it (helper mode),
    # the two nights without a check-in too: read from the helper's sheet, not the analysis.
    sheet = json.loads((trial.parent / f"{trial.name}-sheet.json").read_text())
    arm_of = {c["period"]: sheet["codes"][c["code"]] for c in sheet["containers"]}
    dose = [p for p in primary["series"] if p["day_type"] == "dose"]
    assert len(dose) == 42
    assert all(p["arm"] == arm_of[p["day"] - 6] for p in dose)
    assert {p["date"]: p["y"] for p in dose if p["y"] is not None} == {
        d: v for d, v in nights.items() if d >= day(7).isoformat()
    }

    a = invoke(["analyze", str(trial / "report" / "data.csv"), "--arm-column", "arm",
                "--active", "melatonin", "--placebo", "placebo",
                "--outcomes", "sleep_minutes,grogginess", "--json"])  # fmt: skip
    assert a.exit_code == 0, a.output
    redo = json.loads(a.stdout)
    assert redo["adherence"]["imported_only"] == 2
    assert redo["adherence"]["checked_in"] == 47
    assert redo["trial"]["seed_material_sha256"] == report["trial"]["seed_material_sha256"]
    for x, y in zip(report["outcomes"], redo["outcomes"], strict=True):
        cx, cy = x["contrasts"][0], y["contrasts"][0]
        assert cy["estimate"] == pytest.approx(cx["estimate"])
        # 21 pairs: 2**21 assignments, so both p values are Monte Carlo estimates (9,999
        # draws each); data.csv's seed column gives analyze unblind's draws: the same p.
        assert cx["randomization"]["draws"] == cy["randomization"]["draws"] == 9999
        assert cy["p_randomization"] == cx["p_randomization"]
        assert cy["classical"]["p"] == pytest.approx(cx["classical"]["p"])

    closed = run(invoke, trial, str(export), *IMPORT, "--skip-outside", "--replace")
    assert closed.exit_code == 1
    assert closed.stderr == "Error: the trial is unblinded; values for trial days are closed\n"


# ------------------------------------------------------------------ refusals change nothing
def write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def refused(invoke: Invoke, trial: Path, path: Path, *args: str, now: int = 20) -> str:
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, str(path), *args, now=now)
    assert r.exit_code != 0 and r.exit_code != 70, r.output
    assert r.stdout == ""
    assert db_dump(trial / "trial.db") == before
    assert len(r.stderr.splitlines()) == 1, r.stderr
    return str(r.stderr).strip()


SLEEP = ["--date-column", "day", "--map", "sleep=sleep_minutes"]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (
            "day,sleep\n2026-03-03,400\n2026-03-04,1500\n2026-03-05,-3\n2026-03-06,2000\n",
            SLEEP,
            "Error: sleep_minutes must lie within its scale 0-1440; out of range in rows 3 "
            "(1500), 4 (-3), 5 (2000); nothing was imported",
        ),
        (
            "day,sleep\n2026-03-03,400\n2026-03-25,410\n",
            SLEEP,
            "Error: row 3: 2026-03-25 is after today (2026-03-22); a value cannot be measured "
            "in advance: check the date column, --date-format or --day-shift",
        ),
        (
            "day,sleep\n2026-03-03,400\n2026-03-03,410\n",
            SLEEP,
            "Error: rows 2, 3 all give sleep_minutes for 2026-03-03; give --combine "
            "mean|sum|min|max|last to make one value of them, or remove the extra rows",
        ),
        (
            "day,sleep\n2026-03-03,7h 12m\n",
            SLEEP,
            "Error: row 2: column 'sleep' holds '7h 12m', not a number",
        ),
        (
            "day,sleep\n03/04/2026,400\n",
            SLEEP,
            "Error: row 2: '03/04/2026' is not an ISO date (YYYY-MM-DD) or date-time; give its "
            "form with --date-format, e.g. --date-format %d.%m.%Y",
        ),
        (
            "day,sleep\n2026-03-03,400\n,410\n",
            SLEEP,
            "Error: row 3: no date in column 'day'",
        ),
        (
            "date,minutes\n2026-03-03,400\n",
            SLEEP,
            "Error: no header row names 'day', 'sleep' in the first 10 rows (the first row "
            "holds: 'date', 'minutes'); check --date-column and --map, or give --delimiter",
        ),
        (
            "day,sleep\n2026-03-03,400\n",
            ["--date-column", "day", "--map", "sleep=grogginess"],
            "Error: --map 'sleep'=grogginess: grogginess is rated at check-in; the protocol "
            "imports only sleep_minutes",
        ),
        (
            "day,sleep\n2026-03-03,400\n",
            ["--date-column", "day", "--map", "sleep=steps"],
            "Error: --map 'sleep'='steps': no such outcome (outcomes: sleep_minutes, grogginess)",
        ),
        (
            "day,sleep\n2026-03-03,nan\n",
            SLEEP,
            "Error: row 2: column 'sleep' holds 'nan', not a number",
        ),
        (
            "day,sleep,sleep\n2026-03-03,400,401\n",
            SLEEP,
            "Error: row 1: the header names column 'sleep' 2 times; rename one of them in the file",
        ),
        (
            'day,sleep\n2026-03-03,"400\n',
            SLEEP,
            "Error: row 2: not readable as CSV (unexpected end of data)",
        ),
        (
            "day,sleep\n2026-03-03,\n",
            SLEEP,
            "Error: export.csv holds no value to import in 'sleep' on the trial's days "
            "(2026-03-02 to 2026-04-19)",
        ),
        (
            "day,sleep\n2026-03-03,1e999\n",
            SLEEP,
            "Error: sleep_minutes must lie within its scale 0-1440; out of range in row 2 "
            "(1e999); nothing was imported",
        ),
    ],
)
def test_a_bad_row_imports_nothing(
    trial: Path, invoke: Invoke, tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    assert refused(invoke, trial, write(tmp_path, text), *args) == message


def test_a_changed_value_needs_replace_which_supersedes(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    first = write(tmp_path, "day,sleep\n2026-03-03,400\n2026-03-04,410\n", "a.csv")
    assert run(invoke, trial, str(first), *SLEEP, now=20).exit_code == 0
    second = write(tmp_path, "day,sleep\n2026-03-03,400\n2026-03-04,415\n2026-03-05,420\n", "b.csv")
    assert refused(invoke, trial, second, *SLEEP) == (
        "Error: 2026-03-04 sleep_minutes holds 410 (from a.csv row 3), row 3 gives 415; add "
        "--replace to supersede what is recorded (the old entries stay in the log); nothing "
        "was imported"
    )
    r = run(invoke, trial, str(second), *SLEEP, "--replace", "--reason", "re-synced", now=20)
    assert r.exit_code == 0, r.output
    assert "Imported 2 values (2026-03-03 to 2026-03-05): 1 new, 1 replaced, 1 already " in r.stdout
    rows = db_dump(trial / "trial.db")
    old = next(x for x in rows if x[2] == "2026-03-04" and json.loads(x[3])["value"] == 410)
    new = next(x for x in rows if x[2] == "2026-03-04" and json.loads(x[3])["value"] == 415)
    assert new[4] == old[0]  # supersedes; the old entry stays
    assert json.loads(new[3])["reason"] == "re-synced"
    assert json.loads(new[3])["source"]["file"] == "b.csv"


def test_outside_rows_are_skipped_only_when_asked(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    text = "day,sleep\n2026-02-20,380\n2026-03-03,400\n"
    assert refused(invoke, trial, write(tmp_path, text), *SLEEP).startswith(
        "Error: row 2: 2026-02-20 is before the trial's first day (2026-03-02); add --skip-outside"
    )
    r = run(invoke, trial, str(tmp_path / "export.csv"), *SLEEP, "--skip-outside", now=20)
    assert r.exit_code == 0, r.output
    assert "Left out 1 row outside the trial's days." in r.stdout


def test_several_rows_on_a_day_combine_when_asked(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    """A heart-rate export has many samples a day: --combine mean makes the day's value."""
    text = "day,sleep\n2026-03-03,400\n2026-03-03,30\n2026-03-03,21\n2026-03-04,410\n"
    path = write(tmp_path, text)
    too_long = write(tmp_path, "day,sleep\n2026-03-03,800\n2026-03-03,700\n", "naps.csv")
    assert refused(invoke, trial, too_long, *SLEEP, "--combine", "sum") == (
        "Error: the sum of rows 2, 3 (1500) lies outside sleep_minutes's scale 0-1440 for "
        "2026-03-03; nothing was imported"
    )
    r = run(invoke, trial, str(path), *SLEEP, "--combine", "mean", now=20)
    assert r.exit_code == 0, r.output
    values = {x[2]: json.loads(x[3]) for x in db_dump(trial / "trial.db") if x[1] == "measure"}
    assert values["2026-03-03"]["value"] == pytest.approx((400 + 30 + 21) / 3)
    assert values["2026-03-03"]["source"]["rows"] == [[2, 4]]
    assert values["2026-03-03"]["source"]["combine"] == "mean"
    assert values["2026-03-04"]["value"] == 410


def test_dry_run_shows_and_records_nothing(trial: Path, invoke: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "day,sleep\n2026-03-03,400\n2026-03-04,410.5\n")
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, str(path), *SLEEP, "--dry-run", now=20)
    assert r.exit_code == 0, r.output
    assert db_dump(trial / "trial.db") == before
    assert r.stdout.splitlines()[1:] == [
        "  2026-03-03 sleep_minutes 400 (row 2): new",
        "  2026-03-04 sleep_minutes 410.5 (row 3): new",
        "Would import 2 values (2026-03-03 to 2026-03-04): 2 new, 0 replaced, 0 already recorded",
        "Dry run: nothing was recorded.",
    ]


# ------------------------------------------------------------------ real exports
def test_a_european_export_with_title_line_semicolons_and_decimal_commas(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    text = (
        "\ufeffSchlaf-Export Max Mustermann;;\r\n"
        '"Datum"; "Schlaf Minuten";Notiz\r\n'
        "03.03.2026;400,5;gut\r\n"
        "\r\n"
        "04.03.2026;;Uhr vergessen\r\n"
        "05.03.2026;390;\r\n"
    )
    path = write(tmp_path, text)
    args = ["--date-column", "datum", "--map", "schlaf  minuten=sleep_minutes"]
    r = run(invoke, trial, str(path), *args, "--date-format", "%d.%m.%Y", now=20)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].endswith(
        "header on row 2, semicolon-separated; 'Schlaf Minuten' -> sleep_minutes"
    )
    values = {x[2]: json.loads(x[3])["value"] for x in db_dump(trial / "trial.db")[1:]}
    assert values == {"2026-03-03": 400.5, "2026-03-05": 390}


def test_a_utf16_tab_separated_export(trial: Path, invoke: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "Day\tSleep\n2026-03-03\t400\n", encoding="utf-16")
    r = run(invoke, trial, str(path), *SLEEP, now=20)
    assert r.exit_code == 0, r.output
    assert "tab-separated" in r.stdout


def test_a_date_time_without_offset_is_the_trials_local_time(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    """Days start at noon in Europe/Berlin: 11:30 local belongs to the day before, 12:30 to
    its own date; with an offset the instant is converted first (10:30Z is 11:30 in Berlin)."""
    text = (
        "day,sleep\n2026-03-04 11:30,400\n2026-03-05T12:30:00,410\n"
        "2026-03-07T10:30:00Z,420\n2026-03-07T11:30:00Z,430\n"
    )
    assert run(invoke, trial, str(write(tmp_path, text)), *SLEEP, now=20).exit_code == 0
    values = {x[2]: json.loads(x[3])["value"] for x in db_dump(trial / "trial.db")[1:]}
    assert values == {"2026-03-03": 400, "2026-03-05": 410, "2026-03-06": 420, "2026-03-07": 430}


def test_checkin_neither_asks_for_nor_takes_an_imported_outcome(
    trial: Path, invoke: Invoke
) -> None:
    ok = checkin(invoke, trial, 0, "--rate", "grogginess=3")
    assert ok.exit_code == 0, ok.output
    bad = checkin(invoke, trial, 1, "--rate", "grogginess=3", "--rate", "sleep_minutes=400")
    assert bad.exit_code == 1
    assert bad.stderr == (
        "Error: --rate sleep_minutes: this outcome is measured by another app and brought in "
        "with blindself import, not rated at check-in; leave it out\n"
    )


def test_an_import_does_not_touch_the_days_check_in(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    """Imported values live in entries of their own: a check-in made after an import of the
    same day is a plain check-in (not 'already recorded'), and status counts check-ins only."""
    path = write(tmp_path, "day,sleep\n2026-03-02,400\n2026-03-03,410\n")
    assert run(invoke, trial, str(path), *SLEEP, now=2, hour=13).exit_code == 0
    r = checkin(invoke, trial, 1, "--rate", "grogginess=3")
    assert r.exit_code == 0 and "recorded" in r.stdout, r.output
    s = invoke(["status", "--trial", str(trial), "--json"], make_context(now=at(day(2), 13)))
    assert json.loads(s.stdout)["checked_in"] == 1
    export = invoke(["export", "--trial", str(trial)], make_context(now=at(day(2), 13)))
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    assert [(r["date"], r["sleep_minutes"], r["grogginess"]) for r in rows] == [
        ("2026-03-02", "400", ""),
        ("2026-03-03", "410", "3"),
    ]
    full = invoke(["export", "--trial", str(trial), "--all"], make_context(now=at(day(2), 13)))
    kinds = [(r["kind"], r["source"]) for r in csv.DictReader(io.StringIO(full.stdout))]
    assert kinds[0][0] == "measure" and kinds[0][1].startswith("export.csv row 2, column 'sleep'")
    assert kinds[-1] == ("checkin", "")


# ------------------------------------------------------------------ malformed files
@pytest.mark.slow
def test_malformed_exports_never_crash_and_change_nothing_when_refused(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Hypothesis draws CSV-ish text (quotes, delimiters, BOMs, NULs, odd dates and numbers)
    and options: every run ends in success or one ``Error:`` line (never an internal error),
    and a refused import leaves the log byte for byte as it was."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    t = tmp_path / "trial"
    assert init_trial_cli(invoke, PROTOCOL, t, make_context()).exit_code == 0
    cells = st.one_of(
        st.sampled_from(["2026-03-03", "2026-03-04T23:10:00+01:00", "2026-02-30", "2026-03-05 01:00",
                         "400", "400,5", "1e999", "-1", "", " ", '"', '""', "nan", "03.03.2026",
                         "\ufeff", "\x00", "\u202e", "9999-12-31T23:59:59-23:59", "0001-01-01"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    )  # fmt: skip
    seps = st.sampled_from([",", ";", "\t", "|"])
    rows = st.lists(st.lists(cells, max_size=4), max_size=6)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        header=st.sampled_from(["day,sleep", "Day;Sleep", '"day"\t"sleep"', "x", ""]),
        sep=seps,
        body=rows,
        ending=st.sampled_from(["\n", "\r\n", "\r"]),
        encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
        extra=st.lists(
            st.sampled_from(
                [
                    ["--skip-outside"],
                    ["--combine", "max"],
                    ["--replace"],
                    ["--delimiter", "semicolon"],
                    ["--date-format", "%d.%m.%Y"],
                    ["--day-shift", "-1"],
                    ["--dry-run"],
                ]
            ),
            max_size=3,
        ),
    )
    def one(
        header: str,
        sep: str,
        body: list[list[str]],
        ending: str,
        encoding: str,
        extra: list[list[str]],
    ) -> None:
        text = ending.join([header, *(sep.join(r) for r in body)]) + ending
        path = tmp_path / "fuzz.csv"
        try:
            path.write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8", "surrogatepass"))
        before = db_dump(t / "trial.db")
        args = [a for group in extra for a in group]
        r = run(invoke, t, str(path), *SLEEP, *args, now=20)
        assert r.exit_code in (0, 1, 2), r.output
        if r.exit_code:
            assert db_dump(t / "trial.db") == before
            assert r.stdout == ""
            assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(("Error:", "Usage:"))
        assert "Traceback" not in r.output

    one()


def test_protocol_source_is_checkin_or_import(tmp_path: Path) -> None:
    from blindself.errors import ProtocolError
    from blindself.protocol.loading import load_protocol

    p = load_protocol(PROTOCOL)
    assert [(o.name, o.source) for o in p.outcomes] == [
        ("sleep_minutes", "import"),
        ("grogginess", "checkin"),
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text(PROTOCOL.read_text().replace('source = "import"', 'source = "fitbit"'))
    with pytest.raises(ProtocolError) as exc:
        load_protocol(bad)
    assert str(exc.value) == 'bad.toml: outcomes[0].source is "fitbit"; allowed: checkin, import'


def test_log_shows_imported_values_with_their_source(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    first = write(tmp_path, "day,sleep\n2026-03-03,400\n2026-03-04,410\n", "a.csv")
    assert run(invoke, trial, str(first), *SLEEP, now=20).exit_code == 0
    second = write(tmp_path, "day,sleep\n2026-03-04,415\n", "b.csv")
    assert run(invoke, trial, str(second), *SLEEP, "--replace", now=21).exit_code == 0
    ctx = make_context(now=at(day(21), 13))
    args = ["log", "--trial", str(trial), "--from", "2026-03-03", "--to", "2026-03-04"]
    text = invoke(args, ctx)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    sha_a = hashlib.sha256(first.read_bytes()).hexdigest()[:16]
    sha_b = hashlib.sha256(second.read_bytes()).hexdigest()[:16]
    assert f"    imported: sleep_minutes=400 from a.csv row 2 (sha256 {sha_a}..., 2026-03-22)" in (
        lines
    )
    assert (
        f"    imported: sleep_minutes=415 from b.csv row 2 (sha256 {sha_b}..., 2026-03-23; "
        "replaced 1 earlier)"
    ) in lines
    doc = json.loads(invoke([*args, "--json"], ctx).stdout)
    day4 = doc["days"][1]
    assert day4["recorded"] is None and day4["flags"] == ["missed"]  # no check-in that day
    assert day4["imported"] == [
        {
            "seq": day4["imported"][0]["seq"],
            "outcome": "sleep_minutes",
            "value": 415,
            "source": {
                "file": "b.csv",
                "sha256": hashlib.sha256(second.read_bytes()).hexdigest(),
                "column": "sleep",
                "rows": [[2, 2]],
                "combine": None,
            },
            "imported_at": at(day(21), 13).isoformat(),
            "replaced": 1,
        }
    ]


def test_unblinding_waits_for_the_last_import(trial: Path, invoke: Invoke, tmp_path: Path) -> None:
    """Imports close at unblinding, so a forgotten last export would be lost for good."""
    check_in_everything(invoke, trial)
    ctx = make_context(now=at(day(LAST + 1), 13))
    # adv3 F9: status's next step agrees with unblind: import first, not "run blindself unblind"
    status = invoke(["status", "--trial", str(trial)], ctx).stdout.splitlines()
    assert (
        "All check-ins are done: import sleep_minutes first (it has no values yet), then run "
        "blindself unblind"
    ) in status
    doc = json.loads(invoke(["status", "--trial", str(trial), "--json"], ctx).stdout)
    assert doc["import_first"] == ["sleep_minutes"]
    r = invoke(["unblind", "--trial", str(trial)], ctx, env=ENV)
    assert (r.exit_code, r.stderr) == (
        1,
        "Error: sleep_minutes is imported from another app and it has no values yet (none on "
        "the last 3 trial days, to 2026-04-19): import the latest export first with blindself "
        "import (imports close at unblinding), or, if those values are lost, unblind with "
        "--early --reason TEXT\n",
    )
    early = write(tmp_path, "day,sleep\n2026-04-10,400\n", "early.csv")
    assert run(invoke, trial, str(early), *SLEEP).exit_code == 0
    r = invoke(["unblind", "--trial", str(trial)], ctx, env=ENV)
    assert r.exit_code == 1 and "and its values stop at 2026-04-10 (none on the last 3" in r.stderr
    status = invoke(["status", "--trial", str(trial)], ctx).stdout.splitlines()
    assert (
        "All check-ins are done: import sleep_minutes first (its values stop at 2026-04-10), "
        "then run blindself unblind"
    ) in status
    late = write(tmp_path, "day,sleep\n2026-04-17,400\n", "late.csv")
    assert run(invoke, trial, str(late), *SLEEP).exit_code == 0
    status = invoke(["status", "--trial", str(trial)], ctx).stdout.splitlines()
    assert "All check-ins are done: run blindself unblind" in status
    r = invoke(["unblind", "--trial", str(trial)], ctx, env=ENV)
    assert r.exit_code == 0, r.output
    assert "sleep_minutes: 2 values imported from" not in r.stdout  # one line per file
    assert "sleep_minutes: 1 value imported from early.csv" in r.stdout
    assert "sleep_minutes: 1 value imported from late.csv" in r.stdout


def test_lost_imports_unblind_early_with_a_reason(trial: Path, invoke: Invoke) -> None:
    check_in_everything(invoke, trial)
    ctx = make_context(now=at(day(LAST + 1), 13))
    args = ["unblind", "--trial", str(trial), "--early", "--reason", "the tracker was lost"]
    r = invoke(args, ctx, env=ENV)
    assert r.exit_code == 0, r.output
    report = json.loads((trial / "report" / "report.json").read_text())
    assert report["trial"]["early_reason"] == "the tracker was lost"
    assert "imports" not in report["trial"]
    assert report["outcomes"][0]["n"] == {"melatonin": 0, "placebo": 0}


def test_status_says_how_far_imports_reach(trial: Path, invoke: Invoke, tmp_path: Path) -> None:
    ctx = make_context(now=at(day(20), 13))
    before = invoke(["status", "--trial", str(trial)], ctx)
    assert "Imported (sleep_minutes): no values yet; bring in newer ones with blindself import" in (
        before.stdout.splitlines()
    )
    path = write(tmp_path, "day,sleep\n2026-03-03,400\n2026-03-09,410\n")
    assert run(invoke, trial, str(path), *SLEEP, now=20).exit_code == 0
    after = invoke(["status", "--trial", str(trial)], ctx)
    assert "Imported (sleep_minutes): values up to 2026-03-09; bring in newer ones with " in (
        after.stdout
    )
    doc = json.loads(invoke(["status", "--trial", str(trial), "--json"], ctx).stdout)
    assert doc["imported"] == {"outcomes": ["sleep_minutes"], "until": "2026-03-09"}


def test_a_failure_half_way_through_writes_nothing(
    trial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values are appended in one transaction: a failure at the 20th entry (a full disk,
    a kill) rolls back the 19 before it."""
    from blindself.errors import StoreError
    from blindself.services.importing import ImportRequest, import_values
    from blindself.trial.log.store import Transaction

    real = Transaction.append
    calls = []

    def failing(self: Transaction, *args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 20:
            raise StoreError("the disk is full: free space and retry; nothing was recorded")
        return real(self, *args, **kw)

    req = ImportRequest(
        path=EXPORT,
        date_column="Start Time",
        mapping=(("Minutes Asleep", "sleep_minutes"),),
        skip_outside=True,
    )
    ctx = make_context(now=at(day(LAST + 1), 13))
    before = db_dump(trial / "trial.db")
    monkeypatch.setattr(Transaction, "append", failing)
    with pytest.raises(StoreError):
        import_values(trial, req, ctx)
    assert db_dump(trial / "trial.db") == before
    monkeypatch.setattr(Transaction, "append", real)
    assert import_values(trial, req, ctx).count("new") == 47


def test_self_blinded_days_with_imported_values_only(tmp_path: Path, invoke: Invoke) -> None:
    """Self mode, two-day periods: a day with an imported value but no check-in takes the arm
    of the envelope typed on its period's other day; a period with imported values alone never
    had an envelope recorded, so its days are left out (no-container), as for missed days."""
    from helpers import SMALL_PROTOCOL

    text = (
        SMALL_PROTOCOL.format(blinding="self")
        .replace("blocks = 4", "blocks = 2")
        .replace("period_days = 1", "period_days = 2")
        .replace("baseline_days = 2", "baseline_days = 1")
        .replace(
            '[[outcomes]]\nname = "anxiety"',
            '[[outcomes]]\nname = "steps"\nscale = [0, 100000]\nsource = "import"\n\n'
            '[[outcomes]]\nname = "anxiety"',
        )
    )
    protocol = tmp_path / "p.toml"
    protocol.write_text(text)
    t = tmp_path / "t"
    assert init_trial_cli(invoke, protocol, t, make_context()).exit_code == 0
    sheet = json.loads((tmp_path / "t-sheet.json").read_text())
    bag1 = sorted(c["code"] for c in sheet["containers"] if c["block"] == 1)
    bag2 = sorted(c["code"] for c in sheet["containers"] if c["block"] == 2)
    # days: 0 baseline; 1-2 period 1; 3-4 period 2 (bag 1); 5-6 period 3; 7-8 period 4 (bag 2)
    plan = {0: None, 1: bag1[0], 3: bag1[1], 4: bag1[1], 5: bag2[0], 6: bag2[0], 7: bag2[1]}
    for n, code in plan.items():
        args = ["--rate", "mood=5", "--rate", "anxiety=3"]
        if code:
            args += ["--code", code, "--guess", "unsure"]
        ctx = make_context(now=at(day(n)))
        r = invoke(["checkin", "--trial", str(t), "--date", day(n).isoformat(), *args], ctx)
        assert r.exit_code == 0, r.output
    rows = "\n".join(f"{day(n)},{1000 * n}" for n in range(9))
    export = write(tmp_path, f"day,steps\n{rows}\n")
    imp = ["--date-column", "day", "--map", "steps=steps"]
    r = run(invoke, t, str(export), *imp, now=9)
    assert r.exit_code == 0, r.output
    # day 2 (period 1) and day 8 (period 4) have a step count but no check-in
    u = invoke(["unblind", "--trial", str(t)], make_context(now=at(day(9))), env=ENV)
    assert u.exit_code == 0, u.output
    data = {
        r["date"]: r for r in csv.DictReader(io.StringIO((t / "report" / "data.csv").read_text()))
    }
    arm = sheet["codes"]
    assert data[day(2).isoformat()]["arm"] == arm[bag1[0]]
    assert data[day(2).isoformat()]["excluded"] == ""
    assert data[day(2).isoformat()]["steps"] == "2000"
    assert data[day(2).isoformat()]["deviation"] == "no-checkin"
    assert data[day(8).isoformat()]["arm"] == arm[bag2[1]]
    assert data[day(8).isoformat()]["excluded"] == ""
    # A period with imported values only: remove the check-in of day 7 and see it excluded.
    # (Checked on the dataset directly: the log cannot lose a check-in.)
    from blindself.analysis.dataset import from_trial
    from blindself.trial.folder import opened_trial
    from blindself.trial.measures import merged_checkins
    from blindself.trial.schedule import scheme_of

    with opened_trial(t, readonly=True) as trial:
        merged = merged_checkins(trial.store.entries())
        del merged[day(7).isoformat()]["code"]
        merged[day(7).isoformat()]["period"] = None
        size = scheme_of(trial.protocol).block_size
        raw_arm = {code.replace("-", ""): a for code, a in arm.items()}
        rows_, _ = from_trial(
            list(trial.calendar.days), merged, raw_arm, trial.schedule.bags, (), set()
        )
    assert size == 2
    by_date = {r.date: r for r in rows_}
    assert by_date[day(7).isoformat()].excluded == "no-container"
    assert by_date[day(8).isoformat()].excluded == "no-container"
    assert by_date[day(8).isoformat()].ratings == {"steps": 8000}
    assert by_date[day(8).isoformat()].imported_only


def test_a_stop_rule_on_an_imported_outcome_is_checked_after_the_import(
    tmp_path: Path, invoke: Invoke
) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        PROTOCOL.read_text()
        + '\n[[stop_rules]]\noutcome = "sleep_minutes"\nthreshold = 240\ndays = 2\n'
        + 'message = "Two nights under four hours: talk to a doctor."\n'
    )
    t = tmp_path / "t"
    assert init_trial_cli(invoke, protocol, t, make_context()).exit_code == 0
    one = write(tmp_path, "day,sleep\n2026-03-03,230\n2026-03-04,400\n", "one.csv")
    r = run(invoke, t, str(one), *SLEEP, now=20)
    assert r.exit_code == 0 and r.stderr == "", r.output
    two = write(tmp_path, "day,sleep\n2026-03-05,200\n", "two.csv")
    r = run(invoke, t, str(two), *SLEEP, now=20)
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith(
        "STOP RULE MET: sleep_minutes reached 240 on 2 days. Two nights under four hours: "
        "talk to a doctor. To stop, run: blindself unblind --early --reason TEXT"
    )


def test_a_pause_never_starts_on_a_day_holding_an_imported_value(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    """Review F10: an imported value on a paused day would leave a ``pause`` row marked
    ``no-checkin`` in data.csv; the pause is refused like one over a checked-in day."""
    export = write(tmp_path, "day,sleep\n2026-03-05,440\n")
    assert run(invoke, trial, str(export), *SLEEP, now=3).exit_code == 0
    before = db_dump(trial / "trial.db")
    ctx = make_context(now=at(day(3), 22))
    args = ["pause", "--trial", str(trial), "--from", "2026-03-05", "--days", "2"]
    r = invoke([*args, "--reason", "cold"], ctx)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [
        "Error: 2026-03-05 already holds an imported value (sleep_minutes): a pause starts "
        "after the last recorded day"
    ]
    assert db_dump(trial / "trial.db") == before
    # the next day is free: the pause starts there
    r = invoke(["pause", "--trial", str(trial), "--from", "2026-03-06", "--days", "2",
                "--reason", "cold"], ctx)  # fmt: skip
    assert r.exit_code == 0, r.output
