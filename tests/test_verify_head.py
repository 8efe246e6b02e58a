"""``verify --expect-head`` (issue 16 item 3): a malformed or too-short head is told apart from
a head the log does not match, each with one line and its own exit status (README, verify)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Invoke, at, day, db_dump, init_trial_cli, make_context, with_clock

from blindself.errors import HeadFormatError
from blindself.trial.log.chain import parse_head


@pytest.fixture
def trial(tmp_path: Path, protocol_file: Path, invoke: Invoke) -> Path:
    t = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol_file, t, make_context()).exit_code == 0
    for n in range(2):
        r = invoke(
            ["checkin", "--trial", str(t), "--date", day(n).isoformat(), "--rate", "mood=5",
             "--rate", "anxiety=3"],
            with_clock(make_context(), at(day(n))),
        )  # fmt: skip
        assert r.exit_code == 0, r.output
    return t


def verify(invoke: Invoke, trial: Path, head: str) -> tuple[int, str, str]:
    r = invoke(["verify", "--trial", str(trial), "--expect-head", head])
    return r.exit_code, r.stdout, r.stderr


def hashes(trial: Path) -> list[str]:
    return [str(row[6]) for row in db_dump(trial / "trial.db")]


def test_the_readme_example_is_too_short_not_a_mismatch(trial: Path, invoke: Invoke) -> None:
    code, out, err = verify(invoke, trial, "12:ab34...")
    assert (code, out) == (2, "")
    assert err == (
        "Error: '12:ab34...' is too short: it has 4 hex digits after the colon and a head needs "
        "16 to 64; copy the whole head (SEQ:HEX, the entry number, a colon and 16 to 64 hex "
        "digits (0-9, a-f), e.g. 12:3f9c0a1b2c3d4e5f, as printed by blindself checkin or "
        "verify)\n"
    )


@pytest.mark.parametrize("head", ["x:y", "12", "3:" + "g" * 20, "0:" + "a" * 64, "3:" + "a" * 65])
def test_a_malformed_head_is_a_usage_error(trial: Path, invoke: Invoke, head: str) -> None:
    code, out, err = verify(invoke, trial, head)
    assert (code, out) == (2, "")
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "is not a head: give SEQ:HEX, the entry number, a colon and 16 to 64" in err


def test_a_head_with_a_wrong_digit_is_a_mismatch_that_names_a_typo(
    trial: Path, invoke: Invoke
) -> None:
    h = hashes(trial)[2][:16]
    wrong = ("0" if h[5] != "0" else "1").join((h[:5], h[6:]))
    code, out, err = verify(invoke, trial, f"3:{wrong}")
    assert code == 4
    assert (
        "log: MISMATCH at entry 3: entry 3 differs from the anchored head: 1 of its 16 hex "
        "digits differs, which points to a copying mistake" in out
    )
    assert err == (
        "Error: the log does not match the head you gave (see above): check the head you kept; "
        "if it is exact, restore the trial from a backup\n"
    )


def test_a_mistyped_entry_number_is_named(trial: Path, invoke: Invoke) -> None:
    h = hashes(trial)[1]
    code, out, _ = verify(invoke, trial, f"3:{h}")
    assert code == 4
    assert (
        f"its digits are those of entry 2: the number before the colon is probably mistyped (try 2:{h})"
        in out
    )
    code, out, _ = verify(invoke, trial, f"9:{h}")
    assert code == 4 and "the log ends at entry 3 but the anchored head is entry 9" in out
    # adv3 F11: not "MISMATCH at entry 4", an entry that does not exist
    assert "log: MISMATCH: the log ends at entry 3 but the anchored head is entry 9: " in out
    assert "entry 4" not in out


def test_a_different_head_says_rewritten_if_copied_exactly(trial: Path, invoke: Invoke) -> None:
    code, out, _ = verify(invoke, trial, "3:" + "0123456789abcdef" * 4)
    assert code == 4
    assert "if the head was copied exactly, the log was rewritten at or before entry 3" in out
    # The real head passes.
    assert verify(invoke, trial, f"3:{hashes(trial)[2]}")[0] == 0


@pytest.mark.parametrize(("text", "digits"), [("3:", 0), ("3:a", 1), ("3:" + "a" * 15, 15)])
def test_parse_head_counts_the_digits_of_a_short_head(text: str, digits: int) -> None:
    plural = "s" if digits != 1 else ""
    with pytest.raises(HeadFormatError, match=f"it has {digits} hex digit{plural} after the colon"):
        parse_head(text)
    assert HeadFormatError.exit_code == 2
