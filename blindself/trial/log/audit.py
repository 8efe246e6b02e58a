"""Checking a log: its file, its hash chain (against an anchor) and its schema.

What ``blindself verify`` reports for the log (docs/design.md#log).  Reads only; never repairs
anything.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from blindself.trial.log.chain import anchor_break, first_break
from blindself.trial.log.database import ADVICE, sqlite_errors
from blindself.trial.log.schema import SELECT_ALL, schema_problem


@dataclass(frozen=True)
class VerifyReport:
    """The result of walking the chain; ``anchored`` is True only if ``expect_head`` matched."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    anchored: bool
    # The chain is intact but does not match the given head (a miscopied head or a rewrite).
    head_mismatch: bool = False


def verify_log(
    conn: sqlite3.Connection, path: Path, expect_head: tuple[int, str] | None = None
) -> VerifyReport:
    """Walk the chain of an open log and name the first broken entry; ``expect_head`` anchors it.

    The file's own integrity check, the chain, the anchor and the schema, in that order: the
    first problem found is the one reported.
    """
    with sqlite_errors(path, writing=False):
        damage = [r[0] for r in conn.execute("PRAGMA integrity_check(1)").fetchall()]
        rows = conn.execute(SELECT_ALL).fetchall()
        foreign = schema_problem(conn)
    head_seq, head_hash = (rows[-1][0], str(rows[-1][6])) if rows else (0, "")

    def report(
        problem: str | None, bad: int | None = None, anchored: bool = False, mismatch: bool = False
    ) -> VerifyReport:
        return VerifyReport(
            problem is None, len(rows), head_seq, head_hash, bad, problem, anchored, mismatch
        )

    if damage != ["ok"]:
        return report(f"the database file is damaged ({damage[0]}); {ADVICE}")
    bad = first_break(rows)
    if bad is not None:
        return report(bad[1], bad[0])
    if expect_head is not None:
        off = anchor_break(rows, expect_head)
        if off is not None:
            return report(off[1], off[0], mismatch=True)
    anchored = expect_head is not None
    if foreign is not None:
        return report(f"the database {foreign}")
    return report(None, None, anchored)
