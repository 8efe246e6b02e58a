"""Mistakes the CLI accepts still unblind into an honest report (issue 11 item 2; T-48)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, Invoke, at, day, make_context, with_clock
from reliability.support import assert_one_error_line, entries, make_small_trial

from blindself.services.daily import record_checkin
from blindself.services.export import export_trial
from blindself.services.unblinding import load_report, unblind_trial
from blindself.trial.checkins import CheckinRequest

LATE = with_clock(make_context(), at(day(12)))


def dose(trial: Path, n: int, code: str | None, mood: int = 5, **kw: Any) -> None:
    """Record day ``n`` (a dose day of the small trial: days 2..9 are periods 1..8)."""
    req = CheckinRequest(
        date=day(n),
        code=code,
        ratings={"mood": mood, "anxiety": 3},
        guess=kw.pop("guess", "unsure"),
        **kw,
    )
    record_checkin(trial, req, LATE)


def bag_codes(sheet: dict[str, Any], bag: int) -> dict[str, str]:
    return {c["code"]: c["arm"] for c in sheet["containers"] if c["block"] == bag}


def wrong_bag_trial(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Self mode: period 1 (bag 1) gets a bag-2 code of the same arm as period 2's code."""
    trial, sheet = make_small_trial(tmp_path, "self")
    bag1, bag2 = bag_codes(sheet, 1), bag_codes(sheet, 2)
    own = sorted(bag1)[0]
    foreign = next(c for c, a in bag2.items() if a == bag1[own])
    dose(trial, 2, foreign, mood=9)  # flagged wrong-bag, accepted
    dose(trial, 3, own, mood=2)
    for n in range(4, 10):
        bag = bag_codes(sheet, (n - 2) // 2 + 1)
        code = sorted(c for c in bag if c != foreign)[(n - 2) % 2 if n > 5 else 0]
        if n in (4, 5):  # bag 2: the foreign code is gone, one envelope left for two periods
            if n == 5:
                dose(trial, n, None, no_capsule=True, guess=None)
                continue
        dose(trial, n, code, mood=6 if sheet["codes"][code] == "active" else 4)
    return trial, sheet


def test_wrong_bag_code_unblinds_into_a_report_with_the_period_excluded(tmp_path: Path) -> None:
    trial, _ = wrong_bag_trial(tmp_path)
    result = unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    assert (trial / "report" / "report.html").exists()
    adherence = result.report["adherence"]
    assert adherence["excluded_days"] == {"no-container": 1, "wrong-bag": 1}
    mood = result.report["outcomes"][0]
    # Period 1 (the wrong-bag envelope, mood 9) is left out; 7 dose days remain, minus the
    # no-capsule day of bag 2 which has no code (no container opened) and is excluded too.
    assert sum(mood["n"].values()) == 6
    assert "excluded" in " ".join(result.report["verdict"]["caveats"])


def test_data_csv_says_which_days_are_excluded_and_why(tmp_path: Path) -> None:
    trial, _ = wrong_bag_trial(tmp_path)
    unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    rows = list(csv.DictReader(io.StringIO(export_trial(trial, "csv", False))))
    reasons = {r["date"]: r["excluded"] for r in rows if r["excluded"]}
    assert reasons == {day(2).isoformat(): "wrong-bag", day(5).isoformat(): "no-container"}
    assert (trial / "report" / "data.csv").read_text() == export_trial(trial, "csv", False)


def test_a_lost_report_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    """The log holds the revealed allocation: report and export re-derive everything."""
    trial, _ = wrong_bag_trial(tmp_path)
    first = unblind_trial(trial, LATE, passphrase=PASSPHRASE).report
    for name in ("report.json", "report.html", "data.csv"):
        (trial / "report" / name).unlink()
    assert load_report(trial) == first
    assert (trial / "report" / "report.html").exists()
    assert (trial / "report" / "data.csv").exists()


def test_analysis_failure_leaves_the_trial_blinded(tmp_path: Path, monkeypatch: Any) -> None:
    """All or nothing: the unblind entry is written only after the report is computed."""
    import blindself.analysis.engine as analysis_mod

    trial, _ = wrong_bag_trial(tmp_path)
    before = entries(trial)

    def boom(data: Any) -> Any:
        raise RuntimeError("analysis bug")

    monkeypatch.setattr(analysis_mod, "analyze", boom)
    try:
        unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    except RuntimeError:
        pass
    assert entries(trial) == before
    assert not (trial / "report").exists()


def test_cli_wrong_bag_then_unblind_report_export(tmp_path: Path, invoke: Invoke) -> None:
    trial, _ = wrong_bag_trial(tmp_path)
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    r = invoke(["unblind", "--trial", str(trial)], LATE, env=env)
    assert r.exit_code == 0, r.output
    for args in (["report"], ["export"]):
        r = invoke([*args, "--trial", str(trial)], LATE)
        assert r.exit_code == 0, r.output


ANALYZE = ["--arm-column", "arm", "--active", "active", "--placebo", "placebo", "--json"]


def same_numbers(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Every estimate, p and n of two reports agree (what `analyze` must reproduce)."""
    assert a["adherence"]["codebroken_days"] == b["adherence"]["codebroken_days"]
    assert a["adherence"]["excluded_days"] == b["adherence"]["excluded_days"]
    for x, y in zip(a["outcomes"], b["outcomes"], strict=True):
        assert x["n"] == y["n"] and x["mean"] == pytest.approx(y["mean"])
        for cx, cy in zip(x["contrasts"], y["contrasts"], strict=True):
            for key in ("estimate", "p_randomization"):
                assert cx[key] == pytest.approx(cy[key]), key
    assert set(a["verdict"]["caveats"]) <= set(b["verdict"]["caveats"]) | {
        c for c in a["verdict"]["caveats"] if c.startswith("Unblinded early")
    }


def test_analyze_of_data_csv_reproduces_unblind_after_a_codebreak(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Issue 11 item 7: data.csv carries the exclusions, so analyze honours the code-break."""
    from blindself.services.codebreak import codebreak_code

    trial, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(2, 10):
        active = sheet["codes"][by_period[n - 1]] == "active"
        dose(trial, n, by_period[n - 1], mood=(7 if active else 4) + n % 2)
    codebreak_code(trial, by_period[3], "rash", LATE, passphrase=PASSPHRASE)
    report = unblind_trial(trial, LATE, passphrase=PASSPHRASE).report
    assert report["adherence"]["codebroken_days"] == 2
    r = invoke(["analyze", str(trial / "report" / "data.csv"), *ANALYZE])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    same_numbers(report, again)
    assert "Code-broken containers are excluded from the analysis." in again["verdict"]["caveats"]


def test_analyze_refuses_an_unknown_guess(tmp_path: Path, invoke: Invoke) -> None:
    """Issue 11 item 10: "dunno" was silently taken for "unsure"."""
    data = tmp_path / "d.csv"
    data.write_text(
        "date,arm,guess,mood\n2026-01-01,A,A,5\n2026-01-02,B,dunno,4\n2026-01-03,A,,6\n"
        "2026-01-04,B,unsure,3\n"
    )
    r = invoke(["analyze", str(data), "--arm-column", "arm", "--active", "A", "--placebo", "B"])
    err = assert_one_error_line(r)
    assert "'dunno' is not a guess; accepted: A, B, unsure or empty" in err


def test_unblinding_on_the_last_day_once_its_checkin_is_recorded(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Issue 11 item 6: status said "run unblind", unblind said "opens tomorrow"."""
    trial, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    last_day = with_clock(make_context(), at(day(9)))
    for n in range(2, 9):
        dose(trial, n, by_period[n - 1])
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    err = assert_one_error_line(invoke(["unblind", "--trial", str(trial)], last_day, env=env))
    assert f"the check-in of {day(9)}, the last trial day, is not recorded yet: check in" in err
    record_checkin(
        trial,
        CheckinRequest(day(9), by_period[8], {"mood": 5, "anxiety": 3}, "unsure"),
        last_day,
    )
    status = invoke(["status", "--trial", str(trial)], last_day)
    # The two run-in days were never checked in: "All check-ins are done" would be false (F13).
    assert "missed: 2" in status.stdout
    assert "The last trial day is checked in: run blindself unblind" in status.stdout
    r = invoke(["unblind", "--trial", str(trial)], last_day, env=env)
    assert r.exit_code == 0, r.output
    assert (trial / "report" / "report.html").exists()
