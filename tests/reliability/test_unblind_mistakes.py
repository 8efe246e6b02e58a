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


def data_rows(trial: Path) -> dict[str, dict[str, str]]:
    text = (trial / "report" / "data.csv").read_text()
    return {r["date"]: r for r in csv.DictReader(io.StringIO(text))}


def test_data_csv_arm_is_the_container_taken_on_excluded_days(tmp_path: Path) -> None:
    """F14 remainder: on a day left out, `arm` was the arm its period stands for in the
    randomization (a code of the right bag), not that of the envelope really taken; whoever
    analysed data.csv without honouring `excluded` saw flipped arms."""
    trial, sheet = wrong_bag_trial(tmp_path)
    unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    rows = data_rows(trial)
    wrong, none = rows[day(2).isoformat()], rows[day(5).isoformat()]
    assert wrong["excluded"] == "wrong-bag"
    assert wrong["arm"] == sheet["codes"][wrong["code"]]  # the envelope of bag 2 taken
    assert none["excluded"] == "no-container" and none["code"] == "" and none["arm"] == ""
    # The arm each period holds in the randomization stays, so analyze can reproduce unblind.
    assert wrong["allocation_arm"] in ("active", "placebo") and none["allocation_arm"]
    for r in rows.values():
        if r["code"] and not r["excluded"]:
            assert r["arm"] == r["allocation_arm"] == sheet["codes"][r["code"]], r


def test_analyze_of_data_csv_reproduces_codebreaks_early_caveat_and_arm_labels(
    tmp_path: Path, invoke: Invoke
) -> None:
    """F6 remainder: analyze of data.csv said 0 code-breaks, dropped "Unblinded early" and
    named the arms active/placebo whatever --protocol said."""
    from blindself.services.codebreak import codebreak_code

    trial, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(2, 8):
        active = sheet["codes"][by_period[n - 1]] == "active"
        dose(trial, n, by_period[n - 1], mood=(7 if active else 4) + n % 2)
    at_day7 = with_clock(make_context(), at(day(7), 22))
    codebreak_code(trial, by_period[3], "rash", at_day7, passphrase=PASSPHRASE)
    report = unblind_trial(
        trial, at_day7, passphrase=PASSPHRASE, early=True, reason="side effects"
    ).report
    assert report["adherence"]["codebreaks"] == 1
    rows = data_rows(trial)
    broken = {d for d, r in rows.items() if r["codebreak"]}
    assert {rows[d]["codebreak"] for d in broken} == {by_period[3]}
    assert broken == {day(4).isoformat(), day(5).isoformat()}  # the opened one and its partner
    assert {r["unblinded_early"] for r in rows.values()} == {"side effects"}
    protocol = tmp_path / "trial-protocol.toml"
    args = ["analyze", str(trial / "report" / "data.csv"), "--arm-column", "allocation_arm"]
    args += ["--active", "active", "--placebo", "placebo", "--json", "--protocol", str(protocol)]
    r = invoke(args)
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    same_numbers(report, again)
    assert again["adherence"]["codebreaks"] == report["adherence"]["codebreaks"] == 1
    assert "Unblinded early (side effects)." in again["verdict"]["caveats"]
    assert set(report["verdict"]["caveats"]) <= set(again["verdict"]["caveats"])
    labels = {a["name"]: a["label"] for a in again["trial"]["arms"]}
    assert labels == {"active": "active capsule", "placebo": "placebo capsule"}


def test_analyze_takes_the_protocols_arm_names_and_labels(tmp_path: Path, invoke: Invoke) -> None:
    """Three arms: --protocol gave "active1"/"active2" instead of the protocol's low/high."""
    from protocol_texts import THREE_ARMS

    protocol = tmp_path / "three.toml"
    protocol.write_text(THREE_ARMS.format(blinding="helper"))
    data = tmp_path / "d.csv"
    lines = ["date,period,block,allocation_arm,mood"]
    arms = ["placebo", "low", "high", "high", "placebo", "low"]
    for i, arm in enumerate(arms):
        lines.append(f"2026-03-{i + 2:02d},{i + 1},{i // 3 + 1},{arm},{5 + i % 3}")
    data.write_text("\n".join(lines) + "\n")
    args = ["analyze", str(data), "--arm-column", "allocation_arm", "--active", "low"]
    args += ["--active", "high", "--placebo", "placebo", "--json"]
    plain = json.loads(invoke(args).stdout)
    named = json.loads(invoke([*args, "--protocol", str(protocol)]).stdout)
    assert [a["name"] for a in plain["trial"]["arms"]] == ["active1", "active2", "placebo"]
    assert {a["name"]: a["label"] for a in named["trial"]["arms"]} == {
        "placebo": "placebo", "low": "low dose", "high": "high dose",
    }  # fmt: skip
    for x, y in zip(
        plain["outcomes"][0]["contrasts"], named["outcomes"][0]["contrasts"], strict=True
    ):
        assert x["estimate"] == pytest.approx(y["estimate"])
        assert x["p_randomization"] == pytest.approx(y["p_randomization"])


def test_analyze_by_the_taken_arm_says_which_column_reproduces_unblind(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial, _ = wrong_bag_trial(tmp_path)
    unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    args = ["analyze", str(trial / "report" / "data.csv"), "--active", "active"]
    err = assert_one_error_line(invoke([*args, "--placebo", "placebo", "--arm-column", "arm"]))
    assert err.strip().endswith(
        "(data.csv is a blindself export: on a day left out its arm is the container taken; "
        "--arm-column allocation_arm reproduces unblind)"
    ), err
    r = invoke([*args, "--placebo", "placebo", "--arm-column", "allocation_arm"])
    assert r.exit_code == 0 and "is a blindself export" not in r.output, r.output
