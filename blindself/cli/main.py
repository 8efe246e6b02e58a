"""The ``blindself`` command group and its error handling.

It registers every family's commands and is the one place that turns a ``BlindselfError``
into one ``Error:`` line.
"""

from __future__ import annotations

import errno
import gc
import importlib
from typing import Any

import click

from blindself import __version__
from blindself.cli.options import internal_error, one_line
from blindself.errors import BlindselfError

# The family module of every command.  A family is imported when one of its commands runs
# (``blindself status`` loads the daily family alone) or when --help lists them all;
# tests/test_cli.py checks this table against each family's COMMANDS.
FAMILIES = {
    "templates": "setup", "new": "setup", "plan": "setup", "power": "setup", "init": "setup",
    "demo": "setup",
    "checkin": "checkin", "correct": "checkin", "import": "importing",
    "pause": "interruptions", "lost": "interruptions",
    "status": "daily", "calendar": "daily", "export": "daily", "verify": "daily",
    "backup": "daily", "serve": "daily",
    "log": "history",
    "unblind": "unblinding", "codebreak": "unblinding", "report": "unblinding",
    "analyze": "analysis",
    "share": "pooling", "pool": "pooling",
}  # fmt: skip

# What `blindself --help` lists for each command: the first sentence of its help.  The group's
# help page is drawn from this table, so it imports no family (docs/design.md#start-up);
# tests/test_cli.py checks it against every command's own help, at every width.
SUMMARIES = {
    "analyze": "Run the same analysis on data collected elsewhere (one row per day).",
    "backup": "A consistent copy of the trial, safe while it is in use.",
    "calendar": "Check-in days as .ics (default) or a printable page (-o FILE.html); no arm "
    "information.",
    "checkin": "Record a day: the code taken, your ratings and your guess.",
    "codebreak": "Open one container CODE in an emergency (logged; its block partners are "
    "flagged).",
    "correct": "Correct two days whose container codes were typed the wrong way round, in one "
    "step.",
    "demo": "Run a complete simulated trial and write its report.",
    "export": "Tidy data; arms appear only after unblinding.",
    "import": "Bring dated values from another app's CSV export into the log, with their source.",
    "init": "Draw and seal the allocation of PROTOCOL and create the trial in DIRECTORY.",
    "log": "Past days: date, code, ratings, guess, note, corrections and flags (missed, wrong bag, "
    "other day's container, no capsule, code-break).",
    "lost": "Record a lost or damaged container (not a dose, not a missed day) and say what to do "
    "next: a replacement of the same code (helper mode), or nothing more for its period (self "
    "mode).",
    "new": "Copy a shipped protocol TEMPLATE to PATH to edit it.",
    "pause": "Take days out of the trial (illness, travel); the rest of the calendar moves past "
    "them.",
    "plan": "Validate PROTOCOL; show its calendar, containers and attainable p-value.",
    "pool": "Pooled analysis across participants: bundles from `share` (*.json) or one long CSV.",
    "power": "Simulated power of the design's own randomization test.",
    "report": "Re-render the report of an unblinded trial.",
    "serve": "Check in from a phone or browser: a local web app until Ctrl-C.",
    "share": "After unblinding: a bundle of the trial to pool with others.",
    "status": "Progress and today's instruction (reveals no arm).",
    "templates": "List the shipped protocol templates.",
    "unblind": "Open the seal, verify the commitment, close the log and analyse.",
    "verify": "Check the log's hash chain, the protocol and the seal (and the commitment after "
    "unblinding).",
}

# Commands that read one trial's log or append one entry and exit: they run with the garbage
# collector paused by the console script (blindself.cli.start, docs/design.md#start-up).
# Every other command (the analyses, the web server, simulations) gets it back first, with a
# young generation of YOUNG_OBJECTS: at the default 700 the collector ran 130 to 250 times
# while numpy, scipy and matplotlib load and draw `analyze` and `report` of the demo trial; at
# 50,000 it runs 15 to 20 times (about 5 % of `report`), and a cycle left behind still waits
# for at most 50,000 allocations.
SHORT_LIVED = frozenset(
    [
        "status",
        "checkin",
        "correct",
        "log",
        "pause",
        "lost",
        "calendar",
        "export",
        "verify",
        "backup",
        "templates",
        "new",
    ]
)
YOUNG_OBJECTS = 50_000


class BlindselfGroup(click.Group):
    """Turns every BlindselfError into one ``Error:`` line with its exit status, and loads
    each family of commands when it is first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *FAMILIES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        family = FAMILIES.get(cmd_name)
        if family is not None and cmd_name not in self.commands:
            load_family(self, family)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name not in SHORT_LIVED:
            gc.set_threshold(YOUNG_OBJECTS)
            gc.enable()
        return name, command, rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, its summaries taken from SUMMARIES (no family is imported);
        a command missing there is loaded and asked, as click would."""
        rows = []
        for name in self.list_commands(ctx):
            summary = SUMMARIES.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = command.get_short_help_str(limit=1 << 16)
            rows.append((name, summary))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, shorten(text, limit)) for name, text in rows])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlindselfError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted; nothing more was recorded", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (`| head -1`): click's main exits quietly (review F12)
            # Not "nothing was recorded": output can fail after a commit (stdout on a full
            # disk); the store's own errors say when nothing was recorded.
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"Error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(1)
        except Exception as exc:
            internal_error(exc)


@click.group(cls=BlindselfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blindself")
def cli() -> None:
    """Run a real placebo-controlled, blinded trial on yourself.

    Typical flow: blindself new TEMPLATE; edit it; blindself init PROTOCOL DIR --sheet FILE;
    blindself checkin every day; blindself unblind at the end.
    """


def shorten(summary: str, limit: int) -> str:
    """A summary cut to ``limit`` characters the way click cuts a command's short help."""
    if len(summary) <= limit:
        return summary
    if limit < len("..."):
        return "..."
    import textwrap  # what click's own help formatting imports

    return textwrap.shorten(summary, limit, placeholder="...", break_on_hyphens=False)


def load_family(group: click.Group, family: str) -> None:
    """Register every command of ``blindself.cli.<family>`` on ``group``."""
    for command in importlib.import_module(f"blindself.cli.{family}").COMMANDS:
        group.add_command(command)


def all_commands() -> dict[str, click.Command]:
    """Every command, each family loaded (for tests and documentation)."""
    for family in sorted(set(FAMILIES.values())):
        load_family(cli, family)
    return dict(cli.commands)


def main() -> None:
    try:
        cli(prog_name="blindself")
    except Exception as exc:  # outside a command (start-up, --version): the same contract
        internal_error(exc)
