"""Emergency code-break (docs/design.md#concepts; docs/design.md T-34, T-33, T-7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, at, day, make_context, with_clock
from reliability.support import assert_one_error_line, entries, make_small_trial, reseal_flipped

import blindself.trial.log.store as store_mod
from blindself.errors import (
    CodeError,
    CommitmentMismatch,
    SealError,
    StoreError,
    TrialStateError,
)
from blindself.services.codebreak import codebreak_code, prepare_codebreak
from blindself.services.daily import record_checkin
from blindself.services.setup import init_trial
from blindself.services.unblinding import unblind_trial
from blindself.trial.codes import format_code
from blindself.trial.seal.crypto import OPAQUE


def partner(sheet: dict[str, Any], code: str) -> list[str]:
    """Codes sharing the block of ``code``, from the preparation sheet (the truth)."""
    block = next(c["block"] for c in sheet["containers"] if c["code"] == code)
    return sorted(
        c["code"] for c in sheet["containers"] if c["block"] == block and c["code"] != code
    )


def plain(code: str) -> str:
    return code.replace("-", "")


def test_break_reveals_one_code_and_logs_its_partner_first(tmp_path: Path) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sheet["containers"][3]["code"]
    ctx = with_clock(make_context(), at(day(4), 9))
    result = codebreak_code(trial, code.lower(), "  rash after dosing ", ctx, passphrase=PASSPHRASE)
    assert result.code == code
    assert result.arm == sheet["codes"][code]
    assert result.arm_label == f"{result.arm} capsule"
    assert list(result.implied) == partner(sheet, code)
    assert result.still_sealed == len(sheet["codes"]) - 2
    assert not result.opened_before
    rows = entries(trial)
    assert [r[1] for r in rows] == ["init", "codebreak"]
    seq, _, dday, payload, supersedes, _, _ = rows[-1]
    assert (seq, dday, supersedes) == (result.entry.seq, None, None)
    assert json.loads(payload) == {
        "code": plain(code),
        "implied": [plain(c) for c in partner(sheet, code)],
        "reason": "rash after dosing",
        "time": at(day(4), 9).isoformat(),
    }
    # The log names no arm: what the code held stays in the seal until unblinding.
    assert "active" not in payload and "placebo" not in payload


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_the_log_entry_is_the_same_whatever_the_allocation(tmp_path: Path, blinding: str) -> None:
    """Non-interference of the entry itself: only the revealed arm differs."""
    payloads, arms = [], []
    for seed in range(10, 18):
        t, sheet = make_small_trial(
            tmp_path, blinding, make_context(alloc_seed=seed), name=f"t{seed}"
        )
        code = sorted(sheet["codes"])[2]
        r = codebreak_code(t, code, "fever", make_context(), passphrase=PASSPHRASE)
        payloads.append(entries(t)[-1][3])
        arms.append(r.arm)
    assert len(set(payloads)) == 1
    assert set(arms) == {"active", "placebo"}, "the seeds must give both arms for this code"


def test_self_mode_implies_the_bag(tmp_path: Path) -> None:
    trial, sheet = make_small_trial(tmp_path, "self")
    schedule = json.loads(entries(trial)[0][3])["schedule"]
    for bag in schedule["bags"]:
        for code in bag["codes"]:
            plan = prepare_codebreak(trial, code, "why")
            assert plan.implied == tuple(c for c in bag["codes"] if c != code)
            assert [format_code(c) for c in plan.implied] == partner(sheet, format_code(code))


def _protocol(tmp_path: Path, design: str) -> Path:
    text = SMALL_PROTOCOL.format(blinding="helper")
    old = 'kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 4\n'
    assert old in text
    p = tmp_path / "variant.toml"
    p.write_text(text.replace(old, design))
    return p


@pytest.mark.parametrize(
    "design, implied_sizes",
    [
        ('kind = "blocks"\nblock = ["active", "placebo", "placebo"]\nblocks = 2\n', {2}),
        ('kind = "complete"\ncounts = {active = 4, placebo = 4}\n', {0}),
        # One active among placebos: opening any code can settle all the others.
        ('kind = "complete"\ncounts = {active = 1, placebo = 3}\n', {3}),
    ],
)
def test_implied_codes_follow_the_design(
    tmp_path: Path, design: str, implied_sizes: set[int]
) -> None:
    trial = tmp_path / "t"
    init_trial(
        _protocol(tmp_path, design),
        trial,
        passphrase=PASSPHRASE,
        ctx=make_context(),
        start=START,
        no_sheet=True,
    )
    codes = json.loads(entries(trial)[0][3])["schedule"]["codes"]
    sizes = {len(prepare_codebreak(trial, c, "why").implied) for c in codes}
    assert sizes == implied_sizes


def _refused(trial: Path, exc: type[Exception], *args: Any, **kwargs: Any) -> str:
    before = entries(trial)
    with pytest.raises(exc) as info:
        codebreak_code(trial, *args, **kwargs)
    assert entries(trial) == before
    return str(info.value)


def test_refusals_change_nothing_and_need_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sorted(sheet["codes"])[0]
    ctx = make_context()

    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the seal was opened")

    import blindself.services.unblinding as unblinding_mod

    monkeypatch.setattr(unblinding_mod, "open_seal", boom)
    for reason in (None, "", "   \n"):
        message = _refused(trial, TrialStateError, code, reason, ctx, passphrase=PASSPHRASE)
        assert message == "a code-break needs --reason TEXT (why you open the code; it is logged)"
    assert "longer than 2000" in _refused(
        trial, TrialStateError, code, "x" * 10_000_000, ctx, passphrase=PASSPHRASE
    )
    for bad, why in (("why\x1b[2J", "control characters"), ("why \udcff", "not valid text")):
        assert why in _refused(trial, TrialStateError, code, bad, ctx, passphrase=PASSPHRASE)
    typo = plain(code)[:2] + ("0" if plain(code)[2] != "0" else "1") + plain(code)[3:]
    assert f"did you mean {code}?" in _refused(
        trial, CodeError, typo, "why", ctx, passphrase=PASSPHRASE
    )
    assert "far too long" in _refused(
        trial, CodeError, "K" * 10_000_000, "why", ctx, passphrase=PASSPHRASE
    )


def test_wrong_secret_logs_nothing(tmp_path: Path) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sorted(sheet["codes"])[0]
    ctx = make_context()
    assert (
        _refused(trial, SealError, code, "why", ctx, passphrase="not the passphrase at all")
        == OPAQUE
    )
    other = "00000-00000-00000-00000-00000-00000-00000"
    message = _refused(trial, SealError, code, "why", ctx, recovery_key=other)
    assert "recovery key" in message and "not the passphrase" not in message


def test_nothing_is_revealed_unless_the_entry_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sorted(sheet["codes"])[0]

    def full(*args: object, **kwargs: object) -> object:
        raise StoreError("the disk is full: free space and retry; nothing was recorded")

    monkeypatch.setattr(store_mod.Transaction, "append", full)
    with pytest.raises(StoreError, match="disk is full"):
        codebreak_code(trial, code, "why", make_context(), passphrase=PASSPHRASE)
    assert len(entries(trial)) == 1


def test_resealed_allocation_is_a_commitment_mismatch(tmp_path: Path) -> None:
    """T-7: a participant re-seals another allocation with their own passphrase."""
    trial, sheet = make_small_trial(tmp_path)
    reseal_flipped(trial)
    code = sorted(sheet["codes"])[0]
    message = _refused(
        trial, CommitmentMismatch, code, "why", make_context(), passphrase=PASSPHRASE
    )
    assert "DOES NOT MATCH THE COMMITMENT" in message and "nothing was logged" in message
    assert CommitmentMismatch.exit_code == 3


def test_break_then_unblind_keeps_the_codes_flagged(tmp_path: Path) -> None:
    """T-33 and T-34: one unblind entry; the broken pair's days are left out and counted."""
    from blindself.trial.checkins import CheckinRequest

    trial, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(10):
        when = day(n)
        ctx = with_clock(make_context(), at(when))
        if n < 2:
            req = CheckinRequest(date=when, ratings={"mood": 5, "anxiety": 3})
        else:
            req = CheckinRequest(
                date=when,
                code=by_period[n - 1],
                ratings={"mood": 4 + n % 4, "anxiety": 3},
                guess="unsure",
            )
        record_checkin(trial, req, ctx)
        if n == 4:  # mid-trial emergency: open the container of period 3
            broken = codebreak_code(trial, by_period[3], "rash", ctx, passphrase=PASSPHRASE)
    after = with_clock(make_context(), at(day(10)))
    unblind_trial(trial, after, passphrase=PASSPHRASE)
    with pytest.raises(TrialStateError, match="the trial is unblinded: every code is open"):
        codebreak_code(trial, by_period[5], "late", after, passphrase=PASSPHRASE)
    report = json.loads((trial / "report" / "report.json").read_text())
    flagged = sorted([broken.code, *broken.implied])
    assert report["adherence"]["codebreaks"] == 1  # one code opened ...
    assert report["adherence"]["codebroken_days"] == 2  # ... two excluded (one-day periods)
    assert report["trial"]["codebreaks"] == [broken.code]
    assert report["trial"]["codebroken"] == flagged
    again = unblind_trial(trial, after, passphrase=PASSPHRASE)
    assert again.already
    kinds = [r[1] for r in entries(trial)]
    assert kinds.count("unblind") == 1 and kinds.count("codebreak") == 1
    assert json.loads((trial / "report" / "report.json").read_text()) == report


def test_second_break_of_a_code_is_logged_again(tmp_path: Path) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sorted(sheet["codes"])[0]
    first = codebreak_code(trial, code, "one", make_context(), passphrase=PASSPHRASE)
    again = codebreak_code(trial, first.implied[0], "two", make_context(), passphrase=PASSPHRASE)
    assert again.opened_before and again.implied == (first.code,)
    assert again.still_sealed == first.still_sealed
    assert [r[1] for r in entries(trial)] == ["init", "codebreak", "codebreak"]


# ------------------------------------------------------------------ the command


def test_codebreak_command(tmp_path: Path, invoke: Invoke) -> None:
    trial, sheet = make_small_trial(tmp_path)
    code = sorted(sheet["codes"])[1]
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    t = ["--trial", str(trial)]
    r = invoke(["codebreak", *t, code], make_context(), env=env)
    assert r.exit_code == 2 and "Missing option '--reason'" in r.stderr
    r = invoke(["codebreak", *t, code, "--reason", " "], make_context(), env=env)
    assert_one_error_line(r)
    r = invoke(
        ["codebreak", *t, code, "--reason", "why"],
        make_context(),
        env={"BLINDSELF_PASSPHRASE": "not the passphrase"},
    )
    assert assert_one_error_line(r) == f"Error: {OPAQUE}\n"
    assert len(entries(trial)) == 1
    r = invoke(["codebreak", *t, code.lower(), "--reason", "fever"], make_context(), env=env)
    assert r.exit_code == 0, r.output
    others = ", ".join(partner(sheet, code))
    assert r.stdout == (
        "Code-break logged as entry 2, before opening the seal.\n"
        f"{code} holds: {sheet['codes'][code]} ({sheet['codes'][code]} capsule)\n"
        f"Also compromised (the design implies their arms from this one): {others}\n"
        f"The days of these codes are left out of the blinded comparison; "
        f"{len(sheet['codes']) - 2} codes stay sealed.\n"
    )
    assert [r[1] for r in entries(trial)] == ["init", "codebreak"]
