"""``blindself pause`` and ``blindself lost`` (docs/design.md#pauses,
docs/design.md#lost-containers): what they record, what they refuse (one ``Error:`` line,
nothing changed), and how status, check-in, calendar and the web follow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, at, day, db_dump, make_context

from blindself.trial.codes import format_code

THREE_DAY = SMALL_PROTOCOL.replace("period_days = 1", "period_days = 3").replace(
    "blocks = 4", "blocks = 2"
)


def make(
    tmp_path: Path, invoke: Invoke, blinding: str = "helper", text: str = SMALL_PROTOCOL
) -> Path:
    protocol = tmp_path / "p.toml"
    protocol.write_text(text.format(blinding=blinding))
    trial = tmp_path / "t"
    r = invoke(
        ["init", str(protocol), str(trial), "--start", START.isoformat(), "--no-sheet"],
        make_context(now=at(day(-1))),
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    return trial


def run(invoke: Invoke, trial: Path, args: list[str], when: int) -> Any:
    return invoke([args[0], "--trial", str(trial), *args[1:]], make_context(now=at(day(when))))


def schedule(trial: Path) -> dict[str, Any]:
    return dict(json.loads(db_dump(trial / "trial.db")[0][3])["schedule"])


def checkin(invoke: Invoke, trial: Path, n: int, code: str | None = None, **kw: str) -> Any:
    args = ["checkin", "--date", day(n).isoformat(), "--rate", "mood=5", "--rate", "anxiety=3"]
    if code:
        args += ["--code", code, "--guess", "unsure"]
    elif kw.get("no_capsule"):
        args += ["--no-capsule"]
    return run(invoke, trial, args, n)


def test_a_pause_moves_the_rest_of_the_trial_and_status_says_so(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make(tmp_path, invoke)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    for n in range(3):
        assert checkin(invoke, trial, n, codes[0] if n == 2 else None).exit_code == 0
    r = run(
        invoke, trial, ["pause", "--from", day(3).isoformat(), "--days", "3", "--reason", "flu"], 2
    )
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:3] == [
        "Paused 2026-03-05 to 2026-03-07 (3 days: flu) (entry 5)",
        "The trial resumes on 2026-03-08.",
        "Its last day moves from 2026-03-11 to 2026-03-14.",
    ]
    assert f"Moved: period 2 (container {format_code(codes[1])}): dose day 2026-03-08" in r.output
    st = run(invoke, trial, ["status"], 4).output.splitlines()
    assert "Paused: 2026-03-05 to 2026-03-07 (flu); nothing to record" in st
    assert f"Next: 2026-03-08: dose day, take container {format_code(codes[1])}" in st
    assert "Today 2026-03-06: day 5 of 13 (2026-03-02 to 2026-03-14)" in st
    assert "Checked in: 3 of 3 days due; missed: 0" in st  # paused days are not missed
    ahead = run(invoke, trial, ["status"], 2).output
    assert "Pause ahead: 2026-03-05 to 2026-03-07 (flu)" in ahead
    doc = json.loads(run(invoke, trial, ["status", "--json"], 4).output)
    assert doc["pauses"] == [{"from": "2026-03-05", "to": "2026-03-07", "days": 3, "reason": "flu"}]
    # a paused day takes no check-in, with one clear line
    r = checkin(invoke, trial, 4)
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: 2026-03-06 is inside the pause from 2026-03-05 to 2026-03-07: nothing to "
        "record (to resume sooner: blindself pause --end DATE)\n"
    )
    # the moved day is the second container's first day
    assert checkin(invoke, trial, 6, codes[1]).exit_code == 0


def test_a_pause_ends_early_or_is_cancelled(tmp_path: Path, invoke: Invoke) -> None:
    trial = make(tmp_path, invoke)
    assert (
        run(
            invoke,
            trial,
            ["pause", "--from", day(3).isoformat(), "--days", "5", "--reason", "trip"],
            2,
        ).exit_code
        == 0
    )
    r = run(invoke, trial, ["pause", "--end", day(5).isoformat()], 4)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:3] == [
        "Pause now 2026-03-05 to 2026-03-06 (2 days) (entry 3)",
        "The trial resumes on 2026-03-07.",
        "Its last day moves from 2026-03-16 to 2026-03-13.",
    ]
    assert (
        run(
            invoke,
            trial,
            ["pause", "--from", day(9).isoformat(), "--days", "2", "--reason", "b"],
            4,
        ).exit_code
        == 0
    )
    r = run(invoke, trial, ["pause", "--end", day(9).isoformat()], 4)
    assert r.exit_code == 0 and r.output.startswith("Pause from 2026-03-11 cancelled (entry 5)")
    doc = json.loads(run(invoke, trial, ["status", "--json"], 4).output)
    assert doc["pauses"] == [
        {"from": "2026-03-05", "to": "2026-03-06", "days": 2, "reason": "trip"}
    ]
    assert doc["end"] == "2026-03-13"


@pytest.mark.parametrize(
    ("args", "when", "message"),
    [
        (["--from", "2026-03-03", "--days", "2", "--reason", "x"], 3,
         "Error: 2026-03-03 is in the past (today is 2026-03-05): a pause starts today or later; "
         "days already gone stay as they were recorded (or missed)"),
        (["--from", "2026-03-04", "--days", "2", "--reason", "x"], 2,
         "Error: 2026-03-04 is already checked in: a pause starts after the last recorded day"),
        (["--from", "2026-03-01", "--days", "2", "--reason", "x"], -2,
         "Error: the trial starts on 2026-03-02: to start later, pause from 2026-03-02"),
        (["--from", "2026-03-14", "--days", "2", "--reason", "x"], 2,
         "Error: the trial's last day is 2026-03-13: there is nothing to pause"),
        (["--from", "2026-03-08", "--days", "3", "--reason", "x"], 2,
         "Error: the pause from 2026-03-09 to 2026-03-10 overlaps it: pauses cannot overlap (to "
         "extend that one, pause from 2026-03-11; to shorten it: blindself pause --end DATE)"),
        (["--days", "2"], 2,
         "Error: a pause needs --reason TEXT (why; logged and shown in the report)"),
        (["--days", "2", "--reason", "a\x1b[2Jb"], 2,
         "Error: the reason contains control characters (U+001B); type plain text"),
        (["--end", "2026-03-06"], 2, "Error: no pause runs on 2026-03-06; nothing to end"),
        (["--end", "2026-03-09"], 8,
         "Error: 2026-03-09 is in the past (today is 2026-03-10): the trial can resume today at "
         "the earliest"),
    ],
)  # fmt: skip
def test_refused_pauses_change_nothing(
    tmp_path: Path, invoke: Invoke, args: list[str], when: int, message: str
) -> None:
    trial = make(tmp_path, invoke)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    for n in range(3):
        assert checkin(invoke, trial, n, codes[0] if n == 2 else None).exit_code == 0
    r = run(
        invoke, trial, ["pause", "--from", day(7).isoformat(), "--days", "2", "--reason", "b"], 2
    )
    assert r.exit_code == 0
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, ["pause", *args], when)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [message.replace("a\x1b[2Jb", "")]
    assert db_dump(trial / "trial.db") == before


def test_end_refuses_while_a_later_pause_stands_and_usage_errors(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make(tmp_path, invoke)
    for start in (3, 6):
        args = ["pause", "--from", day(start).isoformat(), "--days", "2", "--reason", "r"]
        assert run(invoke, trial, args, 2).exit_code == 0
    r = run(invoke, trial, ["pause", "--end", day(4).isoformat()], 2)
    assert r.stderr.splitlines() == [
        "Error: a later pause from 2026-03-08 is recorded: cancel it first (blindself pause "
        "--end 2026-03-08), then end this one"
    ]
    r = run(invoke, trial, ["pause", "--end", day(4).isoformat(), "--days", "2"], 2)
    assert r.exit_code == 2 and "--end goes alone" in r.stderr
    r = run(invoke, trial, ["pause", "--reason", "x"], 2)
    assert r.exit_code == 2 and "give --days N" in r.stderr


def test_a_pause_inside_a_three_day_period_resumes_the_same_container(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make(tmp_path, invoke, text=THREE_DAY)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    for n in range(4):  # baseline, baseline, first dose day of period 1
        assert checkin(invoke, trial, n, codes[0] if n >= 2 else None).exit_code == 0
    r = run(invoke, trial, ["pause", "--days", "2", "--reason", "cold"], 4)
    assert r.exit_code == 0, r.output
    assert (
        f"Moved: period 1 (container {format_code(codes[0])}): dose days from 2026-03-04 to 2026-03-08"
        in r.output
    )
    st = run(invoke, trial, ["status"], 6).output
    assert f"Next: 2026-03-08: dose day, take container {format_code(codes[0])}" in st
    assert checkin(invoke, trial, 6, codes[0]).exit_code == 0
    r = checkin(invoke, trial, 7, codes[1])
    assert r.exit_code == 0 and "deviation" not in r.output  # then the next container


def test_calendar_marks_paused_days_without_a_reminder(tmp_path: Path, invoke: Invoke) -> None:
    trial = make(tmp_path, invoke)
    args = ["pause", "--from", day(3).isoformat(), "--days", "2", "--reason", "trip"]
    assert run(invoke, trial, args, 2).exit_code == 0
    ics = run(invoke, trial, ["calendar", "--remind-at", "08:00"], 2).output
    events = ics.split("BEGIN:VEVENT")[1:]
    paused = [e for e in events if "SUMMARY:Paused" in e]
    assert len(paused) == 2 and all("VALARM" not in e for e in paused)
    assert "DTSTART;VALUE=DATE:20260305" in paused[0]
    assert "Paused (trip\\, 2026-03-05 to 2" in paused[0]  # the reason, from the log
    assert all("VALARM" in e for e in events if e not in paused)
    out = tmp_path / "cal.html"
    assert run(invoke, trial, ["calendar", "-o", str(out)], 2).exit_code == 0
    assert out.read_text().count('<li class="day pause">') == 2


def test_lost_in_helper_mode_asks_for_a_replacement_of_the_same_code(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make(tmp_path, invoke)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    r = run(invoke, trial, ["lost", "--date", day(3).isoformat()], 3)
    assert r.exit_code == 0, r.output
    shown = format_code(codes[1])
    lines = r.output.splitlines()
    assert lines[0] == f"{shown}: recorded as lost (entry 2)"
    assert lines[1].startswith(
        f"Next: Ask your helper for a replacement container labelled {shown}"
    )
    assert "--no-capsule" in lines[2] and "(lost-container)" in lines[2]
    again = run(invoke, trial, ["lost", "--date", day(3).isoformat()], 3)
    assert again.output.startswith(f"{shown}: already recorded as lost (entry 2)")
    r = run(invoke, trial, ["lost", "--code", codes[1], "--damaged"], 4)
    assert r.stderr == f"Error: {shown} was already reported lost on 2026-03-05\n"
    st = run(invoke, trial, ["status"], 4).output
    assert f"Container {shown}: lost on 2026-03-05" in st
    st = run(invoke, trial, ["status"], 3).output
    assert (
        f"Next: 2026-03-05: dose day, take container {shown} (reported lost: its replacement, "
        "or check in --no-capsule)"
    ) in st
    doc = json.loads(run(invoke, trial, ["status", "--json"], 4).output)
    assert doc["lost"] == [{"date": "2026-03-05", "code": shown, "what": "lost", "note": ""}]


def test_lost_in_self_mode_needs_the_label_and_says_not_to_refill(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Review F7: a self-mode envelope shows its code only once opened (the slip inside), so
    ``lost`` without --code says what to do about an unopened one, and a code given is an
    opened envelope: its period takes nothing more."""
    trial = make(tmp_path, invoke, "self")
    bag = sorted(schedule(trial)["bags"][0]["codes"])
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, ["lost"], 2)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (
        "Error: nothing recorded: in self mode an envelope lost or damaged before it was opened "
        "shows no code and needs no `lost` entry: leave it unopened, go on with the other "
        "envelopes of its bag, and check in the dose days of the period left without an "
        "envelope with --no-capsule (say why in --note); an envelope lost or damaged after "
        "opening: blindself lost --code CODE (the code on its slip)\n"
    )
    assert db_dump(trial / "trial.db") == before
    r = run(invoke, trial, ["lost", "--code", bag[0], "--damaged", "--note", "spilled"], 2)
    assert r.exit_code == 0, r.output
    assert f"Do not refill {format_code(bag[0])} yourself" in r.output
    assert "For the rest of its period take nothing" in r.output  # opened: not a spare
    assert "Go on with the other envelopes" not in r.output
    assert "do not open another envelope of bag 1 for it" in r.output
    assert "known mix of arms" in r.output
    r = run(invoke, trial, ["lost", "--code", bag[1], "--date", day(5).isoformat()], 2)
    assert r.stderr == "Error: 2026-03-07 is in the future (today is 2026-03-04); check --date\n"


def test_a_lost_container_in_use_in_self_mode_says_take_nothing(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial = make(tmp_path, invoke, "self", THREE_DAY)
    bag = sorted(schedule(trial)["bags"][0]["codes"])
    assert checkin(invoke, trial, 2, bag[0]).exit_code == 0
    r = run(invoke, trial, ["lost", "--code", bag[0]], 3)
    assert "For the rest of its period take nothing" in r.output
    assert "do not open another envelope of bag 1 for it" in r.output


def test_after_unblinding_pause_and_lost_are_closed(tmp_path: Path, invoke: Invoke) -> None:
    trial = make(tmp_path, invoke)
    r = invoke(
        ["unblind", "--trial", str(trial), "--early", "--reason", "stop"],
        make_context(now=at(day(3))),
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    for args in (
        ["pause", "--days", "2", "--reason", "x"],
        ["lost", "--code", schedule(trial)["periods"][0]["code"]],
    ):
        r = run(invoke, trial, args, 3)
        assert r.stderr == "Error: the trial is unblinded; its calendar and containers are closed\n"


def test_unblinding_opens_after_the_moved_last_day(tmp_path: Path, invoke: Invoke) -> None:
    trial = make(tmp_path, invoke)
    codes = [p["code"] for p in schedule(trial)["periods"]]
    args = ["pause", "--from", day(3).isoformat(), "--days", "2", "--reason", "trip"]
    assert run(invoke, trial, args, 2).exit_code == 0
    for n in (0, 1, 2, *range(5, 11)):  # the planned last day (9) is now a dose day of period 7
        assert (
            checkin(
                invoke, trial, n, codes[n - 2] if n == 2 else codes[n - 4] if n > 4 else None
            ).exit_code
            == 0
        )
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    early = invoke(["unblind", "--trial", str(trial)], make_context(now=at(day(10))), env=env)
    assert early.exit_code == 1
    assert "the trial runs until 2026-03-13; unblinding opens once the check-in of 2026-03-13" in (
        early.stderr
    )
    assert checkin(invoke, trial, 11, codes[7]).exit_code == 0
    assert (
        invoke(["unblind", "--trial", str(trial)], make_context(now=at(day(11))), env=env).exit_code
        == 0
    )


def test_a_pause_recorded_while_a_check_in_waits_is_honoured(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check-in opens the trial (its calendar), then takes the write lock; a pause another
    process commits in between must be seen: the day it covers takes no check-in."""
    from contextlib import contextmanager

    from blindself.errors import CheckinError
    from blindself.services import daily
    from blindself.services.interruptions import record_pause
    from blindself.trial.checkins import CheckinRequest

    trial = make(tmp_path, invoke)
    real = daily.opened_trial

    @contextmanager
    def meanwhile(root: Path, readonly: bool = False) -> Any:
        with real(root, readonly) as opened:
            record_pause(root, day(3), 2, "flu", make_context(now=at(day(3))))  # another process
            yield opened

    monkeypatch.setattr(daily, "opened_trial", meanwhile)
    req = CheckinRequest(date=day(3), ratings={"mood": 5, "anxiety": 3}, no_capsule=True)
    with pytest.raises(CheckinError, match="inside the pause from 2026-03-05 to 2026-03-06"):
        daily.record_checkin(trial, req, make_context(now=at(day(3))))
    assert [row[1] for row in db_dump(trial / "trial.db")] == ["init", "pause"]


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_lost_before_the_trial_is_refused_and_logs_nothing(
    tmp_path: Path, invoke: Invoke, blinding: str
) -> None:
    """Review F6: a date before the trial's first day was recorded as a loss."""
    trial = make(tmp_path, invoke, blinding)
    code = schedule(trial)["codes"][0]  # a real label: only the date is wrong
    before = db_dump(trial / "trial.db")
    r = run(invoke, trial, ["lost", "--code", code, "--date", day(-1).isoformat()], 3)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (
        "Error: 2026-03-01 is before the trial's first day (2026-03-02); check --date\n"
    )
    assert db_dump(trial / "trial.db") == before


def test_log_lists_lost_and_damaged_containers_with_their_dates(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Review F8: ``log`` (text and --json) lists the losses as it lists code-breaks."""
    trial = make(tmp_path, invoke)
    codes = [format_code(p["code"]) for p in schedule(trial)["periods"]]
    assert checkin(invoke, trial, 2, codes[0]).exit_code == 0
    args = ["lost", "--code", codes[0], "--damaged", "--note", "wet", "--date", day(2).isoformat()]
    assert run(invoke, trial, args, 3).exit_code == 0
    assert run(invoke, trial, ["lost", "--date", day(3).isoformat()], 3).exit_code == 0
    lines = run(invoke, trial, ["log"], 3).stdout.splitlines()
    assert lines[-3:] == [
        f"Damaged container {codes[0]} on 2026-03-04 (entry 3): wet",
        f"Lost container {codes[1]} on 2026-03-05 (entry 4)",
        "No arm is shown before unblinding.",
    ]
    doc = json.loads(run(invoke, trial, ["log", "--json"], 3).stdout)
    assert doc["lost"] == [
        {"seq": 3, "date": "2026-03-04", "code": codes[0], "what": "damaged", "note": "wet"},
        {"seq": 4, "date": "2026-03-05", "code": codes[1], "what": "lost", "note": ""},
    ]
    # a range narrows the days, never the list of losses (as for code-breaks)
    ranged = run(
        invoke, trial, ["log", "--from", day(0).isoformat(), "--to", day(0).isoformat()], 3
    )
    assert f"Lost container {codes[1]} on 2026-03-05 (entry 4)" in ranged.stdout.splitlines()
