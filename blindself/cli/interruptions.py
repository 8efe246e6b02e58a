"""Life getting in the way: ``pause`` (and resume early) and ``lost`` (a lost or damaged
container).  Neither reads the seal."""

from __future__ import annotations

from pathlib import Path

import click

from blindself.cli.options import BoundedInt, parse_date, service_context, trial_option


@click.command()
@trial_option
@click.option("--from", "start", help="The first paused day (YYYY-MM-DD); default today.")
@click.option("--days", type=BoundedInt(1, 366), help="How many days to pause (1-366).")
@click.option("--reason", help="Why (illness, travel...): logged and listed in the report.")
@click.option(
    "--end",
    "end",
    help="Instead: resume on this day (YYYY-MM-DD), ending the pause running then early; "
    "a pause's first day cancels it.",
)
@click.pass_context
def pause(
    ctx: click.Context,
    trial_dir: Path,
    start: str | None,
    days: int | None,
    reason: str | None,
    end: str | None,
) -> None:
    """Take days out of the trial (illness, travel); the rest of the calendar moves past them.

    A container's remaining dose days, and any baseline or washout days left, come after the
    pause; nothing is recorded for paused days.  Pauses start today or later, never over a
    checked-in day; several pauses add up.  Reveals no arm.
    """
    from blindself.services.interruptions import end_pause, record_pause

    c = service_context(ctx)
    if end is not None:
        if start is not None or days is not None or reason is not None:
            raise click.UsageError("--end goes alone (without --from, --days or --reason)")
        day = parse_date(end, "--end")
        assert day is not None  # parse_date returns None only for None
        result = end_pause(trial_dir, day, c)
        if result.pause is None:
            click.echo(f"Pause from {day} cancelled (entry {result.seq})")
        else:
            p = result.pause
            click.echo(f"Pause now {p.start} to {p.last} ({p.days} days) (entry {result.seq})")
    else:
        if days is None:
            raise click.UsageError("give --days N (and --reason TEXT), or --end DATE")
        result = record_pause(trial_dir, parse_date(start, "--from"), days, reason, c)
        new = result.pause
        assert new is not None  # a new pause always has days
        click.echo(
            f"Paused {new.start} to {new.last} ({new.days} day{'s' if new.days != 1 else ''}: "
            f"{new.reason}) (entry {result.seq})"
        )
    if result.resumes is not None:
        click.echo(f"The trial resumes on {result.resumes}.")
    if result.end_before != result.end_after:
        click.echo(f"Its last day moves from {result.end_before} to {result.end_after}.")
    for line in result.moved:
        click.echo(f"Moved: {line}")
    if result.moved:
        click.echo(
            "Dates printed on the sheet and the labels no longer hold for these: blindself "
            "status and blindself calendar give the new ones (export the calendar again)."
        )


@click.command()
@trial_option
@click.option(
    "--code",
    help="The container's label (helper mode: default the day's scheduled container; self "
    "mode: the code on the opened envelope's slip; an unopened envelope needs no entry).",
)
@click.option("--date", "when", help="When it was lost or damaged (YYYY-MM-DD); default today.")
@click.option("--damaged", is_flag=True, help="Damaged (spilled, crushed, wet), not lost.")
@click.option("--note", help="What happened; say if you saw, smelled or tasted the contents.")
@click.pass_context
def lost(
    ctx: click.Context,
    trial_dir: Path,
    code: str | None,
    when: str | None,
    damaged: bool,
    note: str | None,
) -> None:
    """Record a lost or damaged container (not a dose, not a missed day) and say what to do
    next: a replacement of the same code (helper mode), or nothing more for its period (self
    mode).

    Self mode: an envelope lost unopened shows no code and needs no entry (without --code this
    says what to do).  Reveals no arm."""
    from blindself.services.interruptions import record_lost

    result = record_lost(trial_dir, code, parse_date(when), damaged, note, service_context(ctx))
    what = "damaged" if damaged else "lost"
    if result.status == "already recorded":
        click.echo(f"{result.code}: already recorded as {what} (entry {result.seq})")
    else:
        click.echo(f"{result.code}: recorded as {what} (entry {result.seq})")
    for line in result.advice:
        click.echo(f"Next: {line}")


COMMANDS = (pause, lost)
