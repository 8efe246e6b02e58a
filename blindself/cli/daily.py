"""During the trial: status, calendar, export, verify, backup, serve.

None of them reads the seal.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from blindself.cli.options import BoundedInt, emit, output_option, service_context, trial_option
from blindself.errors import BlindselfError, CommitmentMismatch, HeadMismatch
from blindself.wording import count

if TYPE_CHECKING:
    from blindself.services.daily import Status


@click.command()
@trial_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, trial_dir: Path, as_json: bool) -> None:
    """Progress and today's instruction (reveals no arm)."""
    from blindself.services.daily import seal_warnings, trial_status

    s = trial_status(trial_dir, service_context(ctx))
    warnings = seal_warnings(trial_dir, s.trial_id)
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
    click.echo(f"Checked in: {s.checked_in} of {count(s.due, 'day')} due; missed: {s.missed}")
    if s.missed_dates:
        click.echo(f"Missed: {date_runs(s.missed_dates)} (blindself log shows every day)")
    if s.imported_outcomes and not s.unblinded:
        until = f"values up to {s.imported_until}" if s.imported_until else "no values yet"
        click.echo(
            f"Imported ({', '.join(s.imported_outcomes)}): {until}; bring in newer ones with "
            "blindself import"
        )
    _interruptions(s)
    n = s.next_instruction
    if s.unblinded:
        click.echo("Unblinded: see report/report.html, or run blindself report")
    elif s.unblinding_open:
        # "All check-ins are done" would be false after missed days (adversary review F13).
        done = (
            "All check-ins are done"
            if not s.missed
            else (
                "The trial days are over" if s.today > s.end else "The last trial day is checked in"
            )
        )
        if s.import_first:  # unblind would refuse: import first (adv3 F9)
            names = ", ".join(name for name, _ in s.import_first)
            why = "; ".join(have for _, have in s.import_first)
            done += f": import {names} first ({why}), then run blindself unblind"
        else:
            done += ": run blindself unblind"
        click.echo(done)
    elif n.get("date") is None:
        click.echo(
            f"All trial days are past: run blindself unblind (opens on the day after {s.end})"
        )
    else:
        what = f"{n['date']}: {n['day_type']} day"
        if "container" in n:
            what += f", take container {n['container']}"
            gone = next((x for x in s.lost if x["code"] == n["container"]), None)
            if gone is not None:  # helper mode: its replacement, or nothing (see `lost`)
                what += f" (reported {gone['what']}: its replacement, or check in --no-capsule)"
        if "bag" in n:
            what += f", open any envelope from bag {n['bag']}"
        click.echo(f"Next: {what}{' (already checked in)' if n['checked_in'] else ''}")
    if not s.unblinded:
        for name, title, when in s.instruments:
            due = f"next due {when}" if when else "not asked again"
            click.echo(f"Questionnaire {title} ({name}): {due}")
    if not s.unblinded:
        click.echo(
            "Your ratings are not charted before unblinding: seeing them could shape your guesses."
        )


MAX_RUNS = 6


def date_runs(dates: tuple[date, ...]) -> str:
    """Dates (ascending) as runs of consecutive days, e.g. ``2026-03-03, 2026-03-05 to
    2026-03-08``; past ``MAX_RUNS`` runs the oldest are counted, not listed (the newest
    matter most: a day can be recorded late only while the person remembers it)."""
    runs: list[list[date]] = []
    for d in dates:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    shown = [f"{r[0]}" if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs[-MAX_RUNS:]]
    hidden = sum(len(r) for r in runs[:-MAX_RUNS])
    return (f"{hidden} earlier days, " if hidden else "") + ", ".join(shown)


def _interruptions(s: Status) -> None:
    """Status lines for the pause today falls in, pauses ahead and lost containers."""
    now = s.pause_now
    if now is not None:
        click.echo(f"Paused: {now['from']} to {now['to']} ({now['reason']}); nothing to record")
    for p in s.pauses_ahead:
        click.echo(f"Pause ahead: {p['from']} to {p['to']} ({p['reason']})")
    for x in s.lost:
        click.echo(f"Container {x['code']}: {x['what']} on {x['date']}")


@click.command()
@trial_option
@output_option("Write here (default stdout; FILE.html: a printable calendar).")
@click.option(
    "--remind-at",
    metavar="HH:MM",
    help="Check-in time: each day becomes a timed event with a reminder then, in the trial's "
    "time zone (default: the protocol's checkin.remind_at, else all-day events, no reminder).",
)
@click.pass_context
def calendar(
    ctx: click.Context, trial_dir: Path, output: Path | None, remind_at: str | None
) -> None:
    """Check-in days as .ics (default) or a printable page (-o FILE.html); no arm information.

    Event titles lead with what to do ("Dose + rate · bag 2", "Rate only", "Washout"); the
    description holds the detail.  The printable page groups the days by week, marks dose
    days, bags and washouts with symbols and words, and leaves room to write.
    """
    from blindself.services.calendar import calendar_html, calendar_ics

    remind = None
    if remind_at is not None:
        import re
        from datetime import time

        m = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", remind_at)
        if m is None:
            raise click.BadParameter("use HH:MM, e.g. 08:30", param_hint="--remind-at")
        remind = time(int(m.group(1)), int(m.group(2)))
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        emit(calendar_html(trial_dir), output)
    else:
        emit(calendar_ics(trial_dir, service_context(ctx), remind), output)


@click.command()
@trial_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--all", "include_all", is_flag=True, help="Include superseded entries.")
@output_option("Write here (default stdout).")
def export(trial_dir: Path, fmt: str, include_all: bool, output: Path | None) -> None:
    """Tidy data; arms appear only after unblinding."""
    from blindself.services.export import export_trial

    emit(export_trial(trial_dir, fmt, include_all), output)


@click.command()
@trial_option
@click.option(
    "--expect-head",
    help="A log head SEQ:HEX kept earlier (16 to 64 hex digits after the colon); proves "
    "entries 1..SEQ unchanged (not later ones).",
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

    Exit status: 0 all checks pass; 1 the log, the seal or the protocol is damaged; 2 the
    --expect-head value is malformed or too short (nothing was checked); 3 the commitment
    does not match; 4 the log is intact but does not match the head you gave.
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
            f"{service_context(ctx).now().date()}; keep this line outside "
            f"this computer (post it, or mail it to yourself): `blindself verify "
            f"--expect-head {result.head}` then proves entries 1..{seq} unchanged"
        )
    if not result.commitment_ok:
        raise CommitmentMismatch(
            "the commitment does not match (see above): do not trust this trial's result"
        )
    if result.head_mismatch:
        raise HeadMismatch(
            "the log does not match the head you gave (see above): check the head you kept; "
            "if it is exact, restore the trial from a backup"
        )
    if not result.ok:
        raise BlindselfError("verification failed; restore the trial from a backup and report it")


@click.command()
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
@click.command()
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
        trial_dir, port=port, lan=lan, context=service_context(ctx), token_bytes=secrets.token_bytes
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


COMMANDS = (
    status,
    calendar,
    export,
    verify,
    backup,
    serve,
)
