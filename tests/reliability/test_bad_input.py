"""The bad-input catalogue at the command line (docs/design.md T-14..T-19, T-30, T-31).

"Refused" means: a non-zero exit, one ``Error:`` line (or click's usage block for exit 2),
no traceback, a bounded message, and an unchanged log.  The ``invoke`` fixture runs with
``catch_exceptions=False``, so any uncaught exception fails the test outright.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, Invoke, at, day, make_context, with_clock
from reliability.support import (
    assert_one_error_line,
    cli_env,
    entries,
    make_small_trial,
)

from blindself.trial.codes import ALPHABET

MAX_MESSAGE = 300  # characters of output a refusal may print, whatever the input size


def typos(code: str) -> set[str]:
    """Every single-symbol substitution and adjacent transposition (independent of codes.py)."""
    out = set()
    for i in range(5):
        for s in ALPHABET:
            if s != code[i]:
                out.add(code[:i] + s + code[i + 1 :])
    for i in range(4):
        if code[i] != code[i + 1]:
            out.add(code[:i] + code[i + 1] + code[i] + code[i + 2 :])
    return out


def dose_args(trial: Path, n: int, code: str, *extra: str) -> list[str]:
    return [
        "checkin",
        "--trial",
        str(trial),
        "--date",
        day(n).isoformat(),
        "--code",
        code,
        "--rate",
        "mood=5",
        "--rate",
        "anxiety=3",
        "--guess",
        "unsure",
        *extra,
    ]


def _sweep(invoke: Invoke, trial: Path, sheet: dict[str, Any], codes: list[str]) -> tuple[int, int]:
    issued = {c.replace("-", "") for c in sheet["codes"]}
    period = {c["code"]: c["period"] for c in sheet["containers"]}
    ctx = with_clock(make_context(), at(day(9)))
    before = entries(trial)
    tried = suggested = 0
    for code in codes:
        n = period[code] + 1  # the code's own dose day
        for typo in sorted(typos(code.replace("-", ""))):
            near = {c for c in issued if typo in typos(c)}
            r = invoke(dose_args(trial, n, typo.lower()), ctx)
            err = assert_one_error_line(r)
            assert len(err) < MAX_MESSAGE
            assert "fails its check symbol" in err, (typo, err)
            if len(near) == 1:
                (hit,) = near
                assert f"did you mean {hit[:4]}-{hit[4]}?" in err, (typo, err)
                suggested += 1
            else:
                assert "did you mean" not in err, (typo, err)
            tried += 1
    assert entries(trial) == before
    return tried, suggested


def test_every_typo_of_one_code_is_refused_with_a_suggestion(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """T-14, one code: 5 x 31 substitutions and the adjacent transpositions."""
    trial, sheet = small
    code = sorted(sheet["codes"])[0]
    tried, suggested = _sweep(invoke, trial, sheet, [code])
    assert tried == len(typos(code.replace("-", ""))) >= 155
    # Codes lie 3 symbols apart, so a substitution has exactly one issued neighbour.
    assert suggested >= 155


@pytest.mark.slow
def test_every_typo_of_every_code_is_refused(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """T-14, all 8 codes of the trial (about 1,270 typed inputs)."""
    trial, sheet = small
    tried, suggested = _sweep(invoke, trial, sheet, sorted(sheet["codes"]))
    assert tried >= 8 * 155 and suggested >= 8 * 155


def test_case_aliases_spaces_and_hyphens_are_normalised(invoke: Invoke, tmp_path: Path) -> None:
    """T-15: every spelling records the same check-in; U is refused."""
    trial, sheet = make_small_trial(tmp_path, ctx=make_context(other_seed=3))
    by_code = {c["code"]: c["period"] for c in sheet["containers"]}
    code = next(c for c in sorted(by_code) if "0" in c or "1" in c)  # seed chosen for this
    n = by_code[code] + 1
    plain = code.replace("-", "")
    spellings = [
        code,
        code.lower(),
        f"  {plain[:2]} {plain[2:4]} - {plain[4]} ",
        plain.replace("0", "O").replace("1", "I"),
        plain.replace("0", "o").replace("1", "l").lower(),
        plain.replace("1", "L"),
    ]
    ctx = with_clock(make_context(), at(day(9)))
    outputs = [invoke(dose_args(trial, n, s), ctx) for s in spellings]
    assert [r.exit_code for r in outputs] == [0] * len(spellings)
    assert "recorded (entry 2" in outputs[0].stdout
    for r in outputs[1:]:
        assert r.stdout == f"{day(n)}: already recorded (entry 2); nothing changed\n"
    with_u = plain[:3] + "U" + plain[4]
    err = assert_one_error_line(invoke(dose_args(trial, n + 1, with_u), ctx))
    assert "contains U, which codes never use" in err
    assert len(entries(trial)) == 2


def test_container_of_another_day_is_flagged_never_remapped(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """T-17 (helper mode): recorded as typed with a deviation flag; a reused code is refused."""
    trial, sheet = small
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    ctx = with_clock(make_context(), at(day(9)))
    r = invoke(dose_args(trial, 2, by_period[3]), ctx)  # day 2 is period 1's day
    assert r.exit_code == 0
    assert "deviation flag (container-swapped)" in r.stdout
    payload = json.loads(entries(trial)[-1][3])
    assert payload["code"] == by_period[3].replace("-", "") and payload["period"] == 1
    assert payload["deviation"] == ["container-swapped"]
    err = assert_one_error_line(invoke(dose_args(trial, 4, by_period[3]), ctx))
    assert "was already used on" in err
    assert len(entries(trial)) == 2


def test_envelope_from_another_bag_is_flagged(invoke: Invoke, tmp_path: Path) -> None:
    """T-17 (self mode): a code from the wrong bag is recorded with ``wrong-bag``."""
    trial, sheet = make_small_trial(tmp_path, "self")
    bag2 = sorted(c["code"] for c in sheet["containers"] if c["block"] == 2)
    ctx = with_clock(make_context(), at(day(9)))
    r = invoke(dose_args(trial, 2, bag2[0]), ctx)  # day 2 belongs to bag 1
    assert r.exit_code == 0 and "deviation flag (wrong-bag)" in r.stdout


BIG = 10_000_000
CASES: list[tuple[str, dict[str, str], tuple[str, ...], int]] = [
    ("code-10MB", {"--code": "K" * BIG}, (), 1),
    ("code-empty", {"--code": ""}, (), 1),
    ("code-short", {"--code": "K7M2"}, (), 1),
    ("code-leading-zeros", {"--code": "000K7M2X"}, (), 1),
    ("code-control", {"--code": "K7M2\x1bX"}, (), 1),
    ("code-undecodable", {"--code": "K7M2\udcff"}, (), 1),
    ("code-unicode", {"--code": "K7M2-Ｘ"}, (), 1),
    ("note-10MB", {"--note": "n" * BIG}, (), 1),
    ("note-control", {"--note": "hi\x1b[2J"}, (), 1),
    ("note-undecodable", {"--note": "hi \udcff"}, (), 1),
    ("rate-value-10MB", {"--rate": "mood=" + "9" * BIG}, (), 1),
    ("rate-name-10MB", {"--rate": "m" * BIG + "=5"}, (), 1),
    ("rate-no-equals-10MB", {"--rate": "9" * BIG}, (), 2),
    ("rate-nan", {"--rate": "mood=nan"}, (), 1),
    ("rate-undecodable", {"--rate": "mo\udcffod=5"}, (), 1),
    ("guess-10MB", {"--guess": "g" * BIG}, (), 1),
    ("guess-empty", {"--guess": ""}, (), 1),
    ("date-10MB", {"--date": "2" * BIG}, (), 2),
    ("date-undecodable", {"--date": "2026-03-0\udcff"}, (), 2),
    ("reason-10MB", {}, ("--replace", "--reason", "r" * BIG), 1),
    ("reason-control", {}, ("--replace", "--reason", "why\x07"), 1),
    ("reason-undecodable", {}, ("--replace", "--reason", "why\udcff"), 1),
    ("trial-10MB", {"--trial": "t" * BIG}, (), 1),
]
CONFIDENCE_10MB = ("confidence-10MB", {"--guess": "active"}, ("--confidence", "9" * BIG), 2)


def _run_case(
    invoke: Invoke,
    trial: Path,
    sheet: dict[str, Any],
    over: dict[str, str],
    extra: tuple[str, ...],
    exit_code: int,
) -> None:
    code = next(c["code"] for c in sheet["containers"] if c["period"] == 1)
    ctx = with_clock(make_context(), at(day(9)))
    good = dose_args(trial, 2, code)  # day 2 recorded with mood=6 below
    good[good.index("mood=5")] = "mood=6"  # a repeated --rate is refused (issue 12 item 10)
    assert invoke(good, ctx).exit_code == 0
    before = entries(trial)
    args = dose_args(trial, 2, code, *extra)
    for option, value in over.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    started = time.perf_counter()
    r = invoke(args, ctx)
    elapsed = time.perf_counter() - started
    assert r.exit_code == exit_code, r.output
    if exit_code == 1:
        assert_one_error_line(r)
    else:
        assert r.stderr.splitlines()[-1].startswith("Error: Invalid value for")
    assert len(r.output) < MAX_MESSAGE, r.output[:MAX_MESSAGE]
    assert entries(trial) == before
    assert elapsed < 5.0  # refused at once, not after chewing on 10 MB (generous on CI)


@pytest.mark.parametrize(
    "over, extra, exit_code", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_huge_and_malformed_values_are_refused_in_one_short_line(
    small: tuple[Path, dict[str, Any]],
    invoke: Invoke,
    over: dict[str, str],
    extra: tuple[str, ...],
    exit_code: int,
) -> None:
    """T-18: bounded memory and output; nothing recorded."""
    trial, sheet = small
    _run_case(invoke, trial, sheet, over, extra, exit_code)


def test_huge_confidence_is_refused_in_one_short_line(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, sheet = small
    _run_case(invoke, trial, sheet, *CONFIDENCE_10MB[1:])


def test_undecodable_argv_in_a_real_process(small: tuple[Path, dict[str, Any]]) -> None:
    """T-18 with real bytes: argv that is not UTF-8 is refused in one line, no traceback."""
    trial, sheet = small
    code = next(c["code"] for c in sheet["containers"] if c["period"] == 1)
    base = [a.encode() for a in dose_args(trial, 2, code)]
    before = entries(trial)
    tried = 0
    for option, value in (
        (b"--code", b"K7M2\xff"),
        (b"--note", b"caf\xe9 au lait"),
        (b"--guess", b"\xffactive"),
        (b"--rate", b"m\xfeood=5"),
    ):
        args = list(base)
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
        proc = subprocess.run(
            [sys.executable.encode(), b"-m", b"blindself", *args],
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        err = proc.stderr.decode("utf-8", "backslashreplace")
        assert proc.returncode == 1 and err.startswith("Error: "), err
        assert err.count("\n") == 1 and "Traceback" not in err
        tried += 1
    assert tried == 4 and entries(trial) == before


def test_clock_going_backwards_is_accepted_and_ordered_by_seq(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """T-30: an injected clock jumps back, then far ahead; order is by seq, chain intact."""
    trial, sheet = small
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    clocks = [at(day(6), 21), at(day(4), 7), at(day(5), 3), datetime(2099, 1, 1, tzinfo=UTC)]
    days = [6, 4, 3, 7]
    for now, n in zip(clocks, days, strict=True):
        r = invoke(dose_args(trial, n, by_period[n - 1]), with_clock(make_context(), now))
        assert r.exit_code == 0, r.output
    rows = entries(trial)[1:]
    assert [r[0] for r in rows] == [2, 3, 4, 5]
    assert [r[2] for r in rows] == [day(n).isoformat() for n in days]
    assert [json.loads(r[3])["recorded_at"] for r in rows] == [c.isoformat() for c in clocks]
    r = invoke(["export", "--trial", str(trial)])
    dates = [line.split(",")[0] for line in r.stdout.splitlines()[1:]]
    assert dates == sorted(dates)
    assert invoke(["verify", "--trial", str(trial)]).exit_code == 0


def test_trial_day_follows_the_frozen_zone_across_dst(tmp_path: Path, invoke: Invoke) -> None:
    """T-30: the trial's zone and day_starts decide the day, not the clock's offset."""
    from helpers import SMALL_PROTOCOL

    from blindself.services.setup import init_trial

    protocol = tmp_path / "berlin.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper").replace(
            'timezone = "UTC"', 'timezone = "Europe/Berlin"'
        )
    )
    trial = tmp_path / "t"
    init_trial(
        protocol,
        trial,
        passphrase=PASSPHRASE,
        ctx=make_context(),
        start=START,
        no_sheet=True,
    )
    # 2026-03-29: clocks in Berlin jump from 02:00 CET to 03:00 CEST (01:00 UTC); days start
    # at 04:00 local, i.e. at 03:00 UTC before the jump and 02:00 UTC after it.
    cases = [
        (datetime(2026, 3, 28, 2, 59, tzinfo=UTC), "2026-03-27"),
        (datetime(2026, 3, 28, 3, 0, tzinfo=UTC), "2026-03-28"),
        (datetime(2026, 3, 29, 1, 59, tzinfo=UTC), "2026-03-28"),
        (datetime(2026, 3, 29, 2, 0, tzinfo=UTC), "2026-03-29"),
    ]
    for now, expected in cases:
        r = invoke(["status", "--trial", str(trial), "--json"], with_clock(make_context(), now))
        assert json.loads(r.stdout)["today"] == expected, now


def test_changing_the_machine_zone_mid_trial_changes_nothing(
    small: tuple[Path, dict[str, Any]],
) -> None:
    """T-30 in real processes: TZ differs between two runs, the trial's day does not."""
    from reliability.support import run_cli

    trial, _ = small
    outs = [
        run_cli("status", "--trial", str(trial), "--json", env=cli_env(TZ=tz))
        for tz in ("Pacific/Kiritimati", "Etc/GMT+12")
    ]
    assert [p.returncode for p in outs] == [0, 0]
    days = {json.loads(p.stdout)["today"] for p in outs}
    assert len(days) == 1


def test_mistyped_trial_creates_nothing_for_any_command(tmp_path: Path, invoke: Invoke) -> None:
    """T-26: every trial command refuses a missing or empty directory and creates nothing."""
    missing = tmp_path / "tiral"
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    commands = [
        ["checkin", "--rate", "mood=5", "--rate", "anxiety=3"],
        ["status"],
        ["status", "--json"],
        ["calendar"],
        ["export"],
        ["export", "--all"],
        ["verify"],
        ["backup", "-o", str(tmp_path / "bk")],
        ["unblind"],
        ["unblind", "--early", "--reason", "x"],
        ["report"],
    ]
    commands.append(["codebreak", "K7M2-X", "--reason", "x"])
    for where in (missing, empty):
        for args in commands:
            r = invoke([args[0], "--trial", str(where), *args[1:]], make_context(), env=env)
            assert_one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert list(empty.iterdir()) == []


def test_check_in_after_a_codebreak_and_before_start(
    small: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """T-31: check-ins go on after a code-break; before the start they are refused."""
    from blindself.services.codebreak import codebreak_code

    trial, sheet = small
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    codebreak_code(trial, by_period[1], "rash", make_context(), passphrase=PASSPHRASE)
    ctx = with_clock(make_context(), at(day(3)))
    assert invoke(dose_args(trial, 2, by_period[1]), ctx).exit_code == 0
    r = invoke(dose_args(trial, -1, by_period[1]), with_clock(make_context(), at(day(-1))))
    assert "the trial starts on" in assert_one_error_line(r)
    assert [r[1] for r in entries(trial)] == ["init", "codebreak", "checkin"]
