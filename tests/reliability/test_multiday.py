"""A multi-day container started in the wrong period can be recorded as taken (review F22).

THREE_ARMS (helper, two-day periods dosed every other day): period 1 is doses on days 1 and
3, period 2 on days 5 and 7.  The person opens period 2's container for period 1's second
dose and keeps using it in period 2: the truth was refused ("already used"), so only a false
code, --no-capsule or nothing could be recorded.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, Invoke, at, day, make_context, with_clock
from protocol_texts import THREE_ARMS
from reliability.support import entries

from blindself.services.setup import init_trial

NOW = with_clock(make_context(), at(day(12)))


def three_arms(tmp_path: Path, seed: int = 1, name: str = "t") -> tuple[Path, dict[str, Any]]:
    protocol = tmp_path / f"{name}.toml"
    protocol.write_text(THREE_ARMS.format(blinding="helper"))
    sheet = tmp_path / f"{name}-sheet.json"
    init_trial(
        protocol, tmp_path / name, passphrase=PASSPHRASE, ctx=make_context(alloc_seed=seed),
        start=START, sheets=(sheet,),
    )  # fmt: skip
    return tmp_path / name, json.loads(sheet.read_text())


def check_in(invoke: Invoke, trial: Path, n: int, code: str, *extra: str) -> Any:
    args = ["checkin", "--trial", str(trial), "--date", day(n).isoformat(), "--code", code]
    return invoke([*args, "--rate", "mood=5", "--guess", "unsure", *extra], NOW)


def started_early(invoke: Invoke, trial: Path, sheet: dict[str, Any]) -> list[Any]:
    code = {c["period"]: c["code"] for c in sheet["containers"]}
    return [
        check_in(invoke, trial, 1, code[1]),
        check_in(invoke, trial, 3, code[2]),  # period 2's container, a period early
        check_in(invoke, trial, 5, code[2]),  # and on: the truth
        check_in(invoke, trial, 7, code[2]),
    ]


def test_a_container_used_on_into_its_own_period_is_recorded_with_a_flag(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial, sheet = three_arms(tmp_path)
    results = started_early(invoke, trial, sheet)
    assert [r.exit_code for r in results] == [0, 0, 0, 0], [r.output for r in results]
    assert "Note: recorded with a deviation flag (container-used-twice)" in results[2].output
    flags = [json.loads(e[3])["deviation"] for e in entries(trial)[1:]]
    assert flags == [[], ["container-swapped"], ["container-used-twice"], ["container-used-twice"]]


def test_the_analysis_leaves_out_the_mixed_period_and_keeps_the_one_it_belongs_to(
    tmp_path: Path, invoke: Invoke
) -> None:
    trial, sheet = three_arms(tmp_path)
    started_early(invoke, trial, sheet)
    later = with_clock(make_context(), at(day(13)))
    for n in (9, 11):  # period 3, its own container
        code = {c["period"]: c["code"] for c in sheet["containers"]}[3]
        assert check_in(invoke, trial, n, code).exit_code == 0
    args = ["unblind", "--trial", str(trial), "--early", "--reason", "test"]
    r = invoke(args, later, env={"BLINDSELF_PASSPHRASE": PASSPHRASE})
    assert r.exit_code == 0, r.output
    rows = {
        r["date"]: r for r in csv.DictReader(io.StringIO((trial / "report/data.csv").read_text()))
    }
    assert rows[day(1).isoformat()]["excluded"] == "two-containers"
    assert rows[day(3).isoformat()]["excluded"] == "two-containers"
    for n in (5, 7, 9, 11):
        assert rows[day(n).isoformat()]["excluded"] == "", n


@pytest.mark.parametrize("answer", ["y\n", "n\n"])
def test_the_prompt_names_both_ways_out(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    trial, sheet = three_arms(tmp_path)
    code = {c["period"]: c["code"] for c in sheet["containers"]}
    check_in(invoke, trial, 1, code[1])
    check_in(invoke, trial, 3, code[2])
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    args = ["checkin", "--trial", str(trial), "--date", day(5).isoformat(), "--rate", "mood=5"]
    typed = f"{code[2]}\n{answer}"  # after "n" the code is asked again, then input ends
    r = invoke([*args, "--guess", "unsure", "--note", ""], NOW, input=typed)
    assert (
        f"{code[2]} was already recorded on {day(3)}, in another period. If you really took "
        f"{code[2]} today (a container opened a period early and used on), record it: the "
        "analysis leaves out the period where it does not belong. If that earlier day's code "
        f"was the mistake, correct {day(3)} instead; if not, type the code on today's container."
    ) in r.output
    assert "--replace" not in r.output.split("Record")[0]
    if answer == "y\n":
        assert r.exit_code == 0 and "container-used-twice" in r.output


def test_recording_a_used_container_does_not_depend_on_the_allocation(
    tmp_path: Path, invoke: Invoke
) -> None:
    seen = []
    for seed in (3, 4):
        trial, sheet = three_arms(tmp_path, seed, f"t{seed}")
        out = [r.output.replace(str(trial), "T") for r in started_early(invoke, trial, sheet)]
        seen.append((out, [e[3] for e in entries(trial)[1:]]))
    # The head's hash chains from the commitment (per allocation); everything else is equal.
    outputs = [[re.sub(r"head \d+:[0-9a-f]+", "head H", o) for o in out] for out, _ in seen]
    assert outputs[0] == outputs[1] and seen[0][1] == seen[1][1]
