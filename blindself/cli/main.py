"""The ``blindself`` command group and its error handling.

It registers every family's commands and is the one place that turns a ``BlindselfError``
into one ``Error:`` line.
"""

from __future__ import annotations

import errno
from typing import Any

import click

from blindself import __version__
from blindself.cli import analysis, checkin, daily, pooling, setup, unblinding
from blindself.cli.options import internal_error, one_line
from blindself.errors import BlindselfError


class BlindselfGroup(click.Group):
    """Turns every BlindselfError into one ``Error:`` line with its exit status."""

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


for _family in (setup, checkin, daily, unblinding, analysis, pooling):
    for _command in _family.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="blindself")
    except Exception as exc:  # outside a command (start-up, --version): the same contract
        internal_error(exc)
