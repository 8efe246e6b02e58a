"""After unblinding, together: share a bundle, pool many."""

from __future__ import annotations

import json
from pathlib import Path

import click

from blindself.cli.options import FILE, emit, json_option, output_option, trial_option
from blindself.wording import count


@click.command()
@trial_option
@output_option("Write the bundle here (default stdout).")
def share(trial_dir: Path, output: Path | None) -> None:
    """After unblinding: a bundle of the trial to pool with others.

    It has no dates, notes or free text; it carries the commitment and the revealed allocation
    so others can verify it, which also links it to a commitment you published.
    """
    from blindself.services.sharing import share_trial

    bundle = share_trial(trial_dir)
    emit(
        json.dumps(bundle, indent=2, allow_nan=False) + "\n",
        output,
        note=f" ({count(len(bundle['rows']), 'day')})",
    )


@click.command()
@click.argument(
    "inputs", metavar="INPUT...", nargs=-1, required=True,
    type=FILE,
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
@json_option("Print the pooled report as JSON.")
@output_option("Write FILE.html (report with plots) or FILE.json.")
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
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    text = json.dumps(result.report, indent=2, allow_nan=False) + "\n"
    click.echo(text if as_json else render_pool_text(result.report), nl=False)
    if output is not None:
        is_json = output.suffix.lower() == ".json"
        emit(text if is_json else render_pool_html(result.report), output)


COMMANDS = (
    share,
    pool,
)
