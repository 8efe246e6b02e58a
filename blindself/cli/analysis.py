"""analyze: the same analysis on data collected elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import click

from blindself.cli.options import FILE, emit, json_option, output_option


@click.command()
@click.argument("csv_file", metavar="CSV", type=FILE)
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
    type=FILE,
    help="Reuse the outcomes and analysis plan of this protocol.",
)
@json_option("Print report.json to stdout.")
@output_option("Write FILE.html/.json/.md.")
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
        emit(text, output)


COMMANDS = (analyze,)
