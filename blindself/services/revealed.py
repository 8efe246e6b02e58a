"""The revealed allocation, checked before any command uses it (docs/design.md T-40).

After unblinding, the allocation lives in the log's ``unblind`` entry.  Anyone with the
sqlite3 shell can swap its arms (and recompute the chain), so every command that shows a
result from it (``unblind`` again, ``report``, ``export``, ``share``) first hashes it
again, compares that with the commitment recorded at init, and walks the chain.  The
wording is ``verify``'s, so the person sees one diagnosis whichever command found it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from blindself.errors import BlindselfError, ChainError, CommitmentMismatch
from blindself.trial.allocation import AllocationDoc, parse_allocation
from blindself.trial.folder import Trial
from blindself.trial.log.store import Entry

# The same lines `blindself verify` prints.
MISMATCH = "commitment: MISMATCH: the revealed allocation does not hash to the init value"
CONSEQUENCE = "do not trust this trial's result; restore the trial from a backup and report it"


@dataclass(frozen=True)
class Revealed:
    """An allocation that hashes to the commitment recorded at init, in an intact log."""

    doc: AllocationDoc
    entry: Entry
    commitment: str


def revealed_matches(trial: Trial, entry: Entry) -> bool:
    """Whether the allocation stored in ``entry`` hashes to the init commitment."""
    from blindself.trial.seal.crypto import commitment  # cryptography stays off the daily path

    recorded = str(trial.genesis["commitment"])
    try:
        doc = parse_allocation(json.dumps(entry.payload["allocation"]).encode())
    except (BlindselfError, KeyError, TypeError, ValueError):
        return False
    return (
        commitment(doc.canonical()) == recorded
        and entry.payload.get("commitment") == recorded
        and doc.trial_id == trial.trial_id
        and doc.protocol_sha256 == trial.protocol.sha256
    )


def checked_unblinding(trial: Trial) -> Revealed | None:
    """The trial's revealed allocation after checking it; None while the trial is blinded.

    Raises CommitmentMismatch (exit 3) if the stored allocation does not hash to the init
    commitment (re-chained or not), and ChainError if the log is broken elsewhere.
    """
    entry = trial.unblinding()
    if entry is None:
        return None
    report = trial.store.verify()
    if not revealed_matches(trial, entry):
        broken = "" if report.ok else f" (and log: BROKEN at entry {report.first_bad_seq})"
        raise CommitmentMismatch(f"{MISMATCH}{broken}; {CONSEQUENCE}")
    if not report.ok:
        where = "" if report.first_bad_seq is None else f" at entry {report.first_bad_seq}"
        raise ChainError(f"log: BROKEN{where}: {report.problem}; {CONSEQUENCE}")
    doc = parse_allocation(json.dumps(entry.payload["allocation"]).encode())
    return Revealed(doc, entry, str(trial.genesis["commitment"]))
