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
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins


@dataclass(frozen=True)
class SwapChange:
    """One day a swap rewrites: its code before and after, and its deviation flags."""

    date: str
    old: str  # display form
    new: str
    flags_before: tuple[str, ...]
    flags_after: tuple[str, ...]

    @property
    def newly_deviating(self) -> bool:
        """A day recorded without a deviation that the swap turns into a deviating one."""
        return not self.flags_before and bool(self.flags_after)


@dataclass(frozen=True)
class SwapOutcome:
    """The codes exchanged and the correction entries written, one per affected day."""

    first: str
    second: str
    days: tuple[tuple[str, str, str], ...]  # (date, old code, new code), display form
    seqs: tuple[int, ...]
    changes: tuple[SwapChange, ...] = ()


class SwapNeedsConfirmation(CheckinError):
    """The swap would turn days recorded without a deviation into deviating ones (review F16).

    Such days are usually left out of the comparison, so the swap is written only when the
    caller confirms it (``confirmed=True``); nothing was written.  ``changes`` says which days.
    """

    def __init__(self, message: str, changes: tuple[SwapChange, ...]) -> None:
        super().__init__(message)
        self.changes = changes


def swap_codes(
    trial_dir: Path,
    first: date,
    second: date,
    reason: str | None,
    ctx: Context,
    *,
    confirmed: bool = False,
) -> SwapOutcome:
    """Exchange the codes recorded on two days, on every day of their two periods.

    A swap that turns days without a deviation into deviating ones (a container from another
    bag or block, another period's container) raises :class:`SwapNeedsConfirmation` unless
    ``confirmed``; the check runs inside the writing transaction, so what was confirmed is what
    is written.  Uses the public schedule only: the same days are named whichever code is active.
    """
    text = (reason or "").strip()
    if not text:
        raise CheckinError("a correction needs --reason TEXT (why the codes were wrong; logged)")
    check_free_text(text, "the reason")
    with opened_trial(trial_dir) as trial, trial.store.transaction() as tx:
        entries = tx.entries()
        x, y, changes, superseded = _plan(trial, entries, first, second)
        worse = tuple(c for c in changes if c.newly_deviating)
        if worse and not confirmed:
            raise SwapNeedsConfirmation(
                f"swapping {format_code(x)} and {format_code(y)} turns "
                f"{_days(len(worse))} recorded without a deviation into deviating ones ("
                + "; ".join(f"{c.date}: {c.new}, {', '.join(c.flags_after)}" for c in worse)
                + "), usually left out of the comparison; nothing was changed",
                tuple(changes),
            )
        now = ctx.now().isoformat()
        seqs = []
        for change, (e, new) in zip(changes, superseded, strict=True):
            payload = dict(e.payload)
            payload.update(
                code=new,
                deviation=list(change.flags_after),
                recorded_at=now,
                reason=text,
            )
            seqs.append(tx.append("correction", change.date, payload, supersedes=e.seq).seq)
    return SwapOutcome(
        format_code(x),
        format_code(y),
        tuple((c.date, c.old, c.new) for c in changes),
        tuple(seqs),
        tuple(changes),
    )


def _plan(
    trial: Trial, entries: list[Entry], first: date, second: date
) -> tuple[str, str, list[SwapChange], list[tuple[Entry, str]]]:
    """The two codes and every day the swap rewrites, with the entries it supersedes."""
    if any(e.kind == "unblind" for e in entries):
        raise CheckinError("the trial is unblinded; check-ins for trial days are closed")
    current = current_checkins(entries)
    picked = []
    for when in (first, second):
        entry = current.get(when.isoformat())
        if entry is None or not entry.payload.get("code"):
            raise CheckinError(f"{when} has no recorded container code to swap; check the dates")
        picked.append(entry)
    x, y = (str(e.payload["code"]) for e in picked)
    if x == y or picked[0].payload.get("period") == picked[1].payload.get("period"):
        raise CheckinError(
            f"{first} and {second} hold the same container ({format_code(x)}); "
            "a swap needs two days of different periods"
        )
    # Exchanging the two codes on every day that holds either keeps each period on the
    # containers it had, each under the other's code.
    other = {x: y, y: x}
    changes: list[SwapChange] = []
    superseded: list[tuple[Entry, str]] = []
    for day_iso, e in sorted(current.items()):
        old = e.payload.get("code")
        if old not in other:
            continue
        day = trial.calendar.day(date.fromisoformat(day_iso))
        if day is None:  # a check-in outside the calendar cannot be in the log
            continue
        flags = tuple(code_deviations(trial, day, other[old]))
        changes.append(
            SwapChange(
                day_iso,
                format_code(old),
                format_code(other[old]),
                tuple(e.payload.get("deviation", ())),
                flags,
            )
        )
        superseded.append((e, other[old]))
    return x, y, changes, superseded


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"
