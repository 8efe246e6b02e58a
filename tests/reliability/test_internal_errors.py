"""No traceback reaches a user (issue 11 item 3): the top-level handler and the crashes seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, at, day, make_context, with_clock
from reliability.support import assert_one_error_line, make_small_trial

import blindself.services.daily as daily
from blindself.cli.main import cli
from blindself.services.daily import record_checkin
from blindself.services.sharing import share_trial
from blindself.services.unblinding import unblind_trial
from blindself.trial.checkins import CheckinRequest

LATE = with_clock(make_context(), at(day(12)))


def test_an_unexpected_exception_is_one_line_and_exit_70(
    small: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, _ = small

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("secret-ish local")

    monkeypatch.setattr(daily, "trial_status", bug)
    monkeypatch.delenv("BLINDSELF_DEBUG", raising=False)
    r = CliRunner().invoke(cli, ["status", "--trial", str(trial)], obj=make_context())
    assert r.exit_code == 70
    assert r.stderr == (
        "Error: internal error (KeyError); this is a bug in blindself, please report it "
        "(BLINDSELF_DEBUG=1 shows the traceback)\n"
    )
    assert "secret-ish" not in r.output
    debug = CliRunner().invoke(
        cli, ["status", "--trial", str(trial)], obj=make_context(), env={"BLINDSELF_DEBUG": "1"}
    )
    assert isinstance(debug.exception, KeyError)  # the traceback is shown, as asked


def test_plan_with_a_start_at_the_end_of_the_calendar(tmp_path: Path, invoke: Invoke) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    err = assert_one_error_line(invoke(["plan", str(protocol), "--start", "9999-12-25"]))
    assert "would run past 9999-12-31; choose an earlier start" in err


def test_a_huge_integer_rating_on_a_wide_scale_is_refused(tmp_path: Path, invoke: Invoke) -> None:
    protocol = tmp_path / "wide.toml"
    protocol.write_text(
        # the widest scale a protocol may declare since F23 (2**53 - 1, what a check-in holds)
        SMALL_PROTOCOL.format(blinding="helper").replace(
            "scale = [1, 10]", "scale = [0, 9007199254740991]"
        )
    )
    from blindself.services.setup import init_trial

    init_trial(
        protocol, tmp_path / "t", passphrase=PASSPHRASE, ctx=make_context(), start=day(0),
        no_sheet=True,
    )  # fmt: skip
    ctx = with_clock(make_context(), at(day(0)))
    args = ["checkin", "--trial", str(tmp_path / "t"), "--date", day(0).isoformat()]
    r = invoke([*args, "--rate", "mood=9007199254740993", "--rate", "anxiety=2"], ctx)
    err = assert_one_error_line(r)
    assert "mood" in err
    ok = invoke([*args, "--rate", "mood=9007199254740991", "--rate", "anxiety=2"], ctx)
    assert ok.exit_code == 0, ok.output


def test_a_bundle_whose_ratings_are_a_list(tmp_path: Path, invoke: Invoke) -> None:
    bundles = []
    for seed in (1, 2):
        trial, sheet = make_small_trial(tmp_path, ctx=make_context(seed), name=f"t{seed}")
        by_period = {c["period"]: c["code"] for c in sheet["containers"]}
        for n in range(2, 10):
            req = CheckinRequest(
                date=day(n),
                code=by_period[n - 1],
                ratings={"mood": 3 + n % 5, "anxiety": 2},
                guess="unsure",
            )
            record_checkin(trial, req, LATE)
        unblind_trial(trial, LATE, passphrase=PASSPHRASE)
        bundle = share_trial(trial)
        path = tmp_path / f"b{seed}.json"
        bundles.append(path)
        if seed == 2:
            bundle["rows"][3]["ratings"] = [1, 2]
        path.write_text(json.dumps(bundle))
    err = assert_one_error_line(invoke(["pool", *map(str, bundles)]))
    assert err.startswith("Error: b2.json: row 4") and "ratings are not NAME: VALUE pairs" in err
