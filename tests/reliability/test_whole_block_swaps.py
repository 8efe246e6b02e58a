"""A whole bag (self) or block (helper) taken in another block's days stays in the analysis.

F14 (adversary review): every bag is a complete, internally randomized block, so a bag
used wholly inside another bag's slot is still a valid block of the randomization test;
the comparison must keep it, and data.csv must show the arm of the container taken.
F15: ``unblind --early`` before the first day ends in a report, not an internal error.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, at, day, make_context, with_clock
from reliability.support import make_small_trial
from reliability.test_unblind_mistakes import LATE, bag_codes, dose

from blindself.services.codebreak import codebreak_code
from blindself.services.export import export_trial
from blindself.services.unblinding import unblind_trial

# Slot (1-based block of days) -> the bag/block actually taken there: 2<->1 and 4<->3.
SWAPPED = {1: 2, 2: 1, 3: 4, 4: 3}


def _take_swapped_blocks(trial: Path, sheet: dict[str, Any], mode: str) -> dict[str, str]:
    """Check in days 2..9 (periods 1..8) with the other block's codes; date -> code."""
    taken: dict[str, str] = {}
    for slot, bag in SWAPPED.items():
        codes = sorted(bag_codes(sheet, bag))
        for i, code in enumerate(codes):
            n = 2 + 2 * (slot - 1) + i
            arm = sheet["codes"][code]
            dose(trial, n, code, mood=8 if arm == "active" else 3, guess="unsure")
            taken[day(n).isoformat()] = code
    return taken


@pytest.mark.parametrize("mode", ["self", "helper"])
def test_whole_blocks_in_each_others_slots_are_analysed(tmp_path: Path, mode: str) -> None:
    trial, sheet = make_small_trial(tmp_path, mode)
    taken = _take_swapped_blocks(trial, sheet, mode)
    result = unblind_trial(trial, LATE, passphrase=PASSPHRASE)
    report = result.report
    assert report["adherence"]["excluded_days"] == {}
    mood = report["outcomes"][0]
    assert mood["n"] == {"active": 4, "placebo": 4}
    # Mood 8 on every active day, 3 on every placebo day: the estimate is exactly 5.
    assert mood["contrasts"][0]["estimate"] == pytest.approx(5.0)
    assert "no guesses were recorded" not in report["verdict"]["text"]
    rows = list(csv.DictReader(io.StringIO(export_trial(trial, "csv", False))))
    for r in rows:
        if r["date"] in taken:
            assert r["arm"] == sheet["codes"][taken[r["date"]]], r
            assert r["excluded"] == ""


def test_a_split_bag_is_still_excluded(tmp_path: Path) -> None:
    """Bags 1 and 2 mixed across their slots: the envelope from the other bag is excluded."""
    trial, sheet = make_small_trial(tmp_path, "self")
    b1, b2 = sorted(bag_codes(sheet, 1)), sorted(bag_codes(sheet, 2))
    dose(trial, 2, b2[0])
    dose(trial, 3, b1[0])
    dose(trial, 4, b2[1])
    dose(trial, 5, b1[1])
    report = unblind_trial(trial, LATE, passphrase=PASSPHRASE).report
    assert report["adherence"]["excluded_days"] == {"wrong-bag": 2}


@pytest.mark.parametrize("mode", ["self", "helper"])
def test_early_unblind_before_the_first_day_makes_a_report(tmp_path: Path, mode: str) -> None:
    trial, _ = make_small_trial(tmp_path, mode)
    before = with_clock(make_context(), at(START - timedelta(days=1), 9))
    result = unblind_trial(trial, before, passphrase=PASSPHRASE, early=True, reason="x")
    assert (trial / "report" / "report.html").exists()
    assert "Not enough data" in result.report["verdict"]["text"]


def test_smallest_possible_blinding_p_counts_only_the_periods_left(tmp_path: Path) -> None:
    """F6: after a code-break drops a bag, 'the smallest possible p' is that of the 3 bags left.

    Exact enumeration: 3 bags of {active, placebo} give 2**3 = 8 equally likely allocations;
    6 of 6 right is the only one as good, so p = 1/8 = 0.125 is both observed and minimal.
    """
    trial, sheet = make_small_trial(tmp_path, "self")
    for n in range(2, 10):
        bag = sorted(bag_codes(sheet, (n - 2) // 2 + 1))
        code = bag[(n - 2) % 2]
        dose(trial, n, code, guess=sheet["codes"][code], confidence=90)
    codebreak_code(
        trial, sorted(bag_codes(sheet, 2))[0], "side effect", LATE, passphrase=PASSPHRASE
    )
    report = unblind_trial(trial, LATE, passphrase=PASSPHRASE).report
    bl = report["blinding"]
    assert bl["n_periods"] == 6
    assert bl["p_randomization"] == pytest.approx(0.125)
    assert bl["randomization"]["p_min"] == pytest.approx(0.125)
    assert "0.0625" not in report["verdict"]["text"]


def test_self_mode_no_capsule_period_is_excluded_not_called_intention_to_treat(
    tmp_path: Path,
) -> None:
    """F7: one statement only: the period without a container is excluded (no-container)."""
    trial, sheet = make_small_trial(tmp_path, "self")
    dose(trial, 2, None, no_capsule=True, guess=None)
    for n in range(3, 10):
        bag = sorted(bag_codes(sheet, (n - 2) // 2 + 1))
        dose(trial, n, bag[(n - 2) % 2] if n > 3 else bag[0])
    report = unblind_trial(trial, LATE, passphrase=PASSPHRASE).report
    assert report["adherence"]["excluded_days"] == {"no-container": 1}
    assert report["adherence"]["not_taken"] == 0
    assert "intention to treat" not in " ".join(report["verdict"]["caveats"])


@pytest.mark.parametrize("effect", ["nan", "-inf", "inf"])
def test_demo_refuses_a_non_finite_effect_and_writes_nothing(tmp_path: Path, effect: str) -> None:
    """F13: one Error line, exit 2, no half-built demo trial left behind."""
    from click.testing import CliRunner

    from blindself.cli.main import cli

    target = tmp_path / "d"
    r = CliRunner().invoke(cli, ["demo", str(target), "--effect", effect], obj=make_context())
    assert r.exit_code == 2, r.output
    assert "--effect" in r.output and "Traceback" not in r.output
    assert not target.exists()
