"""The daily check-in, its prompts for whatever is missing on a terminal, and
``correct`` (a swapped pair of codes, in one step).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from blindself.cli import options
from blindself.cli.options import (
    BoundedInt,
    echo_stop_rules,
    parse_date,
    service_context,
    trial_option,
)
from blindself.cli.prompts import Asked, prompt_missing
from blindself.errors import BlindselfError
from blindself.wording import count

if TYPE_CHECKING:
    # --help and usage errors never need the services: imported where a command runs.
    pass


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
        prompt_missing(trial_dir, c, form, a, no_capsule, replace)
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
