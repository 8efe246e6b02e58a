"""The log's schema: the table, its append-only guards, and the check that a file holds exactly them.

A trigger added with the sqlite3 shell can drop or rewrite every insert while the commands
report success, so nothing is trusted until the schema is exactly blindself's own
(docs/design.md#log, threat T-39 there).
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x424C5346  # "BLSF" in the SQLite header


SCHEMA_VERSION = 1


# Every schema object except SQLite's statistics tables (ANALYZE; they only steer the query
# planner).  Its own autoindexes (the UNIQUE columns) are part of the expected schema.  Only
# the two tables ANALYZE writes are exempt, by type and exact name: a trigger or view merely
# named ``sqlite_stat9`` (possible with writable_schema) must not hide (review F1).
_SELECT_SCHEMA = (
    "SELECT type, name, tbl_name, sql FROM sqlite_schema"
    " WHERE NOT (type = 'table' AND name IN ('sqlite_stat1', 'sqlite_stat4'))"
    " ORDER BY type, name"
)


_TABLE = """CREATE TABLE entries (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    kind TEXT NOT NULL,
    day TEXT,
    payload TEXT NOT NULL,
    supersedes INTEGER REFERENCES entries(seq) CHECK (supersedes < seq),
    prev_hash TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE
)"""


# verify checks that the table and its guards exist exactly as written here.
_TRIGGERS = {
    "entries_no_update": """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'blindself: the trial log is append-only'); END""",
    "entries_no_delete": """CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'blindself: the trial log is append-only'); END""",
    "entries_linear": """CREATE TRIGGER entries_linear BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM entries)
  OR (NEW.seq > 1 AND NEW.prev_hash IS NOT (SELECT hash FROM entries WHERE seq = NEW.seq - 1))
BEGIN SELECT RAISE(ABORT, 'blindself: an entry must extend the head of the log'); END""",
}


def build_schema(conn: sqlite3.Connection) -> None:
    conn.execute(_TABLE)
    for ddl in _TRIGGERS.values():
        conn.execute(ddl)


def _read_schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return [(str(t), str(n), str(tb), sql) for t, n, tb, sql in conn.execute(_SELECT_SCHEMA)]


def _expected_schema() -> list[tuple[str, str, str, str | None]]:
    """What :meth:`Store.create` makes, read back from SQLite itself (autoindexes included)."""
    global _EXPECTED
    if _EXPECTED is None:
        mem = sqlite3.connect(":memory:")
        try:
            build_schema(mem)
            _EXPECTED = _read_schema(mem)
        finally:
            mem.close()
    return _EXPECTED


_EXPECTED: list[tuple[str, str, str, str | None]] | None = None


def schema_problem(conn: sqlite3.Connection) -> str | None:
    """Name the first schema object that differs from blindself's own (docs/design.md T-39).

    A trigger added with the sqlite3 shell can drop or rewrite every insert while the
    commands report success, so nothing is trusted until the schema is exactly ours.
    """
    found = _read_schema(conn)
    expected = _expected_schema()
    if found == expected:
        return None
    for obj in found:
        if obj not in expected:
            return (
                f"holds a {obj[0]} {obj[1]!r} that blindself did not create, or that was changed "
                "outside blindself (e.g. with the sqlite3 shell)"
            )
    missing = next(obj for obj in expected if obj not in found)
    return f"has lost its {missing[0]} {missing[1]!r} (removed outside blindself)"


SELECT_ENTRIES = "SELECT seq, kind, day, payload, supersedes, prev_hash, hash FROM entries"


SELECT_ALL = SELECT_ENTRIES + " ORDER BY seq"
