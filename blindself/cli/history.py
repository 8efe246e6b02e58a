"""Looking back: ``blindself log``, the past days as recorded (never an arm before unblinding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from blindself.cli.options import BoundedInt, parse_date, service_context, trial_option

if TYPE_CHECKING:
    from blindself.services.history import History, LoggedDay, Version


@click.command("log")
@trial_option
@click.option("--from", "since", metavar="DATE", help="First day to show (YYYY-MM-DD).")
@click.option("--to", "until", metavar="DATE", help="Last day to show (YYYY-MM-DD).")
@click.option("--last", type=BoundedInt(1, 100_000), help="Only the newest N days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@click.pass_context
def log(
    ctx: click.Context,
    trial_dir: Path,
    since: str | None,
    until: str | None,
    last: int | None,
    as_json: bool,
) -> None:
    """Past days: date, code, ratings, guess, note, corrections and flags (missed, wrong bag,
    other day's container, no capsule, code-break).

    Before unblinding it shows no arm; after unblinding each day also shows the arm its
    period is analysed under.
    """
    from blindself.services.history import trial_history

    first = parse_date(since, "--from")
    end = parse_date(until, "--to")
    if first is not None and end is not None and first > end:
        raise click.BadParameter(f"{first} is after --to {end}", param_hint="--from")
    history = trial_history(trial_dir, service_context(ctx), first, end, last)
    if as_json:
        click.echo(json.dumps(history.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(history_text(history), nl=False)


def history_text(h: History) -> str:
    """The human form: one line per day, then indented lines for the note, flags and every
    superseded version (what it said, and when and why it was replaced)."""
    from blindself.trial.measures import rows_text

    lines = [f"{h.title} (trial {h.trial_id}), today {h.today}"]
    if not h.days:
        lines.append("No past days to show yet.")
    due = [_due(d) for d in h.days]
    width = max((len(x) for x in due), default=0)
    if h.days:
        lines.append(f"{'date':<14} {'day':<8} {'due':<{width}} recorded")
    for d, what in zip(h.days, due, strict=True):
        if d.current is not None:
            recorded = _values(d.current)
        else:
            recorded = "not recorded" if "missed" in d.flags else "nothing due"
        arm = f"  arm: {d.arm}" if d.arm else ""
        lines.append(
            f"{d.date} {d.date.strftime('%a')} {d.day_type:<8} {what:<{width}} {recorded}{arm}"
        )
        if d.current is not None and d.current.note:
            lines.append(f"    note: {d.current.note}")
        for i in d.imported:
            where = rows_text(i.source.get("rows"))
            again = f"; replaced {i.replaced} earlier" if i.replaced else ""
            lines.append(
                f"    imported: {i.outcome}={i.value:g} from {i.source.get('file')} {where} "
                f"(sha256 {str(i.source.get('sha256'))[:16]}..., {(i.imported_at or '')[:10]}"
                f"{again})"
            )
        if d.flags:
            lines.append(f"    flags: {', '.join(d.flags)}")
        later = [*d.earlier[1:], d.current]
        for old, new in zip(d.earlier, later, strict=False):
            if new is None:  # cannot happen: a day with earlier versions has a current one
                continue
            why = f': "{new.reason}"' if new.reason else ""
            when = (new.recorded_at or "")[:10]
            lines.append(f"    was: {_values(old)} (entry {old.seq}; replaced {when}{why})")
    for b in h.codebreaks:
        implied = f" (implies {', '.join(b.implied)})" if b.implied else ""
        lines.append(f"Code-break of {b.code}{implied} on {(b.time or '')[:10]}: {b.reason}")
    for x in h.lost:
        note = f": {x.note}" if x.note else ""
        lines.append(f"{x.what.capitalize()} container {x.code} on {x.date} (entry {x.seq}){note}")
    if not h.unblinded:
        lines.append("No arm is shown before unblinding.")
    return "\n".join(lines) + "\n"


def _due(d: LoggedDay) -> str:
    """What the schedule asked for that day: the container (helper mode) or the bag."""
    if d.container:
        return d.container
    return f"bag {d.bag}" if d.bag else "-"


def _values(v: Version) -> str:
    parts = []
    if v.code:
        parts.append(f"code {v.code}" + ("" if v.taken else " (not taken)"))
    if v.ratings:
        parts.append(" ".join(f"{k}={x:g}" for k, x in v.ratings.items()))
    if v.guess:
        conf = f" {v.confidence}%" if v.confidence is not None else ""
        parts.append(f"guess {v.guess}{conf}")
    return ", ".join(parts) if parts else "nothing rated"


COMMANDS = (log,)
