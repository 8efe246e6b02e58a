"""``blindself log`` (issue 16 item 3): past days with corrections and flags, no arm before
unblinding."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, Invoke, at, day, init_trial_cli, make_context, with_clock

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}


def sheet_of(trial: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((trial.parent / f"{trial.name}-sheet.json").read_text())
    return data


def run(invoke: Invoke, trial: Path, now: int, *args: str, **kw: Any) -> Any:
    return invoke([*args, "--trial", str(trial)], with_clock(make_context(), at(day(now))), **kw)


def checkin(invoke: Invoke, trial: Path, n: int, *args: str, now: int | None = None) -> None:
    r = run(
        invoke, trial, n if now is None else now, "checkin", "--date", day(n).isoformat(), *args
    )
    assert r.exit_code == 0, r.output


def rate(mood: int, anxiety: int = 3) -> tuple[str, ...]:
    return ("--rate", f"mood={mood}", "--rate", f"anxiety={anxiety}")


@pytest.fixture
def mistakes(tmp_path: Path, protocol_file: Path, invoke: Invoke) -> Path:
    """A helper-mode trial with one of each mistake, looked at on day 6 (2026-03-08)."""
    trial = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol_file, trial, make_context()).exit_code == 0
    sheet = sheet_of(trial)

    def code(period: int) -> str:
        return str(next(c["code"] for c in sheet["containers"] if c["period"] == period))

    checkin(invoke, trial, 0, *rate(5))  # day 1 (baseline) is missed
    checkin(invoke, trial, 2, "--code", code(1), *rate(6), "--guess", "active",
            "--confidence", "70", "--note", "felt fine")  # fmt: skip
    checkin(invoke, trial, 3, "--code", code(4), *rate(6), "--guess", "unsure")  # period 4's
    checkin(invoke, trial, 4, "--no-capsule", *rate(4))
    checkin(invoke, trial, 4, "--no-capsule", *rate(5), "--replace", "--reason", "mood typo",
            now=6)  # fmt: skip
    r = run(invoke, trial, 6, "codebreak", code(1), "--reason", "bad headache", env=ENV)
    assert r.exit_code == 0, r.output
    return trial


def test_log_shows_days_corrections_and_flags(mistakes: Path, invoke: Invoke) -> None:
    sheet = sheet_of(mistakes)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    r = run(invoke, mistakes, 6, "log")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    c1, c2, c3, c4 = (by_period[p] for p in (1, 2, 3, 4))
    trial_id = json.loads(run(invoke, mistakes, 6, "status", "--json").stdout)["trial"]
    assert lines == [
        f"Small test trial (trial {trial_id}), today 2026-03-08",
        "date           day      due    recorded",
        "2026-03-02 Mon baseline -      mood=5 anxiety=3",
        "2026-03-03 Tue baseline -      not recorded",
        "    flags: missed",
        f"2026-03-04 Wed dose     {c1} code {c1}, mood=6 anxiety=3, guess active 70%",
        "    note: felt fine",
        "    flags: code-break",
        f"2026-03-05 Thu dose     {c2} code {c4}, mood=6 anxiety=3, guess unsure",
        "    flags: other day's container",
        f"2026-03-06 Fri dose     {c3} mood=5 anxiety=3",
        "    flags: no capsule, corrected",
        '    was: mood=4 anxiety=3 (entry 5; replaced 2026-03-08: "mood typo")',
        f"2026-03-07 Sat dose     {c4} not recorded",
        "    flags: missed",
        f"Code-break of {c1} (implies {c2}) on 2026-03-08: bad headache",
        "No arm is shown before unblinding.",
    ]
    # Today (2026-03-08) is not recorded yet: not listed (the list above is exact), not missed.


def test_log_json_shape(mistakes: Path, invoke: Invoke) -> None:
    doc = json.loads(run(invoke, mistakes, 6, "log", "--json").stdout)
    assert set(doc) == {
        "schema", "trial", "title", "today", "unblinded", "outcomes", "days", "codebreaks", "lost"
    }  # fmt: skip
    assert doc["schema"] == "blindself-log/1" and doc["unblinded"] is False
    assert doc["outcomes"] == ["mood", "anxiety"]
    assert [d["date"] for d in doc["days"]] == [day(n).isoformat() for n in range(6)]
    fri = doc["days"][4]
    assert fri["flags"] == ["no capsule", "corrected"] and fri["period"] == 3
    assert fri["recorded"]["ratings"] == {"mood": 5, "anxiety": 3}
    assert fri["recorded"]["kind"] == "correction" and fri["recorded"]["reason"] == "mood typo"
    assert [v["ratings"]["mood"] for v in fri["earlier"]] == [4]
    assert doc["days"][1]["recorded"] is None and doc["days"][1]["flags"] == ["missed"]
    assert all("arm" not in d for d in doc["days"])
    assert doc["codebreaks"][0]["reason"] == "bad headache"
    assert doc["lost"] == []


def test_log_range_options(mistakes: Path, invoke: Invoke) -> None:
    def dates(*args: str) -> list[str]:
        r = run(invoke, mistakes, 6, "log", "--json", *args)
        assert r.exit_code == 0, r.output
        return [d["date"] for d in json.loads(r.stdout)["days"]]

    assert dates("--last", "2") == ["2026-03-06", "2026-03-07"]
    assert dates("--from", "2026-03-04", "--to", "2026-03-05") == ["2026-03-04", "2026-03-05"]
    assert dates("--from", "2026-03-06", "--last", "5") == ["2026-03-06", "2026-03-07"]
    assert dates("--to", "2026-02-01") == []
    r = run(invoke, mistakes, 6, "log", "--to", "2026-02-01")
    assert r.stdout.splitlines()[1] == "No past days to show yet."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "Invalid value for --from: 'yesterday' is not a date"),
        (["--from", "2026-03-05", "--to", "2026-03-04"], "2026-03-05 is after --to 2026-03-04"),
        (["--last", "0"], "Invalid value for '--last': 0 is not in 1-100000"),
        # adv3 F11: the value was left out; a long one is shown cut
        (
            ["--last", "99999999999999999999"],
            "Invalid value for '--last': '999999999999...' is not a whole number 1-100000",
        ),
        (["--last", "ten"], "Invalid value for '--last': 'ten' is not a whole number 1-100000"),
        (
            ["--last", "1\x1b[2J"],
            "Invalid value for '--last': '1?[2J' is not a whole number 1-100000",
        ),
    ],
)
def test_log_bad_options_are_usage_errors(
    mistakes: Path, invoke: Invoke, args: list[str], message: str
) -> None:
    r = run(invoke, mistakes, 6, "log", *args)
    assert r.exit_code == 2 and message in r.stderr and r.stdout == ""


def test_log_self_mode_flags_a_wrong_bag(
    tmp_path: Path, self_protocol_file: Path, invoke: Invoke
) -> None:
    trial = tmp_path / "trial"
    assert init_trial_cli(invoke, self_protocol_file, trial, make_context()).exit_code == 0
    bags = sorted((c["block"], c["code"]) for c in sheet_of(trial)["containers"])
    other_bag = next(code for block, code in bags if block == 2)
    checkin(invoke, trial, 2, "--code", other_bag, *rate(6), "--guess", "unsure")
    doc = json.loads(run(invoke, trial, 3, "log", "--json").stdout)
    dose = doc["days"][2]
    assert dose["bag"] == 1 and dose["container"] is None
    assert dose["flags"] == ["wrong bag"]
    text = run(invoke, trial, 3, "log").stdout
    assert "2026-03-04 Wed dose     bag 1 code " in text


def test_log_after_unblinding_adds_the_arm(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    trial = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol_file, trial, make_context()).exit_code == 0
    sheet = sheet_of(trial)
    arm_of = {c["period"]: c["arm"] for c in sheet["containers"]}
    code_of = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(10):
        if n < 2:
            checkin(invoke, trial, n, *rate(5))
        else:
            checkin(invoke, trial, n, "--code", code_of[n - 1], *rate(5), "--guess", "unsure")
    assert run(invoke, trial, 10, "unblind", env=ENV).exit_code == 0
    doc = json.loads(run(invoke, trial, 10, "log", "--json").stdout)
    assert doc["unblinded"] is True
    assert [d.get("arm") for d in doc["days"][2:]] == [arm_of[p] for p in range(1, 9)]
    text = run(invoke, trial, 10, "log").stdout
    assert f"arm: {arm_of[1]}" in text.splitlines()[4]
    assert "No arm is shown" not in text


def test_log_of_a_trial_not_started(tmp_path: Path, protocol_file: Path, invoke: Invoke) -> None:
    trial = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol_file, trial, make_context()).exit_code == 0
    ctx = with_clock(make_context(), at(START) - timedelta(days=3))
    r = invoke(["log", "--trial", str(trial)], ctx)
    assert r.exit_code == 0 and "No past days to show yet." in r.stdout


# ------------------------------------------------------------------ status: missed days by date
def test_status_lists_missed_days_by_date(mistakes: Path, invoke: Invoke) -> None:
    r = run(invoke, mistakes, 6, "status")
    assert "Checked in: 4 of 7 days due; missed: 2\n" in r.stdout
    assert "Missed: 2026-03-03, 2026-03-07 (blindself log shows every day)\n" in r.stdout
    doc = json.loads(run(invoke, mistakes, 6, "status", "--json").stdout)
    assert doc["missed"] == 2 and doc["missed_dates"] == ["2026-03-03", "2026-03-07"]


def test_status_without_missed_days_prints_no_list(mistakes: Path, invoke: Invoke) -> None:
    r = run(invoke, mistakes, 1, "status")  # day 1 itself is today, not missed yet
    assert "missed: 0" in r.stdout and "Missed:" not in r.stdout


def test_missed_days_are_compact_runs() -> None:
    from blindself.cli.daily import date_runs

    d = [START + timedelta(days=n) for n in (0, 1, 2, 4, 7, 8)]
    assert date_runs(tuple(d)) == "2026-03-02 to 2026-03-04, 2026-03-06, 2026-03-09 to 2026-03-10"
    many = tuple(START + timedelta(days=2 * n) for n in range(10))  # ten separate days
    text = date_runs(many)
    assert text.startswith("4 earlier days, 2026-03-10, ") and text.endswith(", 2026-03-20")
    assert text.count(", ") == 6


def test_log_lists_a_paused_day_without_calling_it_missed(
    mistakes: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook for pauses (issue 16 item 2): a day type beyond the four ordinary ones is
    listed under its own flag, never as missed, and not dropped."""
    from contextlib import contextmanager

    import blindself.services.history as history
    from blindself.trial.folder import opened_trial

    @contextmanager
    def paused_trial(path: Path, readonly: bool = False) -> Any:
        with opened_trial(path, readonly=readonly) as trial:
            days = list(trial.calendar.days)
            days[7] = days[7]._replace(day_type="pause", period=None, block=None)  # type: ignore[arg-type]
            yield trial._replace(calendar=trial.calendar._replace(days=tuple(days)))

    monkeypatch.setattr(history, "opened_trial", paused_trial)
    doc = json.loads(run(invoke, mistakes, 7, "log", "--json").stdout)
    last = doc["days"][-1]
    assert (last["date"], last["day_type"], last["flags"]) == ("2026-03-09", "pause", ["paused"])
    assert run(invoke, mistakes, 7, "log").stdout.splitlines()[-4:-2] == [
        "2026-03-09 Mon pause    -      nothing due",
        "    flags: paused",
    ]
