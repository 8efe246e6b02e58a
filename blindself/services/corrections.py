"""Corrections of recorded check-ins that need more than one entry (issue 11 item 5).

A person who typed two containers' codes the wrong way round (each on the other's day)
could not fix it with ``--replace``: a code may belong to one period only, so the first
replacement was refused while the other day still held that code.  ``swap_codes`` writes
every correcting entry in one transaction, so the log is never half-corrected, and it
uses the public schedule only (codes, periods, bags), so it reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from blindself.errors import CheckinError
from blindself.services.context import Context
from blindself.trial.checkins import check_free_text, code_deviations
from blindself.trial.codes import format_code
from blindself.trial.folder import opened_trial
from blindself.trial.progress import current_checkins


@dataclass(frozen=True)
class SwapOutcome:
    """The codes exchanged and the correction entries written, one per affected day."""

    first: str
    second: str
    days: tuple[tuple[str, str, str], ...]  # (date, old code, new code), display form
    seqs: tuple[int, ...]


def swap_codes(
    trial_dir: Path, first: date, second: date, reason: str | None, ctx: Context
) -> SwapOutcome:
    """Exchange the codes recorded on two days, on every day of their two periods."""
    text = (reason or "").strip()
    if not text:
        raise CheckinError("a correction needs --reason TEXT (why the codes were wrong; logged)")
    check_free_text(text, "the reason")
    with opened_trial(trial_dir) as trial, trial.store.transaction() as tx:
        entries = tx.entries()
        if any(e.kind == "unblind" for e in entries):
            raise CheckinError("the trial is unblinded; check-ins for trial days are closed")
        current = current_checkins(entries)
        picked = []
        for when in (first, second):
            entry = current.get(when.isoformat())
            if entry is None or not entry.payload.get("code"):
                raise CheckinError(
                    f"{when} has no recorded container code to swap; check the dates"
                )
            picked.append(entry)
        x, y = (str(e.payload["code"]) for e in picked)
        if x == y or picked[0].payload.get("period") == picked[1].payload.get("period"):
            raise CheckinError(
                f"{first} and {second} hold the same container ({format_code(x)}); "
                "a swap needs two days of different periods"
            )
        # A code belongs to one period (check-ins enforce it), so exchanging the two codes
        # on every day that holds either keeps each period on one container.
        other = {x: y, y: x}
        changed, seqs = [], []
        now = ctx.now().isoformat()
        for day_iso, e in sorted(current.items()):
            old = e.payload.get("code")
            if old not in other:
                continue
            day = trial.calendar.day(date.fromisoformat(day_iso))
            if day is None:  # a check-in outside the calendar cannot be in the log
                continue
            payload = dict(e.payload)
            payload.update(
                code=other[old],
                deviation=code_deviations(trial, day, other[old]),
                recorded_at=now,
                reason=text,
            )
            seqs.append(tx.append("correction", day_iso, payload, supersedes=e.seq).seq)
            changed.append((day_iso, format_code(old), format_code(other[old])))
    return SwapOutcome(format_code(x), format_code(y), tuple(changed), tuple(seqs))
