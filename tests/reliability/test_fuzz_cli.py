"""No traceback ever reaches a user (issue 11 item 3): hypothesis over argument lists.

Every command gets argument lists drawn from its own option names, plausible and absurd
values (dates at the ends of the calendar, huge and negative numbers, control characters,
paths that exist, do not exist or are files).  Whatever the arguments, the CLI must end
with an exit status other than 70 (the internal-error status) and print no traceback.
In-process (CliRunner) and cheap: a small trial made once, the test KDF.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import click
from click.testing import CliRunner
from helpers import PASSPHRASE, SMALL_PROTOCOL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.support import make_small_trial

from blindself.cli.main import all_commands, cli

EXAMPLES = int(os.environ.get("BLINDSELF_FUZZ_EXAMPLES", "150"))
# demo runs a whole simulated trial per call and serve runs a server until stopped (a valid
# argument list never returns); both have their own tests.
COMMANDS = sorted(name for name in all_commands() if name not in ("demo", "serve"))

_BASE = Path(tempfile.mkdtemp(prefix="blindself-fuzz-"))
_TRIAL, _SHEET = make_small_trial(_BASE)
_PROTOCOL = _BASE / "trial-protocol.toml"
_FILE = _BASE / "plain.txt"
_FILE.write_text("not a trial\n")
_CSV = _BASE / "d.csv"
_CSV.write_text("date,arm,guess,mood\n2026-01-01,A,A,5\n2026-01-02,B,dunno,x\n")
(_BASE / "bad.toml").write_text(SMALL_PROTOCOL.replace("blocks = 4", "blocks = -1"))

VALUES = st.one_of(
    st.sampled_from(
        [
            str(_TRIAL),
            str(_PROTOCOL),
            str(_FILE),
            str(_CSV),
            str(_BASE / "bad.toml"),
            str(_BASE / "missing"),
            str(_BASE),
            "-",
            "",
            "9999-12-25",
            "0001-01-01",
            "2026-03-04",
            "2026-02-30",
            "2026-03-02",
            "mood=5",
            "mood=9007199254740993",
            "mood=1e308",
            "mood=nan",
            "mood=-1",
            "x=1",
            "0",
            "-1",
            "2",
            "9" * 30,
            "1e400",
            "nan",
            "active",
            "placebo",
            "unsure",
            "dunno",
            "html",
            "json",
            "csv",
            "md",
            "text",
            "K7M2-X",
            "k7m2x",
            "\x1b[2J",
            "é\u202e",
            "weekly-crossover",
            "microdosing-resilience",
            "1:" + "0" * 64,
            *(c["code"] for c in _SHEET["containers"][:2]),
        ]
    ),
    # A real argv cannot hold NUL (the OS ends a C string there), nor a lone surrogate such as
    # U+D800 (Python decodes argv with surrogateescape: only U+DC80-U+DCFF); CliRunner could.
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12),
)


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(COMMANDS))
    command = all_commands()[name]
    options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
    tokens = st.one_of(st.sampled_from(options or ["--help"]), VALUES)
    return [name, *draw(st.lists(tokens, max_size=8))]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(args=argv())
def test_no_argument_list_ends_in_a_traceback(args: list[str]) -> None:
    env = {"BLINDSELF_TEST_KDF": "1", "BLINDSELF_PASSPHRASE": PASSPHRASE, "BLINDSELF_DEBUG": ""}
    env["BLINDSELF_TRIAL"] = str(_TRIAL)
    with contextlib.chdir(_BASE):
        result = CliRunner().invoke(cli, args, env=env, input="")
    shown = result.output
    assert result.exit_code != 70, (args, shown)
    assert "Traceback" not in shown, (args, shown)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
