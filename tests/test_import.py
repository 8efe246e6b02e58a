"""``blindself import`` (issue 16 item 5): outcome values from another app's CSV export.

The example export ``tests/data/sleep-export.csv`` is shaped like a wearable's sleep log
(byte order mark, quoted header, CRLF, ISO date-times with a UTC offset across the change to
summer time, a wake-up ``Date`` column, nights before the trial, a night without a row and a
night with an empty cell); ``tests/data/melatonin-measured-sleep.toml`` takes its primary
outcome from it.
"""

from __future__ import annotations

import csv
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
    import hashlib

    assert first["source"] == {
        "file": "sleep-export.csv",
        "sha256": hashlib.sha256(EXPORT.read_bytes()).hexdigest(),
        "column": "Minutes Asleep",
        "rows": [5],
        "combine": None,
    }
    assert first["imported_at"] == at(day(LAST + 1), 13).isoformat()

    # Idempotent, and the wake-up date with --day-shift -1 names the same nights.
    again = run(invoke, trial, str(export), "--date-column", "date", "--day-shift", "-1",
                "--map", "minutes asleep=sleep_minutes", "--skip-outside")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "0 new, 0 replaced, 47 already recorded" in again.stdout
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

    # The primary comparison uses every dose night with a value: 42 nights minus the one
    # without a row (03-20) and the one with an empty cell (04-07).
    primary = report["outcomes"][0]
    assert primary["name"] == "sleep_minutes"
    assert primary["n"]["melatonin"] + primary["n"]["placebo"] == 40
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
    for x, y in zip(report["outcomes"], redo["outcomes"], strict=True):
        cx, cy = x["contrasts"][0], y["contrasts"][0]
        assert cy["estimate"] == pytest.approx(cx["estimate"])
        # 21 pairs: 2**21 assignments, so both p values are Monte Carlo estimates (9,999
        # draws each, seeded differently); the two-sided p doubles the smaller one-sided
        # share, so they agree within 4.5 standard errors of a difference of two such.
        assert cx["randomization"]["draws"] == cy["randomization"]["draws"] == 9999
        q = min(cx["p_greater"], cx["p_less"])
        se = 2 * (q * (1 - q) / 9999) ** 0.5
        assert abs(cy["p_randomization"] - cx["p_randomization"]) < 4.5 * 2**0.5 * se
        assert cy["classical"]["p"] == pytest.approx(cx["classical"]["p"])

    closed = run(invoke, trial, str(export), *IMPORT, "--skip-outside", "--replace")
    assert closed.exit_code == 1
    assert closed.stderr == "Error: the trial is unblinded; values for trial days are closed\n"
