"""The trial lifecycle through the command line (issue 2): init, check-ins, status, unblind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    PASSPHRASE,
    START,
    Invoke,
    at,
    day,
    db_dump,
    init_trial_cli,
    make_context,
    with_clock,
)

from blindself.trial.codes import ALPHABET

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}


def sheet_of(trial: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((trial.parent / f"{trial.name}-sheet.json").read_text())
    return data


def code_for(sheet: dict[str, Any], period: int) -> str:
    return next(c["code"] for c in sheet["containers"] if c["period"] == period)


@pytest.fixture
def trial(tmp_path: Path, protocol_file: Path, invoke: Invoke) -> Path:
    t = tmp_path / "trial"
    r = init_trial_cli(invoke, protocol_file, t, make_context())
    assert r.exit_code == 0, r.output
    return t


def checkin(
    invoke: Invoke, trial: Path, when_day: int, *args: str, now_day: int | None = None
) -> Any:
    ctx = with_clock(make_context(), at(day(now_day if now_day is not None else when_day)))
    return invoke(
        ["checkin", "--trial", str(trial), "--date", day(when_day).isoformat(), *args], ctx
    )


def full_checkin(
    invoke: Invoke, trial: Path, n: int, sheet: dict[str, Any], mood: int = 6, anxiety: int = 3
) -> Any:
    """Day n of the small protocol: 2 baseline days, then 8 one-day periods."""
    if n < 2:
        return checkin(invoke, trial, n, "--rate", f"mood={mood}", "--rate", f"anxiety={anxiety}")
    return checkin(
        invoke,
        trial,
        n,
        "--code",
        code_for(sheet, n - 1),
        "--rate",
        f"mood={mood}",
        "--rate",
        f"anxiety={anxiety}",
        "--guess",
        "placebo",
        "--confidence",
        "60",
    )


def run_whole_trial(invoke: Invoke, trial: Path) -> None:
    sheet = sheet_of(trial)
    arms = sheet["codes"]
    for n in range(10):
        mood = 5
        if n >= 2 and arms[code_for(sheet, n - 1)] == "active":
            mood = 8
        r = full_checkin(invoke, trial, n, sheet, mood=mood + (n % 2), anxiety=2 + n % 3)
        assert r.exit_code == 0, r.output


def test_templates_lists_shipped_protocols(invoke: Invoke) -> None:
    r = invoke(["templates"])
    assert r.exit_code == 0
    for name in (
        "microdosing-resilience",
        "caffeine-day-pairs",
        "placebo-response",
        "stamets-stack",
        "weekly-crossover",
        "dose-response",
        "melatonin-sleep",
    ):
        assert name in r.stdout


def test_new_copies_and_never_overwrites(invoke: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    assert invoke(["new", "caffeine-day-pairs", str(target)]).exit_code == 0
    assert "Caffeine" in target.read_text()
    r = invoke(["new", "caffeine-day-pairs", str(target)])
    assert r.exit_code == 1
    assert r.stderr == f"Error: {target} exists; choose another path or remove it\n"
    r = invoke(["new", "no-such", str(tmp_path / "x.toml")])
    assert r.exit_code == 1 and r.stderr.startswith("Error: no template 'no-such'; choose one of:")


def test_every_command_has_help(invoke: Invoke) -> None:
    from blindself.cli.main import all_commands

    for name, command in all_commands().items():
        assert command.help, name
        assert invoke([name, "--help"]).exit_code == 0


def test_the_family_table_lists_every_command_once() -> None:
    # The group imports a family when one of its commands runs; a command missing from
    # FAMILIES would be unreachable, one under the wrong family would not load.
    import importlib

    from blindself.cli.main import FAMILIES

    for family in set(FAMILIES.values()):
        module = importlib.import_module(f"blindself.cli.{family}")
        names = {c.name for c in module.COMMANDS}
        assert names == {n for n, f in FAMILIES.items() if f == family}, family


def test_the_help_page_says_what_each_command_says() -> None:
    # `blindself --help` lists the commands from SUMMARIES, importing no family: each line must
    # be what click would print from the command's own help, cut as click cuts it, at any width.
    import click

    from blindself.cli.main import SUMMARIES, all_commands, cli, shorten

    commands = all_commands()
    assert set(SUMMARIES) == set(commands), "give each command its line in cli.main.SUMMARIES"
    for name, command in commands.items():
        for limit in range(120):
            assert shorten(SUMMARIES[name], limit) == command.get_short_help_str(limit), name
    for width in (20, 45, 60, 80, 200):
        ctx = click.Context(cli, info_name="blindself", terminal_width=width)
        ours, clicks = ctx.make_formatter(), ctx.make_formatter()
        cli.format_commands(ctx, ours)
        click.Group.format_commands(cli, ctx, clicks)
        assert ours.getvalue() == clicks.getvalue() != "", width


def test_a_command_missing_from_the_summaries_is_still_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A command added without its summary is loaded and asked (slower, never missing).
    import click

    from blindself.cli import main

    monkeypatch.delitem(main.SUMMARIES, "status")
    ctx = click.Context(main.cli, info_name="blindself", terminal_width=200)
    formatter = ctx.make_formatter()
    main.cli.format_commands(ctx, formatter)
    assert "  status     Progress and today's instruction (reveals no arm).\n" in (
        formatter.getvalue()
    )


def test_a_command_loads_only_its_family() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from blindself.cli.main import cli\n"
        "try:\n"
        "    cli(['status', '--help'], prog_name='blindself')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('blindself.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(
        ["blindself.cli.daily", "blindself.cli.main", "blindself.cli.options"]
    )
    # The group's own help lists every command from a table: no family at all.
    probe = probe.replace("['status', '--help']", "['--help']")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "  status     Progress and today's instruction" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == str(
        ["blindself.cli.main", "blindself.cli.options"]
    )


def test_init_creates_private_trial_and_prints_commitment(trial: Path, invoke: Invoke) -> None:
    files = sorted(p.name for p in trial.iterdir())
    assert files == ["allocation.seal", "preregistration.md", "protocol.toml", "trial.db"]
    assert stat.S_IMODE(os.stat(trial).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(trial / "trial.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(trial / "allocation.seal").st_mode) == 0o400
    genesis = json.loads(db_dump(trial / "trial.db")[0][3])
    assert len(genesis["commitment"]) == 64
    assert PASSPHRASE not in (trial / "trial.db").read_bytes().decode("latin-1")


def test_preregistration_holds_protocol_and_commitment_but_no_arm(trial: Path) -> None:
    text = (trial / "preregistration.md").read_text()
    genesis = json.loads(db_dump(trial / "trial.db")[0][3])
    assert genesis["commitment"] in text
    assert (trial / "protocol.toml").read_text().rstrip() in text
    assert "Registered: 2026-03-02" in text and "Primary outcome: mood" in text
    assert stat.S_IMODE(os.stat(trial / "preregistration.md").st_mode) == 0o600


def test_cloud_synced_folder_is_warned_about(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    (tmp_path / "Dropbox").mkdir()
    r = init_trial_cli(invoke, protocol_file, tmp_path / "Dropbox" / "mood", make_context())
    assert r.exit_code == 0
    assert "looks like a cloud-synced folder" in r.stderr


def test_init_output_shows_commitment_once(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    r = init_trial_cli(invoke, protocol_file, tmp_path / "t", make_context())
    genesis = json.loads(db_dump(tmp_path / "t" / "trial.db")[0][3])
    assert r.stdout.count(genesis["commitment"]) == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--no-sheet", "--sheet", "x.json"], "Error: --sheet and --no-sheet exclude each other\n"),
    ],
)
def test_init_option_conflicts(
    tmp_path: Path, protocol_file: Path, invoke: Invoke, extra: list[str], message: str
) -> None:
    r = invoke(["init", str(protocol_file), str(tmp_path / "t"), *extra], make_context(), env=ENV)
    assert r.exit_code == 1 and r.stderr == message
    assert not (tmp_path / "t").exists()


def test_init_requires_a_sheet_outside_the_trial(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    t = tmp_path / "t"
    r = invoke(["init", str(protocol_file), str(t)], make_context(), env=ENV)
    assert r.exit_code == 1 and "give --sheet FILE.html" in r.stderr
    r = invoke(
        ["init", str(protocol_file), str(t), "--sheet", str(t / "sheet.json")],
        make_context(),
        env=ENV,
    )
    assert r.exit_code == 1 and "inside the trial directory" in r.stderr
    assert not t.exists()


def test_init_refuses_a_non_empty_directory(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    t = tmp_path / "t"
    t.mkdir()
    (t / "x").write_text("keep me")
    r = invoke(["init", str(protocol_file), str(t), "--no-sheet"], make_context(), env=ENV)
    assert r.exit_code == 1 and "not empty" in r.stderr
    assert sorted(p.name for p in t.iterdir()) == ["x"]


def test_init_without_passphrase_off_a_terminal(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    r = invoke(["init", str(protocol_file), str(tmp_path / "t"), "--no-sheet"], make_context())
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: no passphrase: run on a terminal to be asked")


def test_init_malformed_protocol(tmp_path: Path, invoke: Invoke) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[trial\ntitle = 1")
    r = invoke(["init", str(bad), str(tmp_path / "t"), "--no-sheet"], make_context(), env=ENV)
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: bad.toml: not valid TOML")
    assert r.stderr.count("\n") == 1
    assert not (tmp_path / "t").exists()


def test_init_unknown_arm(tmp_path: Path, protocol_file: Path, invoke: Invoke) -> None:
    bad = tmp_path / "protocol.toml"
    bad.write_text(
        protocol_file.read_text().replace(
            'block = ["active", "placebo"]', 'block = ["actve", "placebo"]'
        )
    )
    r = invoke(["plan", str(bad)], make_context())
    assert r.exit_code == 1
    assert r.stderr == (
        'Error: protocol.toml: design.block names arm "actve", which is not defined '
        "(defined: active, placebo)\n"
    )


def test_generate_passphrase_prints_it_once(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    r = invoke(
        ["init", str(protocol_file), str(tmp_path / "t"), "--no-sheet", "--generate-passphrase"],
        make_context(),
    )
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    phrase = lines[
        lines.index("Passphrase (shown once; write it down, it opens the seal at the end):") + 1
    ].strip()
    assert len(phrase) >= 20
    assert r.stdout.count(phrase) == 1


# ------------------------------------------------------------------ check-ins
def test_checkin_records_and_is_idempotent(trial: Path, invoke: Invoke) -> None:
    sheet = sheet_of(trial)
    r = full_checkin(invoke, trial, 2, sheet)
    assert r.exit_code == 0 and "recorded (entry 2" in r.stdout
    r = full_checkin(invoke, trial, 2, sheet)
    assert r.exit_code == 0
    assert r.stdout == f"{day(2)}: already recorded (entry 2); nothing changed\n"
    assert len(db_dump(trial / "trial.db")) == 2


def test_checkin_replace_supersedes_and_keeps_the_original(trial: Path, invoke: Invoke) -> None:
    sheet = sheet_of(trial)
    assert full_checkin(invoke, trial, 2, sheet, mood=5).exit_code == 0
    r = full_checkin(invoke, trial, 2, sheet, mood=7)
    assert r.exit_code == 1
    assert "already recorded with other values; add --replace" in r.stderr
    code = code_for(sheet, 1)
    r = checkin(
        invoke,
        trial,
        2,
        "--code",
        code,
        "--rate",
        "mood=7",
        "--rate",
        "anxiety=3",
        "--guess",
        "placebo",
        "--confidence",
        "60",
        "--replace",
        "--reason",
        "typo",
    )
    assert r.exit_code == 0 and "replaced" in r.stdout
    rows = db_dump(trial / "trial.db")
    assert [r[1] for r in rows] == ["init", "checkin", "correction"]
    assert rows[2][4] == 2  # supersedes the original, which stays
    r = invoke(["export", "--trial", str(trial), "--all"])
    assert r.stdout.count(day(2).isoformat()) == 2
    r = invoke(["export", "--trial", str(trial)])
    assert r.stdout.count(day(2).isoformat()) == 1 and ",7,3," in r.stdout


def mistype(code: str) -> str:
    plain = code.replace("-", "")
    sym = ALPHABET[(ALPHABET.index(plain[1]) + 1) % 32]
    return plain[0] + sym + plain[2:]


BAD_CHECKINS = [
    (
        ["--rate", "mood=11", "--rate", "anxiety=3"],
        0,
        "Error: --rate mood=11 is outside the scale 1-10\n",
    ),
    (
        ["--rate", "mood=5"],
        0,
        "Error: missing ratings: anxiety (give --rate NAME=VALUE for each)\n",
    ),
    (
        ["--rate", "mood=5", "--rate", "anxiety=3", "--rate", "joy=2"],
        0,
        "Error: --rate joy: no such outcome (outcomes: mood, anxiety)\n",
    ),
    (
        ["--rate", "mood=5", "--rate", "anxiety=3", "--code", "K7M2-X"],
        0,
        f"Error: {day(0)} is a baseline day with no container; leave out --code\n",
    ),
    (
        ["--rate", "mood=5", "--rate", "anxiety=3"],
        2,
        f"Error: {day(2)} is a dose day: give --code (the container's label) or --no-capsule\n",
    ),
]


@pytest.mark.parametrize("args, n, message", BAD_CHECKINS)
def test_bad_checkins_are_refused_and_change_nothing(
    trial: Path, invoke: Invoke, args: list[str], n: int, message: str
) -> None:
    before = db_dump(trial / "trial.db")
    r = checkin(invoke, trial, n, *args)
    assert r.exit_code == 1
    assert r.stderr == message
    assert "Traceback" not in r.output
    assert db_dump(trial / "trial.db") == before


def test_mistyped_code_gets_a_suggestion(trial: Path, invoke: Invoke) -> None:
    sheet = sheet_of(trial)
    code = code_for(sheet, 1)
    before = db_dump(trial / "trial.db")
    r = checkin(
        invoke,
        trial,
        2,
        "--code",
        mistype(code),
        "--rate",
        "mood=5",
        "--rate",
        "anxiety=3",
        "--guess",
        "placebo",
        "--confidence",
        "60",
    )
    assert r.exit_code == 1
    assert f"did you mean {code}?" in r.stderr
    assert db_dump(trial / "trial.db") == before


def test_code_of_another_trial_is_refused(trial: Path, invoke: Invoke) -> None:
    from blindself.trial.codes import check_symbol, format_code

    issued = set(sheet_of(trial)["codes"])
    for data in ("0000", "ZZZZ", "1234", "ABCD"):
        candidate = format_code(data + check_symbol(data))
        if candidate not in issued:
            break
    r = checkin(
        invoke,
        trial,
        2,
        "--code",
        candidate,
        "--rate",
        "mood=5",
        "--rate",
        "anxiety=3",
        "--guess",
        "placebo",
        "--confidence",
        "60",
    )
    assert (
        r.exit_code == 1
        and r.stderr.startswith("Error: ")
        and "not a code of this trial" in r.stderr
    )


@pytest.mark.parametrize(
    "when, now, message",
    [
        (-1, 0, f"Error: the trial starts on {START}; nothing can be recorded for {day(-1)}\n"),
        (3, 2, f"Error: {day(3)} is in the future (today is {day(2)}); check --date\n"),
        (10, 12, f"Error: the trial ended on {day(9)}; nothing can be recorded for {day(10)}\n"),
    ],
)
def test_dates_outside_the_trial(
    trial: Path, invoke: Invoke, when: int, now: int, message: str
) -> None:
    r = checkin(invoke, trial, when, "--rate", "mood=5", "--rate", "anxiety=3", now_day=now)
    assert r.exit_code == 1 and r.stderr == message


def test_bad_date_is_a_usage_error(trial: Path, invoke: Invoke) -> None:
    r = invoke(["checkin", "--trial", str(trial), "--date", "yesterday"])
    assert r.exit_code == 2 and "is not a date; use YYYY-MM-DD" in r.stderr


def test_mistyped_trial_path_creates_nothing(tmp_path: Path, invoke: Invoke) -> None:
    missing = tmp_path / "tiral"
    r = invoke(["status", "--trial", str(missing)])
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: {missing}: no trial here")
    assert not missing.exists()
    r = invoke(["checkin", "--trial", str(tmp_path), "--rate", "mood=1"])
    assert r.exit_code == 1 and "not a blindself trial" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_status_json_reveals_no_arm(trial: Path, invoke: Invoke) -> None:
    r = invoke(["status", "--trial", str(trial), "--json"], with_clock(make_context(), at(day(3))))
    data = json.loads(r.stdout)
    assert set(data) >= {"trial", "day", "days_total", "checked_in", "missed", "next", "unblinded"}
    assert data["day"] == 4 and data["days_total"] == 10 and data["missed"] == 3
    assert "active" not in r.stdout and "placebo" not in r.stdout


# ------------------------------------------------------------------ unblinding
def test_unblind_too_early_wrong_passphrase_then_result(trial: Path, invoke: Invoke) -> None:
    run_whole_trial(invoke, trial)
    before_last = at(day(8))
    before = db_dump(trial / "trial.db")
    r = invoke(["unblind", "--trial", str(trial)], with_clock(make_context(), before_last), env=ENV)
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: the trial runs until {day(9)}; unblinding opens once the check-in of {day(9)} "
        f"is recorded, or on {day(10)} (or use --early --reason TEXT)\n"
    )
    after = with_clock(make_context(), at(day(10)))
    r = invoke(
        ["unblind", "--trial", str(trial)], after, env={"BLINDSELF_PASSPHRASE": "wrong passphrase!"}
    )
    assert r.exit_code == 1 and r.stderr.startswith("Error: ")
    assert db_dump(trial / "trial.db") == before
    assert not (trial / "report").exists()
    r = invoke(["unblind", "--trial", str(trial)], after, env=ENV)
    assert r.exit_code == 0, r.output
    report = json.loads((trial / "report" / "report.json").read_text())
    assert report["schema"] == "blindself-report/1"
    c = report["outcomes"][0]["contrasts"][0]
    # The simulated person rated 3 points higher on active days (5/6 vs 8/9 alternating).
    assert c["estimate"] == pytest.approx(3.0, abs=0.6)
    assert report["adherence"]["checked_in"] == 10
    assert report["blinding"]["table"]["placebo"] == {"active": 4, "placebo": 4}
    genesis = json.loads(db_dump(trial / "trial.db")[0][3])
    assert report["trial"]["commitment"] == genesis["commitment"]
    # Idempotent: a second unblind adds no entry.
    n = len(db_dump(trial / "trial.db"))
    r2 = invoke(["unblind", "--trial", str(trial)], after, env=ENV)
    assert r2.exit_code == 0 and "Already unblinded" in r2.stdout
    assert len(db_dump(trial / "trial.db")) == n
    # Trial days are closed now.
    r3 = checkin(
        invoke,
        trial,
        9,
        "--code",
        code_for(sheet_of(trial), 8),
        "--rate",
        "mood=1",
        "--rate",
        "anxiety=1",
        "--guess",
        "unsure",
        now_day=10,
    )
    assert r3.exit_code == 1 and "unblinded" in r3.stderr


def test_unblind_early_needs_a_reason(trial: Path, invoke: Invoke) -> None:
    r = invoke(["unblind", "--trial", str(trial), "--early"], make_context(), env=ENV)
    assert r.exit_code == 1
    assert r.stderr == "Error: --early needs --reason TEXT (it is logged and shown in the report)\n"


def test_unblind_with_recovery_key_and_published_commitment(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    t = tmp_path / "t"
    key_file = tmp_path / "recovery.txt"
    r = init_trial_cli(
        invoke, protocol_file, t, make_context(), "--recovery-key-file", str(key_file)
    )
    assert r.exit_code == 0 and "Recovery key written to" in r.stdout
    commitment = json.loads(db_dump(t / "trial.db")[0][3])["commitment"]
    run_whole_trial(invoke, t)
    after = with_clock(make_context(), at(day(10)))
    bad = "0" * 64
    r = invoke(
        [
            "unblind",
            "--trial",
            str(t),
            "--recovery-key-file",
            str(key_file),
            "--expect-commitment",
            bad,
        ],
        after,
    )
    assert (
        r.exit_code == 3
        and "the commitment you gave differs from the one recorded at init" in r.stderr
    )
    r = invoke(
        [
            "unblind",
            "--trial",
            str(t),
            "--recovery-key-file",
            str(key_file),
            "--expect-commitment",
            commitment,
        ],
        after,
    )
    assert r.exit_code == 0, r.output
    assert "matches the published value" in r.stdout


def test_analyze_on_the_export_reproduces_unblind(
    trial: Path, invoke: Invoke, tmp_path: Path
) -> None:
    run_whole_trial(invoke, trial)
    after = with_clock(make_context(), at(day(10)))
    assert invoke(["unblind", "--trial", str(trial)], after, env=ENV).exit_code == 0
    report = json.loads((trial / "report" / "report.json").read_text())
    r = invoke(
        [
            "analyze",
            str(trial / "report" / "data.csv"),
            "--arm-column",
            "arm",
            "--active",
            "active",
            "--placebo",
            "placebo",
            "--outcomes",
            "mood,anxiety",
            "--json",
        ]
    )
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    for a, b in zip(report["outcomes"], again["outcomes"], strict=True):
        ca, cb = a["contrasts"][0], b["contrasts"][0]
        assert cb["estimate"] == pytest.approx(ca["estimate"])
        assert cb["p_randomization"] == pytest.approx(ca["p_randomization"])
        assert cb["classical"]["p"] == pytest.approx(ca["classical"]["p"])
        assert cb["ar1"]["estimate"] == pytest.approx(ca["ar1"]["estimate"], rel=1e-6)


def test_clock_going_backwards_is_accepted_and_flagged(trial: Path, invoke: Invoke) -> None:
    """T-30: a check-in made when the clock reads earlier than a previous one is kept, in seq
    order, with a clock-regression anomaly flag."""
    sheet = sheet_of(trial)
    assert (
        checkin(
            invoke,
            trial,
            3,
            "--code",
            code_for(sheet, 2),
            "--rate",
            "mood=5",
            "--rate",
            "anxiety=3",
            "--guess",
            "unsure",
            now_day=5,
        ).exit_code
        == 0
    )
    r = checkin(
        invoke,
        trial,
        2,
        "--code",
        code_for(sheet, 1),
        "--rate",
        "mood=5",
        "--rate",
        "anxiety=3",
        "--guess",
        "unsure",
        now_day=4,
    )
    assert r.exit_code == 0
    rows = db_dump(trial / "trial.db")
    assert json.loads(rows[-1][3])["anomaly"] == ["clock-regression"]
    assert "anomaly" not in json.loads(rows[-2][3])


def test_verify_checks_the_published_commitment(trial: Path, invoke: Invoke) -> None:
    genesis = json.loads(db_dump(trial / "trial.db")[0][3])
    ok = invoke(["verify", "--trial", str(trial), "--expect-commitment", genesis["commitment"]])
    assert ok.exit_code == 0 and "commitment: matches the published value" in ok.stdout
    bad = invoke(["verify", "--trial", str(trial), "--expect-commitment", "ab" * 32])
    assert bad.exit_code == 3
    assert bad.stderr.startswith("Error: the commitment does not match")
    run_whole_trial(invoke, trial)
    after = with_clock(make_context(), at(day(10)))
    assert invoke(["unblind", "--trial", str(trial)], after, env=ENV).exit_code == 0
    r = invoke(["verify", "--trial", str(trial)], after)
    assert r.exit_code == 0
    assert "commitment: the revealed allocation matches the value recorded at init" in r.stdout


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_analyze_on_an_export_with_a_missed_day(
    tmp_path: Path, invoke: Invoke, blinding: str
) -> None:
    """A missed dose day keeps its row (empty ratings) in data.csv, so blocks stay complete and
    analyze reproduces unblind; confidence and taken are never taken for outcomes."""
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    t = tmp_path / "t"
    assert init_trial_cli(invoke, protocol, t, make_context()).exit_code == 0
    sheet = sheet_of(t)
    if blinding == "self":  # the participant opens envelopes in sorted order within each bag
        bags: dict[int, list[str]] = {}
        for c in sorted(sheet["containers"], key=lambda c: c["code"]):
            bags.setdefault(c["block"], []).append(c["code"])
        codes = [code for b in sorted(bags) for code in bags[b]]
    else:
        codes = [code_for(sheet, p) for p in range(1, 9)]
    for n in range(10):
        if n == 5:
            continue  # a forgotten dose day: its period has no check-in at all
        rate = ["--rate", f"mood={4 + n % 4}", "--rate", f"anxiety={2 + n % 3}"]
        extra = [] if n < 2 else ["--code", codes[n - 2], "--guess", "unsure"]
        assert checkin(invoke, t, n, *rate, *extra).exit_code == 0
    after = with_clock(make_context(), at(day(10)))
    assert invoke(["unblind", "--trial", str(t)], after, env=ENV).exit_code == 0
    report = json.loads((t / "report" / "report.json").read_text())
    data = (t / "report" / "data.csv").read_text()
    assert f"{day(5)},dose," in data and ",missed," in data
    r = invoke(
        [
            "analyze",
            str(t / "report" / "data.csv"),
            "--arm-column",
            "allocation_arm",  # the self-mode missed period has no container: empty arm
            "--active",
            "active",
            "--placebo",
            "placebo",
            "--json",
        ]
    )
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert [o["name"] for o in again["outcomes"]] == ["mood", "anxiety"]
    for a, b in zip(report["outcomes"], again["outcomes"], strict=True):
        assert b["contrasts"][0]["estimate"] == pytest.approx(a["contrasts"][0]["estimate"])
        assert b["contrasts"][0]["p_randomization"] == pytest.approx(
            a["contrasts"][0]["p_randomization"]
        )


def test_the_short_head_printed_by_checkin_anchors_verify(trial: Path, invoke: Invoke) -> None:
    r = full_checkin(invoke, trial, 0, sheet_of(trial))
    short = r.stdout.split("head ")[1].rstrip(")\n")
    assert len(short.split(":")[1]) == 16
    ok = invoke(["verify", "--trial", str(trial), "--expect-head", short])
    assert ok.exit_code == 0 and "entries 1..2 match the expected head" in ok.stdout
    seq, hexpart = short.split(":")
    wrong = f"{seq}:{'0' if hexpart[0] != '0' else '1'}{hexpart[1:]}"
    bad = invoke(["verify", "--trial", str(trial), "--expect-head", wrong])
    assert bad.exit_code == 4 and "differs from the anchored head" in bad.stdout
    assert "1 of its 16 hex digits differs, which points to a copying mistake" in bad.stdout


def test_init_warns_about_a_past_start_and_an_unreachable_alpha(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    # The small protocol has 4 blocks of 2: 16 allocations, smallest two-sided p 2/16.
    later = with_clock(make_context(), at(day(20)))
    r = init_trial_cli(invoke, protocol_file, tmp_path / "t", later)
    assert r.exit_code == 0
    assert f"Warning: the trial starts in the past ({START})" in r.stderr
    assert "Warning: this design cannot reach p <= 0.05 (smallest p 0.125); add blocks" in r.stderr


def test_init_without_a_sheet_warns_that_nobody_can_fill_the_containers(
    tmp_path: Path, protocol_file: Path, invoke: Invoke
) -> None:
    """F20: `--no-sheet` made a real trial whose containers nobody could ever fill (no command
    writes the sheet later) and still said "Next: prepare the containers"."""
    r = invoke(
        ["init", str(protocol_file), str(tmp_path / "t"), "--no-sheet"], make_context(), env=ENV
    )
    assert r.exit_code == 0, r.output
    assert "Warning: --no-sheet" in r.stderr
    assert "no command can write it later" in r.stderr
    assert "prepare the containers" not in r.stdout


def test_a_backup_holds_the_whole_trial_and_restores_by_copying(
    trial: Path, tmp_path: Path, invoke: Invoke
) -> None:
    """F20: the backup left out preregistration.md, and no document said how to restore.  The
    README's procedure: copy the backup folder back as the trial folder and run verify."""
    assert checkin(invoke, trial, 0, "--rate", "mood=6", "--rate", "anxiety=3").exit_code == 0
    r = invoke(["backup", "--trial", str(trial), "-o", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.output
    kept = {p.name for p in trial.iterdir() if p.is_file() and not p.name.startswith("trial.db-")}
    assert {p.name for p in (tmp_path / "bk").iterdir()} == kept
    assert (tmp_path / "bk" / "preregistration.md").read_bytes() == (
        trial / "preregistration.md"
    ).read_bytes()
    restored = tmp_path / "restored"
    import shutil

    shutil.copytree(tmp_path / "bk", restored)
    v = invoke(["verify", "--trial", str(restored)])
    assert v.exit_code == 0, v.output
    assert "hash chain intact" in v.stdout
    again = checkin(invoke, restored, 1, "--rate", "mood=5", "--rate", "anxiety=3")
    assert again.exit_code == 0, again.output
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "blindself backup" in readme and "Restoring" in readme
