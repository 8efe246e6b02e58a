"""The ``blindself`` command group and its error handling.

It registers every family's commands and is the one place that turns a ``BlindselfError``
into one ``Error:`` line.
"""

from __future__ import annotations

import errno
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
