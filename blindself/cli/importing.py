"""``import``: outcome values from another app's CSV export (a sleep tracker, a mood app)."""

from __future__ import annotations

from pathlib import Path

import click

from blindself.cli.options import BoundedInt, echo_stop_rules, service_context, trial_option

_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", ",": ",", ";": ";"}
_SHOWN = {",": "comma", ";": "semicolon", "\t": "tab"}


def _parse_map(text: str) -> tuple[str, str]:
    column, sep, outcome = text.rpartition("=")
    if not sep or not column.strip() or not outcome.strip():
        raise click.BadParameter(
            f"{text[:40]!r}: use COLUMN=OUTCOME, e.g. 'Minutes Asleep=sleep_minutes'",
            param_hint="--map",
        )
    return column.strip(), outcome.strip()


@click.command("import")
@trial_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--date-column", required=True, help="The column holding each row's date or date-time."
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    required=True,
    metavar="COLUMN=OUTCOME",
    help='Bring the column\'s values in as this outcome (one marked source = "import" in '
    "the protocol); repeatable.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Supersede values already imported for the same days (the old entries stay).",
)
@click.option("--reason", help="Why you replace earlier values (logged, with --replace).")
@click.option(
    "--combine",
    type=click.Choice(["mean", "sum", "min", "max", "last"]),
    help="How several rows on one day make its value (default: refuse them).",
)
@click.option(
    "--date-format",
    help="The date column's form as strptime codes, e.g. %d.%m.%Y or '%m/%d/%Y %I:%M %p' "
    "(default: ISO dates and date-times).",
)
@click.option(
    "--day-shift",
    type=BoundedInt(-7, 7),
    default=0,
    help="Days to add to each row's date, e.g. -1 when an app dates a night by the morning "
    "you woke up.",
)
@click.option(
    "--delimiter",
    type=click.Choice(sorted(_DELIMITERS)),
    help="The column separator (default: the one that splits the header into the named columns).",
)
@click.option(
    "--skip-outside",
    is_flag=True,
    help="Leave out rows dated outside the trial's days (default: refuse the file).",
)
@click.option("--dry-run", is_flag=True, help="Check the file and show what would be imported.")
@click.pass_context
def import_values(
    ctx: click.Context,
    trial_dir: Path,
    file: Path,
    date_column: str,
    maps: tuple[str, ...],
    replace: bool,
    reason: str | None,
    combine: str | None,
    date_format: str | None,
    day_shift: int,
    delimiter: str | None,
    skip_outside: bool,
    dry_run: bool,
) -> None:
    """Bring dated values from another app's CSV export into the log, with their source.

    Every row is checked first (dates on the trial's days, values within the outcome's
    scale, nothing already recorded changed without --replace); one bad row imports
    nothing.  A date-time belongs to the trial day that check-ins use (the trial's time
    zone, days starting at checkin.day_starts).
    """
    from blindself.services.importing import ImportRequest, import_values
    from blindself.trial.measures import row_runs, rows_text

    req = ImportRequest(
        path=file,
        date_column=date_column,
        mapping=tuple(_parse_map(m) for m in maps),
        replace=replace,
        combine=combine,
        delimiter=_DELIMITERS[delimiter] if delimiter else None,
        date_format=date_format,
        day_shift=day_shift,
        skip_outside=skip_outside,
        dry_run=dry_run,
        reason=reason,
    )
    result = import_values(trial_dir, req, service_context(ctx))
    columns = ", ".join(f"{c!r} -> {o}" for o, c in result.columns.items())
    click.echo(
        f"Read {result.file} (sha256 {result.sha256[:16]}...): header on row "
        f"{result.header_row}, {_SHOWN[result.delimiter]}-separated; {columns}"
    )
    if result.skipped_outside:
        n = result.skipped_outside
        click.echo(f"Left out {n} row{'s' if n != 1 else ''} outside the trial's days.")
    if dry_run:
        for v in result.values:
            was = f" (was {v.previous:g})" if v.status == "replaced" else ""
            rows = rows_text(row_runs(v.rows))
            click.echo(f"  {v.day} {v.outcome} {v.value:g} ({rows}): {v.status}{was}")
    new, replaced, same = (result.count(s) for s in ("new", "replaced", "unchanged"))
    days = sorted({v.day for v in result.values})
    span = f"{days[0]} to {days[-1]}" if len(days) > 1 else days[0]
    verb = "Would import" if dry_run else "Imported"
    if not new + replaced:
        click.echo(
            f"Nothing new: all {same} values ({span}) are already recorded"
            if same != 1
            else f"Nothing new: the one value ({span}) is already recorded"
        )
        return
    click.echo(
        f"{verb} {new + replaced} value{'s' if new + replaced != 1 else ''} ({span}): {new} new, "
        f"{replaced} replaced, {same} already recorded"
        + ("" if dry_run else f" (head {result.head[: result.head.index(':') + 17]})")
    )
    if dry_run:
        click.echo("Dry run: nothing was recorded.")
    echo_stop_rules(result.stop_rules)


COMMANDS = (import_values,)
