"""The trial log's hash chain (docs/design.md#log): entry hashes, walking and anchoring.

Each entry's hash is SHA-256 over a domain tag and the RFC 8785 canonical JSON of its seq,
kind, day, payload, the entry it supersedes and the previous entry's hash; the first entry's
"previous hash" is derived from the trial id.  A walk over the stored rows names the first
entry that was edited, removed or reordered, and an externally kept head (``SEQ:HEX``) also
catches a recomputed chain or a cut-off tail in entries 1..SEQ (not after SEQ).

No database code: rows come in as plain tuples from :mod:`blindself.trial.log.store`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import rfc8785

from blindself.errors import HeadFormatError

_ENTRY_TAG = b"blindself-entry-v1\x00"
_GENESIS_TAG = b"blindself-genesis-v1\x00"
_HEAD_RE = re.compile(r"^\s*(\d{1,12}):([0-9a-fA-F]{16,64})\s*$")
# A head cut short, as copied by hand or written in documentation ("12:ab34...").
_SHORT_HEAD_RE = re.compile(r"^\s*(\d{1,12}):([0-9a-fA-F]{0,15})(\.\.\.|\u2026)?\s*$")
HEAD_FORM = (
    "SEQ:HEX, the entry number, a colon and 16 to 64 hex digits (0-9, a-f), "
    "e.g. 12:3f9c0a1b2c3d4e5f, as printed by blindself checkin or verify"
)
_TYPO_DIGITS = 2  # a head within this many wrong digits of an entry's hash was miscopied

# A stored row: (seq, kind, day, payload text, supersedes, prev_hash, hash).
Row = tuple[Any, ...]


def parse_head(text: str) -> tuple[int, str]:
    """Parse an anchored head ``SEQ:HEX`` as printed by ``blindself verify`` (64 hex digits)
    or ``checkin`` (the first 16: 64 bits, plenty to expose a rewrite of entries 1..SEQ).

    Examples
    --------
    >>> parse_head("2:" + "AB" * 32)[0]
    2
    """
    m = _HEAD_RE.match(text)
    if m is not None and int(m.group(1)) >= 1:
        return int(m.group(1)), m.group(2).lower()
    short = _SHORT_HEAD_RE.match(text)
    if short is not None and int(short.group(1)) >= 1:
        # Issue 16: a shortened head read like a failed check; say what is missing instead.
        n = len(short.group(2))
        raise HeadFormatError(
            f"{text.strip()[:80]!r} is too short: it has {n} hex digit{'s' * (n != 1)} after "
            f"the colon and a head needs 16 to 64; copy the whole head ({HEAD_FORM})"
        )
    raise HeadFormatError(f"{text[:80]!r} is not a head: give {HEAD_FORM}")


def _json_int(text: str) -> int | float:
    # RFC 8785 numbers are doubles: an integral double past 2**53 is printed without a
    # fraction, so it must come back as a float to be canonicalised again.
    value = int(text)
    return value if abs(value) < 2**53 else float(value)


def loads(text: str) -> Any:
    """Parse a stored payload so that :func:`canonical` gives its text back."""
    return json.loads(text, parse_int=_json_int)


def canonical(obj: Any) -> str:
    """The RFC 8785 canonical JSON text of ``obj``, as stored and hashed."""
    return rfc8785.dumps(obj).decode("utf-8")


def genesis_prev(trial_id: str) -> str:
    """The previous-hash of entry 1, bound to the trial id."""
    return hashlib.sha256(_GENESIS_TAG + trial_id.encode("utf-8")).hexdigest()


def entry_hash(
    seq: int, kind: str, day: str | None, payload: Any, supersedes: int | None, prev: str
) -> str:
    """The hex SHA-256 of one entry, chained to the previous entry's hash ``prev``."""
    doc = {
        "seq": seq,
        "kind": kind,
        "day": day,
        "payload": payload,
        "supersedes": supersedes,
        "prev_hash": prev,
    }
    return hashlib.sha256(_ENTRY_TAG + rfc8785.dumps(doc)).hexdigest()


def first_break(rows: Sequence[Row]) -> tuple[int, str] | None:
    """The first broken entry of rows ordered by seq, as (seq, problem), or None."""
    if not rows:
        return 1, "the log is empty: its first entry is missing"
    prev = ""
    for expected, (seq, kind, day, text, supersedes, prev_hash, digest) in enumerate(rows, 1):
        if seq != expected:
            return expected, f"entry {expected} is missing (the log jumps to entry {seq})"
        try:
            payload = loads(text)
            if canonical(payload) != text:
                raise ValueError("not canonical")
            again = entry_hash(seq, kind, day, payload, supersedes, prev_hash)
        except (TypeError, ValueError, RecursionError):
            again = None
        if again is None or again != digest:
            return seq, f"entry {seq} was edited (its content no longer matches its hash)"
        if seq == 1:
            trial_id = payload.get("trial_id") if isinstance(payload, dict) else None
            if kind != "init" or not isinstance(trial_id, str):
                return 1, "entry 1 is not the trial's first entry"
            prev = genesis_prev(trial_id)
        if prev_hash != prev:
            return seq, f"entry {seq} does not follow entry {seq - 1} (removed or reordered rows)"
        if seq > 1 and kind == "init":
            return seq, f"entry {seq} claims to start the trial"
        prev = digest
    return None


def anchor_break(rows: Sequence[Row], expect_head: tuple[int, str]) -> tuple[int, str] | None:
    """Where an intact chain departs from an anchored head, as (seq, problem), or None."""
    seq, want = expect_head
    if seq < 1:
        raise ValueError("expect_head's seq must be >= 1")
    head_seq = rows[-1][0] if rows else 0
    if seq > head_seq:
        return (
            head_seq + 1,
            f"the log ends at entry {head_seq} but the anchored head is entry {seq}: "
            "entries were removed, or the number before the colon is mistyped",
        )
    if not str(rows[seq - 1][6]).startswith(want.lower()):
        return seq, f"entry {seq} differs from the anchored head: {_mismatch_hint(rows, seq, want)}"
    return None


def _mismatch_hint(rows: Sequence[Row], seq: int, want: str) -> str:
    """Whether a head that does not match looks miscopied, or names a rewritten log.

    A rewritten entry has a new SHA-256, which agrees with the old one in about 1 digit in
    16; so a head one or two digits away from the entry's hash, or equal to another entry's
    hash, was copied wrongly (docs/design.md#verify-exit-statuses).
    """
    want = want.lower()
    stored = str(rows[seq - 1][6])[: len(want)]
    wrong = sum(a != b for a, b in zip(stored, want, strict=True))
    other = next((r[0] for r in rows if str(r[6]).startswith(want)), None)
    if other is not None:
        return (
            f"its digits are those of entry {other}: the number before the colon is probably "
            f"mistyped (try {other}:{want})"
        )
    if wrong <= _TYPO_DIGITS:
        return (
            f"{wrong} of its {len(want)} hex digits differ{'s' * (wrong == 1)}, which points "
            "to a copying mistake (a rewritten log differs in most digits); check the head "
            "you kept, character by character"
        )
    return (
        f"if the head was copied exactly, the log was rewritten at or before entry {seq}; "
        "check it character by character against the one you kept"
    )
