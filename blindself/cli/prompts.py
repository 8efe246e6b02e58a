"""The interactive check-in's questions: whatever the options left missing, asked one by one on a
terminal (the code judged first, then ratings, guess, questionnaire items and a note).

Used by ``blindself checkin`` (cli/checkin.py); docs/design.md#command-line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blindself.errors import BlindselfError

if TYPE_CHECKING:
    from blindself.services.context import Context


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


def ask(question: str, parse: Callable[[str], Any], blank: str, default: str | None = None) -> Any:
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


def rating_parser(name: str, lo: float, hi: float) -> Callable[[str], float]:
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


def choice_parser(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for o in options:
            if text.casefold() == o.casefold():
                return o
        shown = text[:20] + ("..." if len(text) > 20 else "")
        raise ValueError(f"type one of {', '.join(options)}; you typed {shown!r}")

    return parse


def confidence(text: str) -> int:
    shown = text[:20] + ("..." if len(text) > 20 else "")
    digits = text.removesuffix("%").strip()
    if not digits.isdigit() or not 50 <= int(digits) <= 100:
        raise ValueError(
            f"how sure you are is a whole number from 50 (a coin toss) to 100 (certain); "
            f"you typed {shown}"
        )
    return int(digits)


def note(text: str) -> str:
    from blindself.trial.checkins import check_free_text

    try:
        check_free_text(text, "the note")
    except BlindselfError as exc:
        raise ValueError(str(exc)) from None
    return text


def code_parser(
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


def prompt_missing(
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
            a.guess = ask(
                "Which did you take?",
                choice_parser(form.guess_options),
                f"Type your guess: {', '.join(form.guess_options)} ('unsure' is a fine answer).",
                was.get("guess"),
            )
        if a.guess not in (None, "unsure") and a.confidence is None:
            kept = was.get("confidence") if a.guess == was.get("guess") else None
            a.confidence = ask(
                "How sure are you (50-100 %)?",
                confidence,
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
        a.code = ask(
            f"Container code{hint}",
            code_parser(trial_dir, c, day, kept),
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
            a.ratings[o.name] = ask(
                f"{o.question} [{lo:g}-{hi:g}, {o.better} is better]",
                rating_parser(o.name, lo, hi),
                f"Type a number from {lo:g} to {hi:g} for {o.name}.",
                None if old_value is None else f"{old_value:g}",
            )
    if not form.guess_first:
        ask_guess()
    for o in form.instruments:
        if o.name not in a.answers and o.name not in a.ratings:
            old_items = ((was.get("answers") or {}).get(o.name) or {}).get("items")
            a.answers[o.name] = ask_instrument(o, old_items)
    while a.note is None:
        text = click.prompt(
            "Note (optional; Enter to skip)" if old is None else "Note (Enter keeps it)",
            default=was.get("note", ""),
            show_default=bool(was.get("note")),
            err=True,
        )
        try:
            a.note = note(str(text))
        except ValueError as exc:
            click.echo(str(exc), err=True)


def ask_instrument(o: Any, old: list[int | None] | None) -> tuple[str, ...]:
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
            ask(
                f"{i + 1}/{n} {item.text} [{lo}-{hi}]",
                parse,
                f"Type the number of your answer, {lo}-{hi} (or {SKIP} to skip this question).",
                kept,
            )
        )
    return tuple(out)
