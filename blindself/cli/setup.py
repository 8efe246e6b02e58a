"""Before the trial: templates, new, plan, power, init; and demo."""

from __future__ import annotations

import json
import math
import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blindself.cli.options import (
    FILE,
    BoundedInt,
    parse_date,
    read_passphrase,
    service_context,
)
from blindself.errors import TrialStateError
from blindself.wording import count

if TYPE_CHECKING:
    from blindself.services.setup import InitResult


# --------------------------------------------------------------------------- protocols
@click.command()
def templates() -> None:
    """List the shipped protocol templates."""
    from blindself.services.setup import list_templates

    for t in list_templates():
        click.echo(f"{t.name:<28} {t.title}")
        if t.summary:
            click.echo(f"{'':<28} {t.summary.splitlines()[0]}")


@click.command()
@click.argument("template")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def new(template: str, path: Path | None) -> None:
    """Copy a shipped protocol TEMPLATE to PATH to edit it."""
    from blindself.services.setup import copy_template

    target = copy_template(template, path)
    click.echo(f"Wrote {target}. Edit it, then: blindself plan {target}")


@click.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--start",
    help="First day (YYYY-MM-DD); default as init: tomorrow or later, so the first dose day "
    "is at least 3 days away.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plan(ctx: click.Context, protocol: Path, start: str | None, as_json: bool) -> None:
    """Validate PROTOCOL; show its calendar, containers and attainable p-value."""
    from blindself.services.planning import plan_protocol

    result = plan_protocol(protocol, parse_date(start, "--start"), service_context(ctx))
    _echo_result(result, as_json)


def _echo_result(result: Any, as_json: bool) -> None:
    """A plan or power result: its JSON document or its text."""
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else result.text())


@click.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--effect",
    type=float,
    required=True,
    help="Effect to detect, in rating points of the primary outcome (e.g. its mcid).",
)
@click.option(
    "--sd",
    type=float,
    required=True,
    help="Day-to-day standard deviation of the primary rating, in rating points. Estimate it "
    "from a baseline week (the sample SD of 7 or more daily ratings taken before the trial) "
    "or from the reference data the README cites (about a sixth of the scale: 1.5 on 1-10).",
)
@click.option(
    "--rho", type=float, default=0.3, show_default=True, help="Day-to-day AR(1) correlation."
)
@click.option(
    "--sims",
    type=BoundedInt(10, 100_000),
    default=1000,
    show_default=True,
    help="Simulated trials (and per size searched, up to 2000).",
)
@click.option(
    "--seed",
    type=BoundedInt(0, 2**32 - 1),
    default=1,
    show_default=True,
    help="Seed of the simulation: the same seed gives the same figures and the same "
    "suggested size; another seed shows the Monte Carlo variation.",
)
@click.option(
    "--outcome",
    help="An outcome measured on its own schedule (e.g. a questionnaire asked weekly): its "
    "power with scores only on the days it is asked; --effect and --sd in its points.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def power(
    protocol: Path,
    effect: float,
    sd: float,
    rho: float,
    sims: int,
    seed: int,
    outcome: str | None,
    as_json: bool,
) -> None:
    """Simulated power of the design's own randomization test.

    Below 80 % it searches the number of blocks (or periods) that reaches 80 %, with the
    same simulated trials extended across sizes, and says how many days that takes.
    """
    from blindself.services.planning import simulate_power

    if not math.isfinite(effect):
        raise click.BadParameter("must be a finite number of rating points", param_hint="--effect")
    if not (math.isfinite(sd) and sd > 0):
        raise click.BadParameter("must be positive", param_hint="--sd")
    if not -0.99 < rho < 0.99:
        raise click.BadParameter("must lie in (-0.99, 0.99)", param_hint="--rho")
    if outcome is None:
        from blindself.services.outcome_power import sparse_primary_name

        # A primary questionnaire asked on its own schedule: simulated on that schedule.
        outcome = sparse_primary_name(protocol)
    with click.progressbar(length=sims, label="simulating", file=sys.stderr) as bar:
        result: Any
        if outcome is not None:
            from blindself.services.outcome_power import outcome_power

            result = outcome_power(
                protocol, outcome, effect=effect, sd=sd, rho=rho, sims=sims,
                progress=bar.update, seed=seed,
            )  # fmt: skip
        else:
            result = simulate_power(
                protocol, effect=effect, sd=sd, rho=rho, sims=sims, progress=bar.update, seed=seed
            )
    _echo_result(result, as_json)


@click.command()
@click.argument("protocol", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--start",
    help="First day of the trial (YYYY-MM-DD); default: tomorrow or later, so the first "
    "dose day is at least 3 days away (time to prepare the containers).",
)
@click.option(
    "--sheet",
    "sheets",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Preparation sheet to write (.html to print, .json for scripts); repeatable.",
)
@click.option("--no-sheet", is_flag=True, help="Write no preparation sheet.")
@click.option(
    "--passphrase-file", type=FILE, help="Read the passphrase from the first line of this file."
)
@click.option(
    "--generate-passphrase", is_flag=True, help="Make a strong passphrase and print it once."
)
@click.option(
    "--recovery-key-file",
    type=FILE,
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

    c = service_context(ctx)
    if generate_passphrase:
        if passphrase_file is not None:
            raise click.BadParameter("use either --generate-passphrase or --passphrase-file")
        passphrase = make_passphrase(c.other)
    else:
        passphrase = read_passphrase(passphrase_file, confirm=True)

    def announce(result: InitResult) -> None:
        # Runs while the trial is still marked unfinished: if the output fails, init undoes the
        # trial rather than leave one whose recovery key nobody saw (review F8).
        try:
            _show_init(result, passphrase if generate_passphrase else None)
            sys.stdout.flush()
        except OSError as exc:
            _silence_stdout()
            raise TrialStateError(
                f"the output failed ({exc.strerror or exc}) before the recovery key was shown, "
                "so the trial was not created (its folder and sheets were removed); run "
                "blindself init again with the output going to a terminal or a file that works"
            ) from exc

    result = init_trial(
        protocol,
        directory,
        passphrase=passphrase,
        ctx=c,
        start=parse_date(start, "--start"),
        sheets=sheets,
        no_sheet=no_sheet,
        recovery_key_file=recovery_key_file,
        with_helper_key=helper_key,
        expectation=expectation,
        announce=announce,
    )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if result.sheets:  # F20: without a sheet nothing can be prepared (init warned)
        click.echo(
            "Next: prepare the containers, then every day: "
            f"blindself checkin --trial {result.directory}"
        )


def _silence_stdout() -> None:
    """Point a failed stdout at /dev/null, so exit does not fail again flushing it."""
    with suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _show_init(result: InitResult, passphrase: str | None) -> None:
    """Everything init must show before the trial counts as created (key and commitment)."""
    cal = result.calendar
    click.echo(f"Trial {result.trial_id} created in {result.directory}")
    click.echo(f"  {result.protocol.title}")
    click.echo(
        f"  {count(len(cal.days), 'day')}, {cal.start} to {cal.end}; "
        f"{count(cal.n_periods, 'container')}"
    )
    if result.start_note:
        click.echo(f"  Starts {result.start_note}")
    click.echo("Commitment (publish it now, e.g. in a dated post, to pre-register the trial):")
    click.echo(f"  {result.commitment}")
    click.echo(f"Log head: {result.head}")
    click.echo(
        "  (it proves only that entry 1, the trial's setup, is unchanged; every check-in prints "
        "a newer head, and `blindself verify --anchor` prints one to keep outside this computer)"
    )
    if passphrase is not None:
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


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--effect", type=float, default=1.0, show_default=True, help="Simulated drug effect on mood."
)
@click.pass_context
def demo(ctx: click.Context, directory: Path | None, effect: float) -> None:
    """Run a complete simulated trial and write its report."""
    from blindself.services.demo import run_demo

    if not math.isfinite(effect):
        raise click.BadParameter("must be a finite number of rating points", param_hint="--effect")
    c = service_context(ctx)
    if directory is None:
        # Re-running the README's first command must work: take the next free folder.
        directory = Path("demo-trial")
        n = 2
        while directory.exists():
            directory, n = Path(f"demo-trial-{n}"), n + 1
    result = run_demo(directory, c, effect=effect, echo=click.echo)
    click.echo(result.summary, nl=False)
    click.echo(result.known, nl=False)
    click.echo(f"Report: {result.report_html}")


COMMANDS = (
    templates,
    new,
    plan,
    power,
    init,
    demo,
)
