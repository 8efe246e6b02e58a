"""The daily check-in, its prompts for whatever is missing on a terminal, and
``correct`` (a swapped pair of codes, in one step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blindself.cli import options
from blindself.cli.options import (
    BoundedInt,
    echo_stop_rules,
    parse_date,
    service_context,
    trial_option,
)
from blindself.errors import BlindselfError
from blindself.wording import count

if TYPE_CHECKING:
    # --help and usage errors never need the services: imported where a command runs.
    from blindself.services.context import Context


# --------------------------------------------------------------------------- daily
def _is_answer_list(text: str) -> bool:
    """``NAME=a1,a2,...`` (a questionnaire's item answers), or a lone skipped item."""
    value = text.partition("=")[2].strip()
    return "," in value or value == "-"


def _parse_answers(text: str) -> tuple[str, tuple[str, ...]]:
    name, _, value = text.partition("=")
    if not name.strip():
        raise click.BadParameter(
            f"{text[:30]!r}: use NAME=a1,a2,... for a questionnaire", param_hint="--rate"
        )
    return name.strip(), tuple(v.strip() for v in value.split(","))


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


@click.command()
@trial_option
@click.option("--date", "when", help="The day to record (YYYY-MM-DD); default today.")
@click.option("--code", help="The container's code, e.g. K7M2-X.")
@click.option(
    "--rate",
    "rates",
    multiple=True,
    help="A rating NAME=VALUE, or a questionnaire's answers NAME=a1,a2,... in item order "
    "(- skips an item); repeatable.",
)
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
    recorded value.  A lost or damaged container: blindself lost (it says what to do next);
    days off for illness or travel: blindself pause.
    """
    from blindself.services.checkin_checks import describe_checkin
    from blindself.services.daily import form_for, record_checkin
    from blindself.trial.checkins import CheckinRequest
    from blindself.trial.questionnaires import severe_notice, unscored_notes

    c = service_context(ctx)
    day = parse_date(when)
    from blindself.errors import CheckinError
    from blindself.trial.checkins import collect_ratings

    try:
        ratings = collect_ratings(_parse_rating(t) for t in rates if not _is_answer_list(t))
        answers = collect_ratings(_parse_answers(t) for t in rates if _is_answer_list(t))
    except CheckinError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from None
    if options.interactive():
        form = form_for(trial_dir, day, c)
        day = form.day.date
        a = Asked(code, ratings, guess, confidence, note, answers)
        _prompt_missing(trial_dir, c, form, a, no_capsule, replace)
        code, ratings, guess, confidence, note = a.code, a.ratings, a.guess, a.confidence, a.note
        answers = a.answers
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
        answers=answers,
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
    for line in unscored_notes(e.payload):
        click.echo(f"Note: {line}", err=True)
    for o in result.severe:
        # Said once per entry into the band (docs/design.md#instruments); not a diagnosis.
        click.echo(severe_notice(o), err=True)
    echo_stop_rules(result.stop_rules)


class Asked:
    """The check-in fields, filled from the options and then from the prompts."""

    def __init__(
        self,
        code: str | None,
        ratings: dict[str, float],
        guess: str | None,
        confidence: int | None,
        note: str | None,
        answers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.code, self.ratings, self.guess = code, ratings, guess
        self.confidence, self.note = confidence, note
        self.answers = answers if answers is not None else {}


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


def _code_parser(
    trial_dir: Path, c: Context, day: date, recorded: str | None = None
) -> Callable[[str], str]:
    """Judge a typed code at once (services.checkin_checks), before any rating is asked.

    ``recorded`` (``--replace``) is the code already recorded for the day: keeping it was
    confirmed when it was recorded, so it is not asked again (F5: Enter looped, since the
    confirmation defaults to No).
    """
    from blindself.services.checkin_checks import check_code

    def parse(text: str) -> str:
        verdict = check_code(trial_dir, day, text, c)
        if verdict.status == "refused":
            raise ValueError(f"Not recorded: {verdict.message}")
        if verdict.status == "confirm" and verdict.code != recorded:
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
        from blindself.services.checkin_checks import check_code
        from blindself.trial.codes import format_code

        kept = format_code(was["code"]) if was.get("code") else None
        hint = (
            f" (today: {form.expected_code})"
            if form.expected_code
            else (f" (open any envelope from bag {form.bag})" if form.bag else "")
        )
        if (
            form.expected_code
            and kept != form.expected_code
            and check_code(trial_dir, day, form.expected_code, c).status == "refused"
        ):
            # The scheduled container was recorded on another day: naming it as today's
            # only leads to a refusal (F5).
            hint = f" (today's {form.expected_code} is already recorded on another day)"
        a.code = _ask(
            f"Container code{hint}",
            _code_parser(trial_dir, c, day, kept),
            "Type the code printed on the container (or stop with Ctrl-C and run checkin "
            "--no-capsule if you took none).",
            kept,
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
    for o in form.instruments:
        if o.name not in a.answers and o.name not in a.ratings:
            old_items = ((was.get("answers") or {}).get(o.name) or {}).get("items")
            a.answers[o.name] = _ask_instrument(o, old_items)
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


def _ask_instrument(o: Any, old: list[int | None] | None) -> tuple[str, ...]:
    """Ask a questionnaire's items one by one, its options numbered by their published
    values (docs/design.md#instruments); Enter keeps a recorded answer (--replace)."""
    from blindself.trial.questionnaires import SKIP

    instrument = o.instrument
    lo, hi = instrument.item_range
    click.echo(
        f"{instrument.title} ({len(instrument.items)} questions). {instrument.instructions}",
        err=True,
    )
    click.echo(
        "  "
        + "   ".join(f"{c.value} = {c.label}" for c in instrument.options)
        + f"   ({SKIP} = skip)",
        err=True,
    )
    out = []
    n = len(instrument.items)
    for i, item in enumerate(instrument.items):
        kept = None
        if old is not None:
            kept = SKIP if old[i] is None else str(old[i])

        def parse(text: str) -> str:
            if text == SKIP:
                return text
            if text.isascii() and text.isdigit() and lo <= int(text) <= hi:
                return text
            shown = text[:20] + ("..." if len(text) > 20 else "")
            raise ValueError(f"type one of {lo}-{hi} (or {SKIP} to skip); you typed {shown!r}")

        out.append(
            _ask(
                f"{i + 1}/{n} {item.text} [{lo}-{hi}]",
                parse,
                f"Type the number of your answer, {lo}-{hi} (or {SKIP} to skip this question).",
                kept,
            )
        )
    return tuple(out)


@click.command()
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
@click.option(
    "--yes",
    is_flag=True,
    help="Swap even if days recorded without a deviation become deviating ones (not asked "
    "on a terminal).",
)
@click.pass_context
def correct(
    ctx: click.Context, trial_dir: Path, swap: tuple[str, str], reason: str, yes: bool
) -> None:
    """Correct two days whose container codes were typed the wrong way round, in one step.

    A swap that would turn correctly recorded days into deviating ones (a container from
    another bag or block: usually left out of the comparison) is shown first and needs a yes
    on a terminal, or --yes.
    """
    from blindself.services.corrections import SwapNeedsConfirmation, swap_codes

    first, second = (parse_date(d, "--swap") for d in swap)
    if first is None or second is None:  # nargs=2 always gives two values
        raise click.BadParameter("give two dates", param_hint="--swap")
    c = service_context(ctx)
    try:
        result = swap_codes(trial_dir, first, second, reason, c, confirmed=yes)
    except SwapNeedsConfirmation as exc:
        # docs/design.md#corrections: the preview names public facts only (codes, flags).
        if not options.interactive():
            raise BlindselfError(
                f"{exc}. If the codes really were typed the wrong way round, run again with --yes"
            ) from None
        click.echo("This swap would record:", err=True)
        for change in exc.changes:
            flags = ", ".join(change.flags_after) or "no deviation"
            click.echo(f"  {change.date}: {change.old} -> {change.new} ({flags})", err=True)
        click.echo(
            f"{len([x for x in exc.changes if x.newly_deviating])} of these days were recorded "
            "without a deviation; with a container of another bag or block they are usually "
            "left out of the comparison.",
            err=True,
        )
        if not click.confirm("Swap anyway?", default=False, err=True):
            click.echo("Not swapped; nothing changed.")
            return
        result = swap_codes(trial_dir, first, second, reason, c, confirmed=True)
    for when, old, new in result.days:
        click.echo(f"{when}: {old} -> {new}")
    for change in result.changes:
        if change.newly_deviating:
            click.echo(
                f"Note: {change.date} now holds a deviation ({', '.join(change.flags_after)}); "
                "the report says whether its days stay in the comparison."
            )
    click.echo(
        f"Swapped {result.first} and {result.second}: "
        f"{count(len(result.seqs), 'correction entry', 'correction entries')} "
        f"({', '.join(map(str, result.seqs))}), written together"
    )


COMMANDS = (
    checkin,
    correct,
)
