"""A paused trial with a lost container, unblinded: what the analysis leaves out
(docs/design.md#lost-containers), what ``analyze report/data.csv`` reproduces, and what the
report lists (pauses, lost containers, every container day with its status)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, Invoke, at, day, make_context
from test_pause_lost import THREE_DAY, checkin, make, run, schedule

from blindself.trial.codes import format_code


def unblind(invoke: Invoke, trial: Path, when: int) -> Any:
    return invoke(
        ["unblind", "--trial", str(trial)],
        make_context(now=at(day(when))),
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )


def live(invoke: Invoke, trial: Path, replaced: bool) -> list[str]:
    """Baseline, period 1, a 2-day pause, period 2 whose container is lost on its second
    day (replaced or not), periods 3 and 4; a code-break of period 4's container."""
    codes = [p["code"] for p in schedule(trial)["periods"]]
    for n in range(5):  # baseline 0-1, period 1 on days 2-4
        assert checkin(invoke, trial, n, codes[0] if n >= 2 else None).exit_code == 0
    r = run(
        invoke, trial, ["pause", "--from", day(5).isoformat(), "--days", "2", "--reason", "flu"], 4
    )
    assert r.exit_code == 0, r.output
    assert checkin(invoke, trial, 7, codes[1]).exit_code == 0  # period 2 resumes on day 7
    r = run(invoke, trial, ["lost", "--date", day(8).isoformat(), "--note", "fell in a drain"], 8)
    assert r.exit_code == 0, r.output
    for n in (8, 9):
        r = checkin(invoke, trial, n, codes[1] if replaced else None, no_capsule="1")
        assert r.exit_code == 0, r.output
    for n in range(10, 16):
        assert checkin(invoke, trial, n, codes[2 + (n - 10) // 3]).exit_code == 0
    r = invoke(
        ["codebreak", "--trial", str(trial), codes[3], "--reason", "rash"],
        make_context(now=at(day(15))),
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    return codes


@pytest.mark.parametrize("replaced", [False, True])
def test_a_lost_container_without_replacement_leaves_its_days_out(
    tmp_path: Path, invoke: Invoke, replaced: bool
) -> None:
    trial = make(tmp_path, invoke, text=THREE_DAY)
    codes = live(invoke, trial, replaced)
    r = unblind(invoke, trial, 16)
    assert r.exit_code == 0, r.output
    report = json.loads((trial / "report" / "report.json").read_text())
    excluded = report["adherence"]["excluded_days"]
    with (trial / "report" / "data.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    why = {row["date"]: row["excluded"] for row in rows}
    if replaced:
        assert excluded == {}
        assert why["2026-03-10"] == why["2026-03-11"] == ""
    else:
        # the lost container's days from the loss on; the day before it stays analysed
        assert excluded == {"lost-container": 2}
        assert why["2026-03-09"] == ""
        assert why["2026-03-10"] == why["2026-03-11"] == "lost-container"
    # no paused day is a row; the randomization set is the whole allocation, exact
    assert "2026-03-07" not in why and "2026-03-08" not in why
    assert report["trial"]["randomization"]["exact"] is True
    assert report["trial"]["randomization"]["assignments"] == 4
    # analyze on data.csv reproduces unblind, exclusions included
    cmd = ["analyze", str(trial / "report" / "data.csv"), "--arm-column", "allocation_arm", "--json",
           "--active", "active", "--placebo", "placebo", "--protocol", str(tmp_path / "p.toml")]  # fmt: skip
    again = json.loads(invoke(cmd, make_context(now=at(day(16)))).output)
    assert again["adherence"]["excluded_days"] == excluded
    for ours, theirs in zip(report["outcomes"], again["outcomes"], strict=True):
        for a, b in zip(ours["contrasts"], theirs["contrasts"], strict=True):
            assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-12)
            assert a["p_randomization"] == pytest.approx(b["p_randomization"], rel=1e-12)
    caveat = "on lost-container days it was lost or damaged and not replaced"
    assert (caveat in " ".join(report["verdict"]["caveats"])) is not replaced
    # the report lists the pause and the lost container ...
    text = r.output
    assert "Pause: 2026-03-07 to 2026-03-08 (2 days): flu" in text
    lost = f"Container {format_code(codes[1])} lost on 2026-03-10: fell in a drain"
    assert lost in text
    html = (trial / "report" / "report.html").read_text()
    assert "2026-03-07 to 2026-03-08 (2 days): flu" in html
    assert f"{format_code(codes[1])} lost on 2026-03-10: fell in a drain" in html
    # ... and its allocation table every container day with its status (F: code-broken and
    # no-capsule days were missing from it)
    statuses = {d["date"]: d["status"] for d in report["allocation"]}
    assert statuses["2026-03-16"] == "code-broken (excluded)"
    assert statuses["2026-03-09"] == "analysed"
    assert statuses["2026-03-10"] == ("analysed" if replaced else "excluded: lost-container")
    assert len(report["allocation"]) == 12  # 4 periods of 3 days, none left out
    assert "<td>code-broken (excluded)</td>" in html
    assert html.count("<td>excluded: lost-container</td>") == (0 if replaced else 2)


def test_a_no_capsule_day_is_listed_as_not_taken(tmp_path: Path, invoke: Invoke) -> None:
    trial = make(tmp_path, invoke)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    for n in range(10):
        code = None if n < 2 or n == 4 else codes[n - 2]
        assert checkin(invoke, trial, n, code, no_capsule="1" if n == 4 else "").exit_code == 0
    assert unblind(invoke, trial, 10).exit_code == 0
    report = json.loads((trial / "report" / "report.json").read_text())
    statuses = {d["date"]: d["status"] for d in report["allocation"]}
    assert statuses[day(4).isoformat()] == "not taken (analysed as scheduled)"
    assert len(statuses) == 8
