"""The command line: parse, make one services call, echo.  The only module importing click."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from blindself import __version__
from blindself.errors import BlindselfError, CommitmentMismatch

if TYPE_CHECKING:
    # --help and usage errors never need the services: imported where a command runs.
    from blindself.services.context import Context

F = TypeVar("F", bound=Callable[..., Any])

MAX_SECRET_FILE = 4096
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h


class BlindselfGroup(click.Group):
    """Turns every BlindselfError into one ``Error:`` line with its exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlindselfError as exc:
            click.echo(f"Error: {_one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted; nothing more was recorded", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            # Not "nothing was recorded": output can fail after a commit (stdout on a full
            # disk); the store's own errors say when nothing was recorded.
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"Error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(1)
        except Exception as exc:
            internal_error(exc)


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
                self.fail(f"is not a whole number {self.lo}-{self.hi}", param, ctx)
            number = int(text)
        if not self.lo <= number <= self.hi:
            self.fail(f"{number} is not in {self.lo}-{self.hi}", param, ctx)
        return number


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _context(ctx: click.Context) -> Context:
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


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_date(value: str | None, option: str = "--date") -> date | None:
    if value is None:
        return None
    try:
        # Python also reads 20260302 and 2026-W10-1 as dates; only the documented form counts.
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value[:20]!r} is not a date; use YYYY-MM-DD", param_hint=option
        ) from None


@click.group(cls=BlindselfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blindself")
def cli() -> None:
    """Run a real placebo-controlled, blinded trial on yourself.

    Typical flow: blindself new TEMPLATE; edit it; blindself init PROTOCOL DIR --sheet FILE;
    blindself checkin every day; blindself unblind at the end.
    """


# --------------------------------------------------------------------------- protocols
@cli.command()
def templates() -> None:
    """List the shipped protocol templates."""
    from blindself.services.setup import list_templates

    for t in list_templates():
        click.echo(f"{t.name:<28} {t.title}")
        if t.summary:
            click.echo(f"{'':<28} {t.summary.splitlines()[0]}")


@cli.command()
@click.argument("template")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def new(template: str, path: Path | None) -> None:
    """Copy a shipped protocol TEMPLATE to PATH to edit it."""
    from blindself.services.setup import copy_template

    target = copy_template(template, path)
    click.echo(f"Wrote {target}. Edit it, then: blindself plan {target}")


@cli.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--start", help="First day (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plan(ctx: click.Context, protocol: Path, start: str | None, as_json: bool) -> None:
    """Validate PROTOCOL; show its calendar, containers and attainable p-value."""
    from blindself.services.planning import plan_protocol

    result = plan_protocol(protocol, _parse_date(start, "--start"), _context(ctx))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.text())


@cli.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--effect", type=float, required=True, help="Effect to detect, in rating points.")
@click.option(
    "--sd", type=float, required=True, help="Day-to-day standard deviation of the rating."
)
@click.option(
    "--rho", type=float, default=0.3, show_default=True, help="Day-to-day AR(1) correlation."
)
@click.option("--sims", type=BoundedInt(10, 100_000), default=1000, show_default=True)
@click.option(
    "--seed",
    type=BoundedInt(0, 2**32 - 1),
    help="Seed of the simulation, to reproduce a figure exactly (default: fresh entropy).",
)
@click.option("--json", "as_json", is_flag=True)
def power(
    protocol: Path, effect: float, sd: float, rho: float, sims: int, seed: int | None, as_json: bool
) -> None:
    """Simulated power of the design's own randomization test."""
    from blindself.services.planning import simulate_power

    if not math.isfinite(effect):
        raise click.BadParameter("must be a finite number of rating points", param_hint="--effect")
    if not (math.isfinite(sd) and sd > 0):
        raise click.BadParameter("must be positive", param_hint="--sd")
    if not -0.99 < rho < 0.99:
        raise click.BadParameter("must lie in (-0.99, 0.99)", param_hint="--rho")
    with click.progressbar(length=sims, label="simulating", file=sys.stderr) as bar:
        result = simulate_power(
            protocol, effect=effect, sd=sd, rho=rho, sims=sims, progress=bar.update, seed=seed
        )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.text())


# --------------------------------------------------------------------------- init
def _read_secret_file(path: Path) -> str:
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


def _passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        return _read_secret_file(passphrase_file)
    env = os.environ.get("BLINDSELF_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        raise BlindselfError(
            "no passphrase: run on a terminal to be asked, or give --passphrase-file FILE "
            "or the BLINDSELF_PASSPHRASE variable"
        )
    value: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return value


@cli.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--start", help="First day of the trial (YYYY-MM-DD); default today.")
@click.option(
    "--sheet",
    "sheets",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Preparation sheet to write (.html to print, .json for scripts); repeatable.",
)
@click.option("--no-sheet", is_flag=True, help="Write no preparation sheet.")
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the passphrase from the first line of this file.",
)
@click.option(
    "--generate-passphrase", is_flag=True, help="Make a strong passphrase and print it once."
)
@click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the recovery key to this file instead of the terminal.",
)
@click.option(
    "--helper-key", is_flag=True, help="Also make a key for a helper (a third unlock path)."
)
@click.option(
    "--expectation",
    type=BoundedInt(0, 100),
    help="How much you expect it to help, 0-100 (a covariate, asked before day one).",
)
@click.pass_context
def init(
    ctx: click.Context,
    protocol: Path,
    directory: Path,
    start: str | None,
    sheets: tuple[Path, ...],
    no_sheet: bool,
    passphrase_file: Path | None,
    generate_passphrase: bool,
    recovery_key_file: Path | None,
    helper_key: bool,
    expectation: int | None,
) -> None:
    """Draw and seal the allocation of PROTOCOL and create the trial in DIRECTORY."""
    from blindself.services.setup import init_trial
    from blindself.trial.seal.crypto import generate_passphrase as make_passphrase

    c = _context(ctx)
    if generate_passphrase:
        if passphrase_file is not None:
            raise click.BadParameter("use either --generate-passphrase or --passphrase-file")
        passphrase = make_passphrase(c.other)
    else:
        passphrase = _passphrase(passphrase_file, confirm=True)
    result = init_trial(
        protocol,
        directory,
        passphrase=passphrase,
        ctx=c,
        start=_parse_date(start, "--start"),
        sheets=sheets,
        no_sheet=no_sheet,
        recovery_key_file=recovery_key_file,
        with_helper_key=helper_key,
        expectation=expectation,
    )
    cal = result.calendar
    click.echo(f"Trial {result.trial_id} created in {result.directory}")
    click.echo(f"  {result.protocol.title}")
    click.echo(f"  {len(cal.days)} days, {cal.start} to {cal.end}; {cal.n_periods} containers")
    click.echo("Commitment (publish it now, e.g. in a dated post, to pre-register the trial):")
    click.echo(f"  {result.commitment}")
    click.echo(f"Log head: {result.head}")
    click.echo(
        "  (it proves only that entry 1, the trial's setup, is unchanged; every check-in prints "
        "a newer head, and `blindself verify --anchor` prints one to keep outside this computer)"
    )
    if generate_passphrase:
        click.echo("Passphrase (shown once; write it down, it opens the seal at the end):")
        click.echo(f"  {passphrase}")
    if result.recovery_key:
        click.echo("Recovery key (opens the seal if the passphrase is lost; fold it into a signed")
        click.echo("envelope or give it to a friend, so you do not hold it yourself):")
        click.echo(f"  {result.recovery_key}")
    else:
        click.echo(f"Recovery key written to {result.recovery_key_file}")
    if result.helper_key:
        click.echo("Helper key (give it to your helper; it also opens the seal):")
        click.echo(f"  {result.helper_key}")
    # In self mode the preparer is the participant: the sheet's own steps keep the blind.
    keep = (
        "keep it from the participant"
        if result.protocol.design.blinding == "helper"
        else "fold it as its step 1 says before reading on, and destroy it after sealing"
    )
    for sheet in result.sheets:
        click.echo(f"Preparation sheet: {sheet} (it shows the allocation: {keep})")
    click.echo(f"Pre-registration text to post publicly: {result.preregistration}")
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"Next: prepare the containers, then every day: blindself checkin --trial {result.directory}"
    )


# --------------------------------------------------------------------------- daily
def _parse_rating(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text[:30]!r}: use NAME=VALUE, e.g. mood=7", param_hint="--rate")
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(
            f"{text[:30]!r}: the value must be a number", param_hint="--rate"
        ) from None
    return name.strip(), number


@cli.command()
@trial_option
@click.option("--date", "when", help="The day to record (YYYY-MM-DD); default today.")
@click.option("--code", help="The container's code, e.g. K7M2-X.")
@click.option("--rate", "rates", multiple=True, help="A rating NAME=VALUE; repeatable.")
@click.option("--guess", help="Which arm you think you took, or 'unsure'.")
@click.option(
    "--confidence", type=BoundedInt(50, 100), help="How sure you are of the guess, 50-100 (%)."
)
@click.option(
    "--note", help="A free-text note (with --replace, left out: the recorded note is kept)."
)
@click.option("--no-capsule", is_flag=True, help="You checked in but did not take the container.")
@click.option(
    "--replace", is_flag=True, help="Correct an already recorded day (the original stays)."
)
@click.option("--reason", help="Why you correct it (with --replace).")
@click.pass_context
def checkin(
    ctx: click.Context,
    trial_dir: Path,
    when: str | None,
    code: str | None,
    rates: tuple[str, ...],
    guess: str | None,
    confidence: int | None,
    note: str | None,
    no_capsule: bool,
    replace: bool,
    reason: str | None,
) -> None:
    """Record a day: the code taken, your ratings and your guess.

    On a terminal, asks for whatever is missing (the code first, checked at once);
    otherwise lists what is missing.  With --replace, whatever is left out keeps its
    recorded value.
    """
    from blindself.services.checkin_checks import describe_checkin
    from blindself.services.daily import form_for, record_checkin
    from blindself.trial.checkins import CheckinRequest

    c = _context(ctx)
    day = _parse_date(when)
    ratings: dict[str, float] = {}
    for text in rates:
        name, value = _parse_rating(text)
        if name in ratings:
            raise click.BadParameter(
                f"{name[:30]!r} is given twice; give each rating once", param_hint="--rate"
            )
        ratings[name] = value
    if _interactive():
        form = form_for(trial_dir, day, c)
        day = form.day.date
        a = Asked(code, ratings, guess, confidence, note)
        _prompt_missing(trial_dir, c, form, a, no_capsule, replace)
        code, ratings, guess, confidence, note = a.code, a.ratings, a.guess, a.confidence, a.note
    if day is None:
        day = form_for(trial_dir, None, c).day.date
    req = CheckinRequest(
        date=day,
        code=code,
        ratings=ratings,
        guess=guess,
        confidence=confidence,
        note=note,
        no_capsule=no_capsule,
        replace=replace,
        reason=reason,
    )
    result = record_checkin(trial_dir, req, c)
    e = result.entry
    try:
        if result.status == "already recorded":
            click.echo(f"{e.day}: already recorded (entry {e.seq}); nothing changed")
        else:
            # The head pins entries 1..seq; keeping a copy elsewhere makes it an anchor.
            click.echo(f"{e.day}: {result.status} (entry {e.seq}, head {e.seq}:{e.hash[:16]})")
        if result.previous is not None:
            was = result.previous
            click.echo(f"  was (entry {was.seq}): {describe_checkin(was.payload)}")
            click.echo(f"  now (entry {e.seq}): {describe_checkin(e.payload)}")
        for d in result.deviations:
            click.echo(f"Note: recorded with a deviation flag ({d}); the analysis reports it.")
    except OSError as exc:
        # The entry is committed; say so rather than let the generic handler guess.
        raise BlindselfError(
            f"{e.day} was recorded (entry {e.seq}) but the confirmation could not be printed "
            f"({exc.strerror or exc})"
        ) from exc
    for rule in result.stop_rules:
        click.echo(
            f"STOP RULE MET: {rule.outcome} reached {rule.threshold:g} on {rule.days} day(s). "
            f"{rule.message} To stop, run: blindself unblind --early --reason TEXT, or open one "
            "container with blindself codebreak CODE --reason TEXT.",
            err=True,
        )


def _interactive() -> bool:
    """Whether to ask for what is missing (a person at a terminal)."""
    return sys.stdin.isatty()


class Asked:
    """The check-in fields, filled from the options and then from the prompts."""

    def __init__(
        self,
        code: str | None,
        ratings: dict[str, float],
        guess: str | None,
        confidence: int | None,
        note: str | None,
    ) -> None:
        self.code, self.ratings, self.guess = code, ratings, guess
        self.confidence, self.note = confidence, note


def _ask(question: str, parse: Callable[[str], Any], blank: str, default: str | None = None) -> Any:
    """Ask until ``parse`` accepts the answer; errors and blank answers are explained.

    ``parse`` raises ValueError with a plain sentence; a blank answer takes ``default``
    (shown in brackets) or, without one, says why an answer is needed.
    """
    while True:
        text = click.prompt(question, default=default or "", show_default=bool(default), err=True)
        text = str(text).strip()
        if not text:
            click.echo(blank, err=True)
            continue
        try:
            return parse(text)
        except ValueError as exc:
            click.echo(str(exc), err=True)


def _rating_parser(name: str, lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        shown = text[:20] + ("..." if len(text) > 20 else "")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"{name} is rated {lo:g} to {hi:g}; {shown!r} is not a number"
            ) from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{name} is rated {lo:g} to {hi:g}; you typed {shown}")
        return int(value) if value.is_integer() else value

    return parse


def _choice_parser(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for o in options:
            if text.casefold() == o.casefold():
                return o
        shown = text[:20] + ("..." if len(text) > 20 else "")
        raise ValueError(f"type one of {', '.join(options)}; you typed {shown!r}")

    return parse


def _confidence(text: str) -> int:
    shown = text[:20] + ("..." if len(text) > 20 else "")
    digits = text.removesuffix("%").strip()
    if not digits.isdigit() or not 50 <= int(digits) <= 100:
        raise ValueError(
            f"how sure you are is a whole number from 50 (a coin toss) to 100 (certain); "
            f"you typed {shown}"
        )
    return int(digits)


def _note(text: str) -> str:
    from blindself.trial.checkins import check_free_text

    try:
        check_free_text(text, "the note")
    except BlindselfError as exc:
        raise ValueError(str(exc)) from None
    return text


def _code_parser(trial_dir: Path, c: Context, day: date) -> Callable[[str], str]:
    """Judge a typed code at once (services.checkin_checks), before any rating is asked."""
    from blindself.services.checkin_checks import check_code

    def parse(text: str) -> str:
        verdict = check_code(trial_dir, day, text, c)
        if verdict.status == "refused":
            raise ValueError(f"Not recorded: {verdict.message}")
        if verdict.status == "confirm":
            click.echo(verdict.message, err=True)
            if not click.confirm(f"Record {verdict.code} for {day}?", default=False, err=True):
                raise ValueError("Then type the code of the container you took.")
        return str(verdict.code)

    return parse


def _prompt_missing(
    trial_dir: Path, c: Context, form: Any, a: Asked, no_capsule: bool, replace: bool
) -> None:
    """Ask for what the options left out: the code first, then ratings, guess and a note."""
    from blindself.errors import CheckinError
    from blindself.services.checkin_checks import describe_checkin, recorded_checkin

    day = form.day.date
    old = recorded_checkin(trial_dir, day)
    if old is not None and not replace:
        raise CheckinError(
            f"{day} is already recorded (entry {old.seq}: {describe_checkin(old.payload)}); "
            f"to correct it run: blindself checkin --date {day} --replace --reason TEXT "
            "(what you leave out keeps its recorded value)"
        )
    if old is None and replace:
        raise CheckinError(f"nothing recorded on {day} to replace; drop --replace")
    was: dict[str, Any] = old.payload if old is not None else {}
    click.echo(f"Check-in for {day} ({form.day.day_type} day)", err=True)
    if old is not None:
        click.echo(f"Replacing entry {old.seq}: {describe_checkin(was)}", err=True)
        given = a.code or a.ratings or a.guess or a.confidence or a.note is not None
        if given or no_capsule:
            return  # a targeted correction: what the options leave out keeps its value
        click.echo("Press Enter to keep a recorded value.", err=True)

    def ask_guess() -> None:
        if form.asks_guess and a.guess is None and not no_capsule:
            a.guess = _ask(
                "Which did you take?",
                _choice_parser(form.guess_options),
                f"Type your guess: {', '.join(form.guess_options)} ('unsure' is a fine answer).",
                was.get("guess"),
            )
        if a.guess not in (None, "unsure") and a.confidence is None:
            kept = was.get("confidence") if a.guess == was.get("guess") else None
            a.confidence = _ask(
                "How sure are you (50-100 %)?",
                _confidence,
                "Type how sure you are, from 50 (a coin toss) to 100 (certain).",
                None if kept is None else str(kept),
            )

    if form.needs_code and a.code is None and not no_capsule:
        hint = (
            f" (today: {form.expected_code})"
            if form.expected_code
            else (f" (open any envelope from bag {form.bag})" if form.bag else "")
        )
        from blindself.trial.codes import format_code

        a.code = _ask(
            f"Container code{hint}",
            _code_parser(trial_dir, c, day),
            "Type the code printed on the container (or stop with Ctrl-C and run checkin "
            "--no-capsule if you took none).",
            format_code(was["code"]) if was.get("code") else None,
        )
    if form.guess_first:
        ask_guess()
    for o in form.outcomes:
        if o.name not in a.ratings:
            lo, hi = o.scale
            old_value = (was.get("ratings") or {}).get(o.name)
            a.ratings[o.name] = _ask(
                f"{o.question} [{lo:g}-{hi:g}, {o.better} is better]",
                _rating_parser(o.name, lo, hi),
                f"Type a number from {lo:g} to {hi:g} for {o.name}.",
                None if old_value is None else f"{old_value:g}",
            )
    if not form.guess_first:
        ask_guess()
    while a.note is None:
        text = click.prompt(
            "Note (optional; Enter to skip)" if old is None else "Note (Enter keeps it)",
            default=was.get("note", ""),
            show_default=bool(was.get("note")),
            err=True,
        )
        try:
            a.note = _note(str(text))
        except ValueError as exc:
            click.echo(str(exc), err=True)


@cli.command()
@trial_option
@click.option(
    "--swap",
    nargs=2,
    required=True,
    metavar="DATE1 DATE2",
    help="Exchange the container codes recorded on these two days (and on every other day "
    "of their two periods).",
)
@click.option("--reason", required=True, help="Why the recorded codes were wrong (logged).")
@click.pass_context
def correct(ctx: click.Context, trial_dir: Path, swap: tuple[str, str], reason: str) -> None:
    """Correct two days whose container codes were typed the wrong way round, in one step."""
    from blindself.services.corrections import swap_codes

    first, second = (_parse_date(d, "--swap") for d in swap)
    if first is None or second is None:  # nargs=2 always gives two values
        raise click.BadParameter("give two dates", param_hint="--swap")
    result = swap_codes(trial_dir, first, second, reason, _context(ctx))
    for when, old, new in result.days:
        click.echo(f"{when}: {old} -> {new}")
    click.echo(
        f"Swapped {result.first} and {result.second}: {len(result.seqs)} correction entries "
        f"({', '.join(map(str, result.seqs))}), written together"
    )


@cli.command()
@trial_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, trial_dir: Path, as_json: bool) -> None:
    """Progress and today's instruction (reveals no arm)."""
    from blindself.services.daily import seal_warnings, trial_status

    s = trial_status(trial_dir, _context(ctx))
    warnings = seal_warnings(trial_dir)
    if as_json:  # the warnings are in the document
        click.echo(json.dumps({**s.to_json(), "warnings": list(warnings)}, indent=2))
        return
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"{s.title} (trial {s.trial_id})")
    where = (
        f"day {s.day} of {s.days_total}"
        if s.day
        else ("not started yet" if s.today < s.start else "trial days are over")
    )
    click.echo(f"Today {s.today}: {where} ({s.start} to {s.end})")
    click.echo(f"Checked in: {s.checked_in} of {s.due} days due; missed: {s.missed}")
    n = s.next_instruction
    if s.unblinded:
        click.echo("Unblinded: see report/report.html, or run blindself report")
    elif s.unblinding_open:
        click.echo("All check-ins are done: run blindself unblind")
    elif n.get("date") is None:
        click.echo(
            f"All trial days are past: run blindself unblind (opens on the day after {s.end})"
        )
    else:
        what = f"{n['date']}: {n['day_type']} day"
        if "container" in n:
            what += f", take container {n['container']}"
        if "bag" in n:
            what += f", open any envelope from bag {n['bag']}"
        click.echo(f"Next: {what}{' (already checked in)' if n['checked_in'] else ''}")
    if not s.unblinded:
        click.echo(
            "Your ratings are not charted before unblinding: seeing them could shape your guesses."
        )


@cli.command()
@trial_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here (default stdout).",
)
@click.option("--remind-at", help="Add a reminder at this time of day (HH:MM).")
@click.pass_context
def calendar(
    ctx: click.Context, trial_dir: Path, output: Path | None, remind_at: str | None
) -> None:
    """Check-in days as .ics (default) or a printable page (-o FILE.html); no arm information."""
    from blindself.services.calendar import calendar_html, calendar_ics

    if remind_at is not None:
        parts = remind_at.split(":")
        if (
            len(parts) != 2
            or not all(p.isdigit() for p in parts)
            or int(parts[0]) > 23
            or int(parts[1]) > 59
        ):
            raise click.BadParameter("use HH:MM, e.g. 08:30", param_hint="--remind-at")
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        _emit(calendar_html(trial_dir), output)
    else:
        _emit(calendar_ics(trial_dir, _context(ctx), remind_at), output)


@cli.command()
@trial_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--all", "include_all", is_flag=True, help="Include superseded entries.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False))
def export(trial_dir: Path, fmt: str, include_all: bool, output: Path | None) -> None:
    """Tidy data; arms appear only after unblinding."""
    from blindself.services.export import export_trial

    _emit(export_trial(trial_dir, fmt, include_all), output)


@cli.command()
@trial_option
@click.option(
    "--expect-head",
    help="A log head SEQ:HEX kept earlier; proves entries 1..SEQ unchanged (not later ones).",
)
@click.option("--expect-commitment", help="The commitment you published at init.")
@click.option(
    "--anchor",
    is_flag=True,
    help="Also print one line with today's head to post or mail to yourself.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    trial_dir: Path,
    expect_head: str | None,
    expect_commitment: str | None,
    anchor: bool,
) -> None:
    """Check the log's hash chain, the protocol and the seal (and the commitment after unblinding).

    A head SEQ:HEX proves that entries 1..SEQ are unchanged; entries after it are covered
    only by a later head, so keep the newest one outside this computer.
    """
    from blindself.services.integrity import verify_trial

    result = verify_trial(trial_dir, expect_head, expect_commitment)
    for line in result.lines:
        click.echo(line)
    click.echo(f"head: {result.head}")
    if anchor and result.ok:
        seq = result.head.split(":", 1)[0]
        click.echo(
            f"anchor: blindself trial {result.trial_id} head {result.head} on "
            f"{_context(ctx).now().date()}; keep this line outside "
            f"this computer (post it, or mail it to yourself): `blindself verify "
            f"--expect-head {result.head}` then proves entries 1..{seq} unchanged"
        )
    if not result.commitment_ok:
        raise CommitmentMismatch(
            "the commitment does not match (see above): do not trust this trial's result"
        )
    if not result.ok:
        raise BlindselfError("verification failed; restore the trial from a backup and report it")


@cli.command()
@trial_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Backup directory to create.",
)
def backup(trial_dir: Path, output: Path) -> None:
    """A consistent copy of the trial, safe while it is in use."""
    from blindself.services.integrity import backup_trial

    click.echo(f"Backed up to {backup_trial(trial_dir, output)}")


# --------------------------------------------------------------------------- web
@cli.command()
@trial_option
@click.option(
    "--port", type=BoundedInt(0, 65535), default=8765, show_default=True, help="0: any free port."
)
@click.option(
    "--lan", is_flag=True, help="Serve the local network too (plain HTTP), with a QR code."
)
@click.pass_context
def serve(ctx: click.Context, trial_dir: Path, port: int, lan: bool) -> None:
    """Check in from a phone or browser: a local web app until Ctrl-C.

    Prints a link with a one-time pairing token; open it on the device to check in from.
    """
    import io
    import secrets

    from blindself.web.server import log_to, make_server

    server = make_server(
        trial_dir, port=port, lan=lan, context=_context(ctx), token_bytes=secrets.token_bytes
    )
    where = "your local network (plain HTTP: see the README)" if lan else "this computer only"
    click.echo(f"Serving {trial_dir} to {where}. Open this link to pair one device:", err=True)
    click.echo(server.url)
    if lan:
        import segno

        qr = io.StringIO()
        segno.make(server.url, error="m").terminal(out=qr, compact=True)
        click.echo(qr.getvalue(), nl=False)
    click.echo("Ctrl-C stops the server.", err=True)
    log_to(sys.stderr)
    try:
        server.run()
    finally:
        server.close()
    click.echo("Stopped.", err=True)


# --------------------------------------------------------------------------- unblinding
@cli.command()
@trial_option
@click.option("--early", is_flag=True, help="Unblind before the last day (needs --reason).")
@click.option("--reason", help="Why you unblind early (logged).")
@click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Open the seal with the recovery (or helper) key in this file.",
)
@click.option("--expect-commitment", help="The commitment you published at init.")
@click.pass_context
def unblind(
    ctx: click.Context,
    trial_dir: Path,
    early: bool,
    reason: str | None,
    passphrase_file: Path | None,
    recovery_key_file: Path | None,
    expect_commitment: str | None,
) -> None:
    """Open the seal, verify the commitment, close the log and analyse."""
    from blindself.services.unblinding import unblind_trial

    c = _context(ctx)
    kwargs: dict[str, Any] = {}
    if recovery_key_file is not None:
        kwargs["recovery_key"] = _read_secret_file(recovery_key_file)
    elif not _already_unblinded(trial_dir):
        kwargs["passphrase"] = _passphrase(passphrase_file, confirm=False)
    result = unblind_trial(
        trial_dir, c, early=early, reason=reason, expect_commitment=expect_commitment, **kwargs
    )
    if result.already:
        click.echo("Already unblinded; showing the stored result.")
    if expect_commitment is None and not result.already:
        click.echo(
            "Warning: no --expect-commitment given; the commitment was checked against the "
            "value recorded at init only.",
            err=True,
        )
    click.echo(result.summary, nl=False)
    for f in result.files:
        click.echo(f"Wrote {f}")


@cli.command()
@trial_option
@click.argument("code")
@click.option("--reason", required=True, help="Why you open the code (logged, in the report).")
@click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--recovery-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Open the seal with the recovery (or helper) key in this file.",
)
@click.pass_context
def codebreak(
    ctx: click.Context,
    trial_dir: Path,
    code: str,
    reason: str,
    passphrase_file: Path | None,
    recovery_key_file: Path | None,
) -> None:
    """Open one container CODE in an emergency (logged; its block partners are flagged)."""
    from blindself.services.codebreak import codebreak_code, prepare_codebreak

    c = _context(ctx)
    # A mistyped code or a missing reason is refused before a secret is asked for.
    prepare_codebreak(trial_dir, code, reason)
    kwargs: dict[str, Any] = {}
    if recovery_key_file is not None:
        kwargs["recovery_key"] = _read_secret_file(recovery_key_file)
    else:
        kwargs["passphrase"] = _passphrase(passphrase_file, confirm=False)
    result = codebreak_code(trial_dir, code, reason, c, **kwargs)
    click.echo(f"Code-break logged as entry {result.entry.seq}, before opening the seal.")
    if result.opened_before:
        click.echo("This code was opened before; this opening is logged as well.")
    click.echo(f"{result.code} holds: {result.arm} ({result.arm_label})")
    if result.implied:
        click.echo(
            "Also compromised (the design implies their arms from this one): "
            + ", ".join(result.implied)
        )
    click.echo(
        "The days of these codes are left out of the blinded comparison; "
        f"{result.still_sealed} codes stay sealed."
    )


def _already_unblinded(trial_dir: Path) -> bool:
    from blindself.services.daily import trial_status

    try:
        from blindself.services.context import Context

        return trial_status(trial_dir, Context()).unblinded
    except BlindselfError:
        return False


@cli.command()
@trial_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "json", "text"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False))
def report(trial_dir: Path, fmt: str, output: Path | None) -> None:
    """Re-render the report of an unblinded trial."""
    from blindself.report.rendering import render
    from blindself.services.unblinding import load_report

    data = load_report(trial_dir)
    _emit(json.dumps(data, indent=2) + "\n" if fmt == "json" else render(data, fmt), output)


@cli.command()
@click.argument("csv_file", metavar="CSV", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--arm-column", required=True)
@click.option(
    "--active",
    "active_values",
    multiple=True,
    required=True,
    help="Value of an active arm; repeatable.",
)
@click.option("--placebo", "placebo_value", required=True)
@click.option("--none", "none_value", help="Value of a no-capsule arm.")
@click.option("--outcomes", help="Comma-separated outcome columns (default: all numeric columns).")
@click.option("--primary", help="The primary outcome (default: the first).")
@click.option("--guess-column")
@click.option("--block-column")
@click.option("--period-column")
@click.option("--date-column")
@click.option(
    "--missing", type=click.Choice(["pairwise", "listwise"]), default="pairwise", show_default=True
)
@click.option("--where", "where", multiple=True, help="Keep rows with COL=VALUE; repeatable.")
@click.option(
    "--protocol",
    "protocol_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Reuse the outcomes and analysis plan of this protocol.",
)
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write FILE.html/.json/.md.",
)
def analyze(
    csv_file: Path,
    arm_column: str,
    active_values: tuple[str, ...],
    placebo_value: str,
    none_value: str | None,
    outcomes: str | None,
    primary: str | None,
    guess_column: str | None,
    block_column: str | None,
    period_column: str | None,
    date_column: str | None,
    missing: str,
    where: tuple[str, ...],
    protocol_file: Path | None,
    as_json: bool,
    output: Path | None,
) -> None:
    """Run the same analysis on data collected elsewhere (one row per day)."""
    from blindself.report.rendering import render
    from blindself.services.analyze import AnalyzeOptions, analyze_csv

    opts = AnalyzeOptions(
        arm_column=arm_column,
        active=active_values,
        placebo=placebo_value,
        none=none_value,
        outcomes=tuple(o.strip() for o in outcomes.split(",")) if outcomes else None,
        primary=primary,
        guess_column=guess_column,
        block_column=block_column,
        period_column=period_column,
        date_column=date_column,
        missing=missing,
        where=tuple(where),
        protocol=protocol_file,
    )
    result = analyze_csv(csv_file, opts)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(result.report, indent=2, allow_nan=False))
    else:
        click.echo(render(result.report, "text"), nl=False)
    if output is not None:
        fmt = {".html": "html", ".md": "md", ".json": "json"}.get(output.suffix.lower(), "text")
        text = (
            json.dumps(result.report, indent=2, allow_nan=False) + "\n"
            if fmt == "json"
            else render(result.report, fmt)
        )
        _emit(text, output)


@cli.command()
@trial_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the bundle here (default stdout).",
)
def share(trial_dir: Path, output: Path | None) -> None:
    """After unblinding: a bundle of the trial to pool with others.

    It has no dates, notes or free text; it carries the commitment and the revealed allocation
    so others can verify it, which also links it to a commitment you published.
    """
    from blindself.services.pooling import share_trial

    bundle = share_trial(trial_dir)
    _emit(
        json.dumps(bundle, indent=2, allow_nan=False) + "\n",
        output,
        note=f" ({len(bundle['rows'])} days)",
    )


@cli.command()
@click.argument(
    "inputs", metavar="INPUT...", nargs=-1, required=True,
    type=click.Path(path_type=Path, dir_okay=False),
)  # fmt: skip
@click.option("--participant-column", help="CSV: the column naming the participant.")
@click.option("--arm-column", help="CSV: the column holding the arm.")
@click.option("--active", "active_value", help="The active arm's value (bundles: its name).")
@click.option("--placebo", "placebo_value", help="The placebo arm's value (bundles: its name).")
@click.option("--outcome-column", help="CSV: the column holding the rating.")
@click.option("--measure-column", help="CSV: the column naming the measure (long format).")
@click.option("--measures", help="Comma-separated measures to pool (default: all).")
@click.option("--guess-column", help="CSV: the guess (arm values, 'unsure' or empty).")
@click.option(
    "--covariates", help="Comma-separated covariate columns (text columns are categorical)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the pooled report as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write FILE.html (report with plots) or FILE.json.",
)
def pool(
    inputs: tuple[Path, ...],
    participant_column: str | None,
    arm_column: str | None,
    active_value: str | None,
    placebo_value: str | None,
    outcome_column: str | None,
    measure_column: str | None,
    measures: str | None,
    guess_column: str | None,
    covariates: str | None,
    as_json: bool,
    output: Path | None,
) -> None:
    """Pooled analysis across participants: bundles from `share` (*.json) or one long CSV."""
    from blindself.report.pool import render_pool_html, render_pool_text
    from blindself.services.pooling import PoolOptions, pool_inputs

    def names(text: str | None) -> tuple[str, ...] | None:
        return tuple(n.strip() for n in text.split(",") if n.strip()) if text else None

    opts = PoolOptions(
        participant_column=participant_column,
        arm_column=arm_column,
        active=active_value,
        placebo=placebo_value,
        outcome_column=outcome_column,
        measure_column=measure_column,
        measures=names(measures),
        guess_column=guess_column,
        covariates=names(covariates) or (),
    )
    result = pool_inputs(inputs, opts)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    text = json.dumps(result.report, indent=2, allow_nan=False) + "\n"
    click.echo(text if as_json else render_pool_text(result.report), nl=False)
    if output is not None:
        is_json = output.suffix.lower() == ".json"
        _emit(text if is_json else render_pool_html(result.report), output)


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--effect", type=float, default=1.0, show_default=True, help="Simulated drug effect on mood."
)
@click.pass_context
def demo(ctx: click.Context, directory: Path | None, effect: float) -> None:
    """Run a complete simulated trial and write its report."""
    from blindself.services.demo import run_demo

    c = _context(ctx)
    if directory is None:
        # Re-running the README's first command must work: take the next free folder.
        directory = Path("demo-trial")
        n = 2
        while directory.exists():
            directory, n = Path(f"demo-trial-{n}"), n + 1
    result = run_demo(directory, c, effect=effect, echo=click.echo)
    click.echo(result.summary, nl=False)
    click.echo(f"Report: {result.report_html}")


def _emit(text: str, output: Path | None, *, note: str = "") -> None:
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


def main() -> None:
    try:
        cli(prog_name="blindself")
    except Exception as exc:  # outside a command (start-up, --version): the same contract
        internal_error(exc)
