"""Emergency code-break: open one container's code, logged (docs/design.md#concepts; threat T-34
there).

Order of events, chosen so that a bad input leaves the trial unchanged and nothing is
ever revealed without a log entry:

1. validate the code and the reason against the public schedule (no key needed);
2. open the seal with the passphrase or recovery key and check it against the commitment
   recorded at init (a wrong passphrase or a replaced seal is refused here, and nothing is
   logged: the rule "bad input leaves the store unchanged" wins over logging the attempt);
3. append the ``codebreak`` entry and commit it durably;
4. only then return the code's arm to the caller, which prints it.

The entry holds the code, the reason, the time and the codes the design implies (the
code's block partners), never an arm: it is computed from public facts only, so the log
stays free of allocation content until unblinding.  The analysis leaves the days of every
broken or implied code out of the blinded comparison.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from blindself.errors import TrialStateError
from blindself.services.context import Context
from blindself.services.unblinding import open_allocation
from blindself.trial.checkins import check_free_text
from blindself.trial.codes import format_code, match_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.schedule import scheme_of

KIND = "codebreak"


@dataclass(frozen=True)
class CodebreakPlan:
    """A validated request, before any key is used; codes are canonical (no hyphen)."""

    code: str
    reason: str
    implied: tuple[str, ...]


@dataclass(frozen=True)
class CodebreakResult:
    """What the break revealed; ``code`` and ``implied`` in display form (``K7M2-X``)."""

    code: str
    arm: str
    arm_label: str
    implied: tuple[str, ...]
    entry: Entry
    opened_before: bool  # this code had been broken (or implied) by an earlier break
    still_sealed: int  # codes neither broken nor implied by any break so far


def prepare_codebreak(trial_dir: Path, code: str, reason: str | None) -> CodebreakPlan:
    """Check a code-break request without touching the seal (run it before asking a secret)."""
    with opened_trial(trial_dir, readonly=True) as trial:
        return _plan(trial, code, reason)


def codebreak_code(
    trial_dir: Path,
    code: str,
    reason: str | None,
    ctx: Context,
    *,
    passphrase: str | None = None,
    recovery_key: str | None = None,
) -> CodebreakResult:
    """Open one code in an emergency: log the break, then reveal only that code's arm."""
    with opened_trial(trial_dir) as trial:
        plan = _plan(trial, code, reason)
        doc, _ = open_allocation(
            trial,
            passphrase=passphrase,
            recovery_key=recovery_key,
            consequence="what it says cannot be trusted, and nothing was logged",
        )
        arm = doc.arm_of(plan.code)
        payload = {
            "code": plan.code,
            "reason": plan.reason,
            "time": ctx.now().isoformat(),
            "implied": list(plan.implied),
        }
        with trial.store.transaction() as tx:
            entries = tx.entries()
            _refuse_if_unblinded(entries)
            earlier = _opened_codes(entries)
            entry = tx.append(KIND, None, payload)
        # The entry is committed: from here on the arm may be shown.
        opened = earlier | {plan.code, *plan.implied}
        label = next((a.label for a in trial.protocol.arms if a.name == arm), arm)
        return CodebreakResult(
            code=format_code(plan.code),
            arm=arm,
            arm_label=label,
            implied=tuple(format_code(c) for c in plan.implied),
            entry=entry,
            opened_before=plan.code in earlier,
            still_sealed=len(set(trial.schedule.codes) - opened),
        )


def implied_codes(trial: Trial, code: str) -> tuple[str, ...]:
    """The codes a reveal of ``code`` compromises through the design, sorted.

    Under ``blocks`` these are the other codes of its block (in a two-arm block, knowing one
    arm names the other).  Under ``complete`` randomization one reveal shifts the odds of the
    others only slightly, so none is implied unless the counts let a single reveal settle
    every other code (e.g. one active period among placebos).
    """
    schedule = trial.schedule
    scheme = scheme_of(trial.protocol)
    if scheme.kind == "complete":
        counts = Counter(dict(scheme.counts))
        settles = any(
            sum(1 for b, n in counts.items() if n - (b == a) > 0) <= 1 for a in counts if counts[a]
        )
        return tuple(sorted(c for c in schedule.codes if c != code)) if settles else ()
    if schedule.bags:  # self mode: a bag is a block
        bag = schedule.bag_of(code)
        group = schedule.bags[bag] if bag is not None else ()
    else:
        period = schedule.period_code.index(code)
        size = scheme.block_size
        first = scheme.block_of(period) * size
        group = schedule.period_code[first : first + size]
    return tuple(sorted(c for c in group if c != code))


def _plan(trial: Trial, code: str, reason: str | None) -> CodebreakPlan:
    _refuse_if_unblinded(trial.store.entries("unblind"))
    canonical = match_code(code, trial.schedule.codes)
    text = (reason or "").strip()
    if not text:
        raise TrialStateError(
            "a code-break needs --reason TEXT (why you open the code; it is logged)"
        )
    check_free_text(text, "the reason", TrialStateError)
    return CodebreakPlan(canonical, text, implied_codes(trial, canonical))


def _refuse_if_unblinded(entries: list[Entry]) -> None:
    if any(e.kind == "unblind" for e in entries):
        raise TrialStateError(
            "the trial is unblinded: every code is open; see blindself report or export"
        )


def _opened_codes(entries: list[Entry]) -> set[str]:
    out: set[str] = set()
    for e in entries:
        if e.kind == KIND:
            out.add(str(e.payload.get("code")))
            out.update(str(c) for c in e.payload.get("implied", []))
    return out
