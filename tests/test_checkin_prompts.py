"""Mistakes caught at the moment they are made (issue 11 item 5).

The interactive check-in runs in-process with the terminal test switched on
(``blindself.cli.options.interactive``) and the answers typed as input.  Before this, a used code
was refused only after every rating was typed, a wrong-bag code went through unconfirmed,
a recorded day was re-asked in full and then refused, ``--replace`` dropped the note and
did not show what it replaced, and prompt errors read like code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import SMALL_PROTOCOL, Invoke, at, day, db_dump, init_trial_cli, make_context

from blindself.services.checkin_checks import check_code
from blindself.trial.codes import format_code


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)


def setup(tmp_path: Path, invoke: Invoke, blinding: str) -> tuple[Path, dict[str, object]]:
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    trial = tmp_path / "trial"
    r = init_trial_cli(invoke, protocol, trial, make_context())
    assert r.exit_code == 0, r.output
    public = json.loads(db_dump(trial / "trial.db")[0][3])["schedule"]
    return trial, public


def ctx_on(n: int):  # type: ignore[no-untyped-def]
    return make_context(now=at(day(n)))


def payloads(trial: Path) -> list[dict[str, object]]:
    return [json.loads(row[3]) for row in db_dump(trial / "trial.db")[1:]]


def helper_codes(public: dict[str, object]) -> list[str]:
    return [p["code"] for p in public["periods"]]  # type: ignore[index, union-attr]


def checkin(invoke: Invoke, trial: Path, n: int, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return invoke(
        ["checkin", "--trial", str(trial), "--date", day(n).isoformat(), *args],
        ctx_on(n),
        input=input,
    )


def test_a_used_code_is_refused_before_any_rating(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, public = setup(tmp_path, invoke, "helper")
    codes = helper_codes(public)
    first = ["--code", codes[0], "--rate", "mood=5", "--rate", "anxiety=5", "--guess", "unsure"]
    assert checkin(invoke, trial, 2, *first, "--note", "").exit_code == 0
    # day 3 is period 2; typing period 1's (used) code is refused at once, then re-asked
    r = checkin(invoke, trial, 3, input=f"{codes[0]}\n{codes[1]}\nunsure\n7\n3\nfine\n")
    assert r.exit_code == 0, r.output
    refused = r.stderr.index("Not recorded:")
    assert "already used on" in r.stderr
    assert r.stderr.index("How was your mood?") > refused  # nothing typed was lost
    assert r.stderr.count("Container code") == 2
    assert payloads(trial)[-1]["note"] == "fine"


def test_another_days_container_is_confirmed_at_once(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, public = setup(tmp_path, invoke, "helper")
    codes = helper_codes(public)
    # day 2 is period 1: typing period 2's container asks; 'n' re-asks, then 'y' records it
    r = checkin(invoke, trial, 2, input=f"{codes[1]}\nn\n{codes[1]}\ny\nunsure\n6\n4\n\n")
    assert r.exit_code == 0, r.output
    ask = r.stderr.index(f"is the container for {day(3)}, not for {day(2)}")
    assert r.stderr.index("How was your mood?") > ask
    assert r.stderr.count(f"Record {format_code(codes[1])} for {day(2)}?") == 2
    assert payloads(trial)[-1]["deviation"] == ["container-swapped"]


def test_a_code_from_another_bag_is_confirmed_at_once(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, public = setup(tmp_path, invoke, "self")
    bags = [sorted(b["codes"]) for b in public["bags"]]  # type: ignore[index, union-attr]
    # day 2 is a bag 1 day; a bag 2 code asks first, 'n' re-asks, a bag 1 code goes through
    r = checkin(invoke, trial, 2, input=f"{bags[1][0]}\nn\n{bags[0][0]}\nunsure\n6\n4\n\n")
    assert r.exit_code == 0, r.output
    said = r.stderr.index(f"is from bag 2, but {day(2)} is a bag 1 day")
    assert r.stderr.index("How was your mood?") > said
    assert payloads(trial)[-1]["deviation"] == []


def test_check_code_is_a_service_verdict(tmp_path: Path, invoke: Invoke) -> None:
    trial, public = setup(tmp_path, invoke, "self")
    bags = [sorted(b["codes"]) for b in public["bags"]]  # type: ignore[index, union-attr]
    ctx = ctx_on(2)
    assert check_code(trial, day(2), bags[0][1], ctx).status == "ok"
    assert check_code(trial, day(2), bags[1][1], ctx).status == "confirm"
    unknown = check_code(trial, day(2), "AAAA-A", ctx)
    assert unknown.status == "refused" and unknown.code is None and unknown.message


def test_a_recorded_day_says_so_before_asking_anything(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, _ = setup(tmp_path, invoke, "helper")
    args = ["--rate", "mood=5", "--rate", "anxiety=5", "--note", "slept badly"]
    assert checkin(invoke, trial, 0, *args).exit_code == 0
    r = checkin(invoke, trial, 0, input="5\n5\n\n")
    assert r.exit_code == 1
    assert "How was your mood?" not in r.stderr
    assert f"{day(0)} is already recorded (entry 2: anxiety 5, mood 5; note 'slept badly')" in (
        r.stderr.replace("\n", " ")
    )
    assert "--replace" in r.stderr
    assert len(payloads(trial)) == 1


def test_replace_shows_the_old_values_and_keeps_what_is_not_given(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial, public = setup(tmp_path, invoke, "helper")
    code = helper_codes(public)[0]
    first = [
        "--code",
        code,
        "--rate",
        "mood=5",
        "--rate",
        "anxiety=6",
        "--guess",
        "active",
        "--confidence",
        "70",
        "--note",
        "headache at noon",
    ]
    assert checkin(invoke, trial, 2, *first).exit_code == 0
    r = checkin(invoke, trial, 2, "--replace", "--rate", "mood=8", "--reason", "typo")
    assert r.exit_code == 0, r.output
    assert (
        f"was (entry 2): code {format_code(code)}; anxiety 6, mood 5; guess active (70 % sure); "
        "note 'headache at noon'" in r.stdout
    )
    assert "now (entry 3):" in r.stdout and "anxiety 6, mood 8" in r.stdout
    new = payloads(trial)[-1]
    assert new["ratings"] == {"mood": 8, "anxiety": 6}
    assert (new["guess"], new["confidence"], new["note"]) == ("active", 70, "headache at noon")
    assert new["code"] == code and new["taken"] is True
    # an explicitly empty note does clear it
    r = checkin(invoke, trial, 2, "--replace", "--note", "", "--reason", "private")
    assert r.exit_code == 0, r.output
    assert payloads(trial)[-1]["note"] == ""


def test_interactive_replace_offers_the_recorded_values(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, _ = setup(tmp_path, invoke, "helper")
    args = ["--rate", "mood=5", "--rate", "anxiety=6", "--note", "tired"]
    assert checkin(invoke, trial, 0, *args).exit_code == 0
    r = checkin(invoke, trial, 0, "--replace", "--reason", "x", input="7\n\n\n")
    assert r.exit_code == 0, r.output
    assert "Replacing entry 2: anxiety 6, mood 5; note 'tired'" in r.stderr
    new = payloads(trial)[-1]
    assert new["ratings"] == {"mood": 7, "anxiety": 6} and new["note"] == "tired"


def test_prompt_errors_are_plain_words(tmp_path: Path, invoke: Invoke, terminal: None) -> None:
    trial, _ = setup(tmp_path, invoke, "helper")
    r = checkin(invoke, trial, 0, input="11\nabc\n\n7\n3\nall good\n")
    assert r.exit_code == 0, r.output
    err = r.stderr
    assert "mood is rated 1 to 10; you typed 11" in err
    assert "mood is rated 1 to 10; 'abc' is not a number" in err
    assert "Type a number from 1 to 10 for mood." in err  # a blank answer is explained
    assert "range" not in err and "float" not in err
    assert payloads(trial)[-1]["note"] == "all good"


def test_guess_and_confidence_errors_are_plain_words(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    trial, public = setup(tmp_path, invoke, "helper")
    code = helper_codes(public)[0]
    r = checkin(invoke, trial, 2, input=f"{code}\ndunno\n\nactive\n120\n80\n5\n5\n\n")
    assert r.exit_code == 0, r.output
    assert "type one of active, placebo, unsure; you typed 'dunno'" in r.stderr
    assert "Type your guess: active, placebo, unsure" in r.stderr
    assert "from 50 (a coin toss) to 100 (certain); you typed 120" in r.stderr
    assert payloads(trial)[-1]["confidence"] == 80


def test_interactive_replace_keeps_a_recorded_deviating_code_with_enter(
    tmp_path: Path, invoke: Invoke, terminal: None
) -> None:
    """F5: days 2 and 3 recorded with each other's containers; Enter keeps the code."""
    trial, public = setup(tmp_path, invoke, "helper")
    codes = helper_codes(public)
    rest = ["--rate", "mood=5", "--rate", "anxiety=5", "--guess", "unsure", "--note", ""]
    assert checkin(invoke, trial, 2, "--code", codes[1], *rest).exit_code == 0
    assert checkin(invoke, trial, 3, "--code", codes[0], *rest).exit_code == 0
    r = checkin(invoke, trial, 3, "--replace", "--reason", "oops", input="\n" * 8)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("Container code") == 1
    assert f"Record {format_code(codes[0])}" not in r.stderr
    assert f"today's {format_code(codes[1])} is already recorded on another day" in r.stderr
    assert payloads(trial)[-1]["code"] == codes[0]
