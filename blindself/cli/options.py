"""What several command families share.

Parameter types, the ``--trial`` option, dates, secrets (passphrase and key files),
output files, and the services context a command hands to its use case.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from blindself.errors import BlindselfError
from blindself.wording import count

if TYPE_CHECKING:
    # --help and usage errors never need the services: imported where a command runs.
    from blindself.services.context import Context


F = TypeVar("F", bound=Callable[..., Any])


MAX_SECRET_FILE = 4096


EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h


def internal_error(exc: BaseException) -> NoReturn:
    """A bug: one line and exit 70 (EX_SOFTWARE), never a traceback unless asked for.

    A traceback's frames can hold trial data (ratings, codes, before unblinding the
    allocation), so it is shown only with BLINDSELF_DEBUG=1.
    """
    if os.environ.get("BLINDSELF_DEBUG") == "1":
        raise exc
    click.echo(
        f"Error: internal error ({type(exc).__name__}); this is a bug in blindself, please "
        "report it (BLINDSELF_DEBUG=1 shows the traceback)",
        err=True,
    )
    sys.exit(EXIT_INTERNAL)


class BoundedInt(click.ParamType[int]):
    """A whole number in [lo, hi]; refuses long input without echoing it back."""

    name = "integer"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            if len(text) > 12 or not text.lstrip("+-").isdigit():
                # Named, but cut and made printable: long input is never echoed back whole.
                shown = "".join(c if c.isprintable() else "?" for c in text[:12])
                shown += "..." if len(text) > 12 else ""
                self.fail(f"{shown!r} is not a whole number {self.lo}-{self.hi}", param, ctx)
            number = int(text)
        if not self.lo <= number <= self.hi:
            self.fail(f"{number} is not in {self.lo}-{self.hi}", param, ctx)
        return number


def one_line(text: str) -> str:
    return " ".join(text.split())


def service_context(ctx: click.Context) -> Context:
    from blindself.services.context import Context

    obj = ctx.find_root().obj
    if isinstance(obj, Context):
        return obj
    made = _default_context()
    ctx.find_root().obj = made
    return made


def _default_context() -> Context:
    from blindself.services.context import Context

    if os.environ.get("BLINDSELF_TEST_KDF") == "1":
        from blindself.trial.seal.format import TEST_KDF

        # Test suites only: a seal made with this is cheap to brute-force.
        return Context(kdf=TEST_KDF)
    return Context()


def trial_option(f: F) -> F:
    return click.option(
        "--trial",
        "trial_dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="BLINDSELF_TRIAL",
        default=".",
        show_default="BLINDSELF_TRIAL, else the current directory",
        help="The trial directory.",
    )(f)


def echo_stop_rules(rules: Iterable[Any]) -> None:
    """Each protocol stop rule a recorded value met, and the two ways to stop (stderr)."""
    for rule in rules:
        click.echo(
            f"STOP RULE MET: {rule.outcome} reached {rule.threshold:g} on {count(rule.days, 'day')}. "
            f"{rule.message} To stop, run: blindself unblind --early --reason TEXT, or open one "
            "container with blindself codebreak CODE --reason TEXT; to take days off and go on "
            "later: blindself pause --days N --reason TEXT.",
            err=True,
        )


# A file path a command reads or writes (never a directory).
FILE = click.Path(path_type=Path, dir_okay=False)


def output_option(help: str) -> Callable[[F], F]:
    """``-o/--output FILE``: where a command writes (to stdout without it)."""
    return click.option("-o", "--output", type=FILE, help=help)


def json_option(help: str = "Machine-readable output.") -> Callable[[F], F]:
    """``--json``: print the machine-readable form (``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def seal_key_options(f: F) -> F:
    """``--passphrase-file`` and ``--recovery-key-file``: the two ways to open the seal."""
    f = click.option(
        "--recovery-key-file",
        type=FILE,
        help="Open the seal with the recovery (or helper) key in this file.",
    )(f)
    return click.option(
        "--passphrase-file", type=FILE, help="Read the passphrase from the first line of this file."
    )(f)


def parse_date(value: str | None, option: str = "--date") -> date | None:
    if value is None:
        return None
    from blindself.trial.checkins import parse_day

    try:
        return parse_day(value)  # the one rule, shared with the web form
    except ValueError:
        raise click.BadParameter(
            f"{value[:20]!r} is not a date; use YYYY-MM-DD", param_hint=option
        ) from None


# --------------------------------------------------------------------------- init
def read_secret_file(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--passphrase-file"
        ) from exc
    if len(raw) > MAX_SECRET_FILE:
        raise click.BadParameter(
            f"{path} is too large for a passphrase file", param_hint="--passphrase-file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter(
            f"{path} is not UTF-8 text", param_hint="--passphrase-file"
        ) from None
    return text.splitlines()[0] if text.strip() else ""


def interactive() -> bool:
    """Whether a person at a terminal can be asked (prompts, confirmations).

    Commands call it as ``options.interactive()`` so tests can stand in for a terminal.
    """
    return sys.stdin.isatty()


def read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        return read_secret_file(passphrase_file)
    env = os.environ.get("BLINDSELF_PASSPHRASE")
    if env:
        return env
    if not interactive():
        raise BlindselfError(
            "no passphrase: run on a terminal to be asked, or give --passphrase-file FILE "
            "or the BLINDSELF_PASSPHRASE variable"
        )
    check = None
    if confirm:
        # A new passphrase: the rules are checked at the first prompt, so a too-short one is
        # explained and asked again before it is typed twice (issue 16).
        from blindself.trial.seal.crypto import passphrase_problem

        def check(value: str) -> str:
            problem = passphrase_problem(value)
            if problem is not None:
                raise click.BadParameter(problem[0].upper() + problem[1:] + ".")
            return value

    value: str = click.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True, value_proc=check
    )
    return value


def emit(text: str, output: Path | None, *, note: str = "") -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        # Exports and reports hold personal data: private to the user, never overwritten.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BlindselfError(f"{output} exists; choose a new file name") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    click.echo(f"Wrote {output}{note}", err=True)
