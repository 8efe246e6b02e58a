"""Opening the seal: unblind, codebreak, and report.

``report`` re-renders an unblinded trial from its stored report.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from blindself.cli.options import (
    emit,
    output_option,
    read_passphrase,
    read_secret_file,
    seal_key_options,
    service_context,
    trial_option,
)
from blindself.errors import BlindselfError
from blindself.wording import count


# --------------------------------------------------------------------------- unblinding
@click.command()
@trial_option
@click.option("--early", is_flag=True, help="Unblind before the last day (needs --reason).")
@click.option("--reason", help="Why you unblind early (logged).")
@seal_key_options
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

    c = service_context(ctx)
    kwargs: dict[str, Any] = {}
    if recovery_key_file is not None:
        kwargs["recovery_key"] = read_secret_file(recovery_key_file)
    elif not _already_unblinded(trial_dir):
        kwargs["passphrase"] = read_passphrase(passphrase_file, confirm=False)
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


@click.command()
@trial_option
@click.argument("code")
@click.option("--reason", required=True, help="Why you open the code (logged, in the report).")
@seal_key_options
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

    c = service_context(ctx)
    # A mistyped code or a missing reason is refused before a secret is asked for.
    prepare_codebreak(trial_dir, code, reason)
    kwargs: dict[str, Any] = {}
    if recovery_key_file is not None:
        kwargs["recovery_key"] = read_secret_file(recovery_key_file)
    else:
        kwargs["passphrase"] = read_passphrase(passphrase_file, confirm=False)
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
        f"{count(result.still_sealed, 'code stays', 'codes stay')} sealed."
    )


def _already_unblinded(trial_dir: Path) -> bool:
    from blindself.services.daily import trial_status

    try:
        from blindself.services.context import Context

        return trial_status(trial_dir, Context()).unblinded
    except BlindselfError:
        return False


@click.command()
@trial_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "json", "text"]),
    default="text",
    show_default=True,
)
@output_option("Write the report here (default stdout).")
def report(trial_dir: Path, fmt: str, output: Path | None) -> None:
    """Re-render the report of an unblinded trial."""
    from blindself.report.rendering import render
    from blindself.services.unblinding import load_report

    data = load_report(trial_dir)
    emit(json.dumps(data, indent=2) + "\n" if fmt == "json" else render(data, fmt), output)


COMMANDS = (
    unblind,
    codebreak,
    report,
)
