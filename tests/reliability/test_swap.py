"""A swapped pair of codes is corrected in one step (issue 11 item 5; T-48)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import Invoke, at, day, make_context, with_clock
from reliability.support import assert_one_error_line, entries, make_small_trial

import blindself.trial.log.store as store_mod

NOW = with_clock(make_context(), at(day(9)))


def typed_swapped(invoke: Invoke, trial: Path, sheet: dict[str, Any]) -> dict[int, str]:
    """Days 2 and 3 (periods 1 and 2) recorded with each other's container code."""
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n, code in ((2, by_period[2]), (3, by_period[1])):
        args = ["checkin", "--trial", str(trial), "--date", day(n).isoformat(), "--code", code]
        r = invoke([*args, "--rate", "mood=5", "--rate", "anxiety=2", "--guess", "unsure"], NOW)
        assert r.exit_code == 0, r.output
    return by_period


def swap_args(trial: Path) -> list[str]:
    return ["correct", "--trial", str(trial), "--swap", day(2).isoformat(), day(3).isoformat()]


def test_replace_alone_cannot_fix_a_swapped_pair(tmp_path: Path, invoke: Invoke) -> None:
    """Why the command exists: the first --replace is refused (the code is in use)."""
    trial, sheet = make_small_trial(tmp_path)
    by_period = typed_swapped(invoke, trial, sheet)
    args = ["checkin", "--trial", str(trial), "--date", day(2).isoformat(), "--replace"]
    args += ["--code", by_period[1], "--rate", "mood=5", "--rate", "anxiety=2"]
    r = invoke([*args, "--guess", "unsure", "--reason", "typo"], NOW)
    assert "was already used on" in assert_one_error_line(r)


def test_swap_corrects_both_days_in_one_step(tmp_path: Path, invoke: Invoke) -> None:
    trial, sheet = make_small_trial(tmp_path)
    by_period = typed_swapped(invoke, trial, sheet)
    r = invoke([*swap_args(trial), "--reason", "typed the labels the wrong way round"], NOW)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == (
        f"Swapped {by_period[2]} and {by_period[1]}: 2 correction entries (4, 5), written together"
    )
    rows = entries(trial)
    assert [x[1] for x in rows] == ["init", "checkin", "checkin", "correction", "correction"]
    for seq, period in ((4, 1), (5, 2)):
        payload = json.loads(rows[seq - 1][3])
        assert payload["code"] == by_period[period].replace("-", "")
        assert payload["deviation"] == []  # each day now holds its own container
        assert payload["reason"] == "typed the labels the wrong way round"
    assert "active" not in r.output and "placebo" not in r.output


def test_swap_is_all_or_nothing(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, sheet = make_small_trial(tmp_path)
    typed_swapped(invoke, trial, sheet)
    before = entries(trial)
    real = store_mod.Transaction.append
    calls = []

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(store_mod.Transaction, "append", failing)
    r = invoke([*swap_args(trial), "--reason", "typo"], NOW)
    assert r.exit_code == 1
    assert entries(trial) == before  # the first correction was rolled back with the second


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reason", " "], "a correction needs --reason TEXT"),
        (["--reason", "x\x1b[2J"], "the reason contains control characters"),
    ],
)
def test_swap_refusals_change_nothing(
    tmp_path: Path, invoke: Invoke, extra: list[str], message: str
) -> None:
    trial, sheet = make_small_trial(tmp_path)
    typed_swapped(invoke, trial, sheet)
    before = entries(trial)
    assert message in assert_one_error_line(invoke([*swap_args(trial), *extra], NOW))
    same = ["correct", "--trial", str(trial), "--swap", day(2).isoformat(), day(2).isoformat()]
    assert "a swap needs two days of different periods" in assert_one_error_line(
        invoke([*same, "--reason", "x"], NOW)
    )
    missing = ["correct", "--trial", str(trial), "--swap", day(2).isoformat(), day(6).isoformat()]
    assert f"{day(6)} has no recorded container code to swap" in assert_one_error_line(
        invoke([*missing, "--reason", "x"], NOW)
    )
    assert entries(trial) == before


def test_swap_output_and_entries_do_not_depend_on_the_allocation(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Non-interference: the same swap under two allocations prints and logs the same."""
    seen = []
    for seed in (3, 4):
        trial, sheet = make_small_trial(
            tmp_path, ctx=make_context(alloc_seed=seed), name=f"t{seed}"
        )
        typed_swapped(invoke, trial, sheet)
        r = invoke([*swap_args(trial), "--reason", "typo"], NOW)
        seen.append((r.output.replace(str(trial), "T"), [x[3] for x in entries(trial)[1:]]))
    assert seen[0] == seen[1]


def checked_in_right_bags(invoke: Invoke, trial: Path, sheet: dict[str, Any]) -> dict[int, str]:
    """Self mode: day 2 (bag 1) and day 6 (bag 3) recorded with a code of the right bag."""
    first_of_bag = {}
    for c in sorted(sheet["containers"], key=lambda c: c["code"]):
        first_of_bag.setdefault(c["block"], c["code"])
    for n, bag in ((2, 1), (6, 3)):
        args = ["checkin", "--trial", str(trial), "--date", day(n).isoformat()]
        args += ["--code", first_of_bag[bag], "--rate", "mood=5", "--rate", "anxiety=2"]
        r = invoke([*args, "--guess", "unsure"], NOW)
        assert r.exit_code == 0 and "deviation" not in r.output, r.output
    return first_of_bag


def right_bags_swap(trial: Path) -> list[str]:
    args = ["correct", "--trial", str(trial), "--swap", day(2).isoformat(), day(6).isoformat()]
    return [*args, "--reason", "oops"]


def test_a_swap_that_makes_correct_days_deviate_is_refused_without_yes(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Review F16: the swap silently turned two right-bag days into wrong-bag days (excluded)."""
    trial, sheet = make_small_trial(tmp_path, blinding="self")
    bag = checked_in_right_bags(invoke, trial, sheet)
    before = entries(trial)
    err = assert_one_error_line(invoke(right_bags_swap(trial), NOW))
    assert (
        f"swapping {bag[1]} and {bag[3]} turns 2 days recorded without a deviation into "
        f"deviating ones ({day(2)}: {bag[3]}, wrong-bag; {day(6)}: {bag[1]}, wrong-bag), usually "
        "left out of the comparison; nothing was changed. If the codes really were typed the "
        "wrong way round, run again with --yes"
    ) in err
    assert entries(trial) == before
    r = invoke([*right_bags_swap(trial), "--yes"], NOW)
    assert r.exit_code == 0, r.output
    assert f"Note: {day(2)} now holds a deviation (wrong-bag)" in r.stdout
    assert [json.loads(x[3])["deviation"] for x in entries(trial)[-2:]] == [["wrong-bag"]] * 2


@pytest.mark.parametrize(("answer", "swapped"), [("n\n", False), ("\n", False), ("y\n", True)])
def test_on_a_terminal_the_swap_is_shown_and_asked(
    tmp_path: Path,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    swapped: bool,
) -> None:
    trial, sheet = make_small_trial(tmp_path, blinding="self")
    bag = checked_in_right_bags(invoke, trial, sheet)
    before = entries(trial)
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    r = invoke(right_bags_swap(trial), NOW, input=answer)
    assert r.exit_code == 0, r.output
    assert f"  {day(2)}: {bag[1]} -> {bag[3]} (wrong-bag)" in r.output
    assert "2 of these days were recorded without a deviation" in r.output
    assert "Swap anyway? [y/N]" in r.output
    if swapped:
        assert len(entries(trial)) == len(before) + 2
        assert f"Swapped {bag[1]} and {bag[3]}" in r.output
    else:
        assert entries(trial) == before and "Not swapped; nothing changed." in r.output


def test_a_swap_that_mends_deviations_is_not_asked(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping back (the usual case: codes typed the wrong way round) needs no --yes."""
    trial, sheet = make_small_trial(tmp_path, blinding="self")
    checked_in_right_bags(invoke, trial, sheet)
    assert invoke([*right_bags_swap(trial), "--yes"], NOW).exit_code == 0
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    r = invoke(right_bags_swap(trial), NOW, input="")
    assert r.exit_code == 0 and "Swap anyway" not in r.output, r.output
    assert [json.loads(x[3])["deviation"] for x in entries(trial)[-2:]] == [[], []]


def test_the_swap_preview_does_not_depend_on_the_allocation(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Non-interference (F16): the refusal, the terminal preview and the --yes output."""
    seen = []
    for seed in (3, 4):
        trial, sheet = make_small_trial(
            tmp_path, blinding="self", ctx=make_context(alloc_seed=seed), name=f"t{seed}"
        )
        checked_in_right_bags(invoke, trial, sheet)
        refused = invoke(right_bags_swap(trial), NOW).output
        with monkeypatch.context() as m:
            m.setattr("blindself.cli.options.interactive", lambda: True)
            asked = invoke(right_bags_swap(trial), NOW, input="n\n").output
        done = invoke([*right_bags_swap(trial), "--yes"], NOW).output
        seen.append(
            (
                [x.replace(str(trial), "T") for x in (refused, asked, done)],
                [x[3] for x in entries(trial)[1:]],
            )
        )
    assert seen[0] == seen[1]
