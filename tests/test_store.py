"""The append-only, hash-chained trial log (docs/design.md#log; docs/design.md T-19..T-29)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

import blindself.trial.log.database as log_database
import blindself.trial.log.schema as log_schema
import blindself.trial.log.store as store_mod
from blindself.errors import StoreError
from blindself.trial.log.audit import VerifyReport
from blindself.trial.log.chain import parse_head
from blindself.trial.log.database import ADVICE
from blindself.trial.log.store import Store

ROOT = Path(__file__).resolve().parents[1]
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")

# Appends n entries as one worker; used for concurrent writers.
CHILD_APPEND = """
import sys
from pathlib import Path
from blindself.trial.log.store import Store
path, worker, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with Store.open(path) as store:
    for i in range(n):
        store.append("tick", None, {"worker": worker, "i": i})
"""

# Appends forever, printing each acknowledged seq; payload sizes vary so that kills land
# in page splits and overflow pages too.
CHILD_LOOP = """
import sys
from pathlib import Path
from blindself.trial.log.store import Store
with Store.open(Path(sys.argv[1])) as store:
    i = 0
    while True:
        entry = store.append("tick", None, {"i": i, "pad": "x" * (i * 397 % 5000)})
        sys.stdout.write(f"{entry.seq}\\n")
        sys.stdout.flush()
        i += 1
"""


def make(tmp_path: Path, n: int = 0, name: str = "trial.db") -> Store:
    store = Store.create(tmp_path / name, trial_id="trial-1", genesis={"start": "2024-03-01"})
    for i in range(n):
        store.append("checkin", f"2024-03-{i + 1:02d}", {"i": i, "mood": 5.5})
    return store


def tamper(path: Path, *sql: str, restore: bool = True) -> None:
    """Edit the database as an attacker with the sqlite3 CLI would: drop the guards, edit,
    and (a careful attacker) put the guards back."""
    conn = sqlite3.connect(path, isolation_level=None)
    for name in log_schema._TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in sql:
        conn.execute(statement)
    if restore:
        for ddl in log_schema._TRIGGERS.values():
            conn.execute(ddl)
    conn.close()


def rows(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM entries ORDER BY seq").fetchall()
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# ---------------------------------------------------------------- create, open, append


def test_create_open_round_trip(tmp_path: Path) -> None:
    with make(tmp_path, 3) as store:
        assert store.trial_id == "trial-1"
        written = store.entries()
    with Store.open(tmp_path / "trial.db", readonly=True) as again:
        assert again.trial_id == "trial-1"
        assert again.entries() == written
        assert again.head() == written[-1]
    genesis = written[0]
    assert (genesis.seq, genesis.kind, genesis.day, genesis.supersedes) == (1, "init", None, None)
    assert genesis.payload == {"start": "2024-03-01", "trial_id": "trial-1"}
    assert [e.seq for e in written] == [1, 2, 3, 4]
    assert [e.prev_hash for e in written[1:]] == [e.hash for e in written[:-1]]


def test_kinds_and_days_are_the_entries_without_payloads(tmp_path: Path) -> None:
    # status counts check-ins from this light read; it must list what entries() lists.
    with make(tmp_path, 5) as store:
        store.append("correction", "2024-03-02", {"date": "2024-03-02"}, supersedes=3)
        store.append("unblind", None, {"at": "2024-04-01"})
        assert store.kinds_and_days() == [(e.kind, e.day) for e in store.entries()]


def test_schema_header(tmp_path: Path) -> None:
    with make(tmp_path) as store:
        conn = store._db()
        pragmas = [
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("synchronous", "secure_delete", "foreign_keys", "busy_timeout")
        ]
    assert pragmas == [2, 1, 1, 10_000]  # FULL, ON, ON, 10 s
    conn = sqlite3.connect(tmp_path / "trial.db")
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == store_mod.APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    finally:
        conn.close()
    assert tables == {"entries"}  # nothing mutable beside the log


# Expected hashes from coreutils, independent of this code (H1 is the second line's output):
#   printf 'blindself-genesis-v1\0test-trial' | sha256sum                                 -> P
#   printf 'blindself-entry-v1\0{"day":null,"kind":"init","payload":{"trial_id":"test-trial"},\
#   "prev_hash":"%s","seq":1,"supersedes":null}' $P | sha256sum                           -> H1
#   printf 'blindself-entry-v1\0{"day":"2024-03-01","kind":"checkin","payload":{"mood":6.5,\
#   "note":"\xc3\xa9","z":1e+21},"prev_hash":"%s","seq":2,"supersedes":1}' $H1 | sha256sum -> H2
# (each printf format is one line; it is wrapped here only for width)
def test_golden_hashes(tmp_path: Path) -> None:
    p = "0f9962a692de87a69f7f31f5cdf1e3dc27f5794c84111f91bd007c4da2feffb9"
    h1 = "c8589d93c7459939f867aa5ac563f270732eb727c8ada6ed6d49289f0a9f36aa"
    h2 = "62791d076f95bcf4f39ded2a8c64ae9bef0ad339b33c15d314d4b35d564d3217"
    with Store.create(tmp_path / "t.db", trial_id="test-trial", genesis={}) as store:
        genesis = store.head()
        second = store.append("checkin", "2024-03-01", {"z": 1e21, "note": "é", "mood": 6.5}, 1)
    assert (genesis.prev_hash, genesis.hash) == (p, h1)
    assert (second.prev_hash, second.hash) == (h1, h2)
    # The stored payload is the RFC 8785 form (keys sorted, ECMAScript numbers, raw UTF-8).
    assert rows(tmp_path / "t.db")[1][3] == '{"mood":6.5,"note":"é","z":1e+21}'


def test_create_refuses_existing_paths(tmp_path: Path) -> None:
    make(tmp_path).close()
    before = (tmp_path / "trial.db").read_bytes()
    with pytest.raises(StoreError, match="already exists; blindself never overwrites"):
        make(tmp_path)
    assert (tmp_path / "trial.db").read_bytes() == before
    # A stale WAL beside a new path would be replayed into the new database: refuse it.
    (tmp_path / "new.db-wal").write_bytes(b"stale")
    with pytest.raises(StoreError, match=r"new\.db-wal already exists"):
        make(tmp_path, name="new.db")
    assert not (tmp_path / "new.db").exists()


def test_create_cleans_up_after_failure(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create"):
        Store.create(tmp_path / "no" / "dir" / "t.db", trial_id="x", genesis={})
    with pytest.raises(ValueError):
        Store.create(tmp_path / "t.db", trial_id="x", genesis={"bad": float("nan")})
    with pytest.raises(ValueError, match="differs"):
        Store.create(tmp_path / "t.db", trial_id="x", genesis={"trial_id": "y"})
    assert list(tmp_path.iterdir()) == []


def test_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask must still give 0600
    try:
        store = make(tmp_path, 1)
        store.backup(tmp_path / "copy.db")
    finally:
        os.umask(old)
    with store:
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["copy.db", "trial.db", "trial.db-shm", "trial.db-wal"]
        for p in tmp_path.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_append_supersedes_and_kinds(tmp_path: Path) -> None:
    with make(tmp_path, 2) as store:
        fix = store.append("correction", "2024-03-01", {"mood": 7}, supersedes=2)
        store.append("codebreak", None, {"code": "K7M2X"})
        assert fix.supersedes == 2
        assert [e.seq for e in store.entries("checkin")] == [2, 3]
        assert [e.kind for e in store.entries()] == [
            "init",
            "checkin",
            "checkin",
            "correction",
            "codebreak",
        ]
        assert store.entries("nothing") == []
        report = store.verify()
        head = store.head()
    assert report == VerifyReport(True, 5, 5, head.hash, None, None, False)


@pytest.mark.parametrize(
    ("kind", "day", "payload", "supersedes", "error"),
    [
        ("init", None, {}, None, ValueError),
        ("Bad Kind", None, {}, None, ValueError),
        ("", None, {}, None, ValueError),
        ("x", None, {}, 9, ValueError),
        ("x", None, {}, 0, ValueError),
        ("x", None, {"v": float("inf")}, None, ValueError),
        ("x", None, {"v": 2**60}, None, ValueError),
        ("x", None, {1: "non-string key"}, None, ValueError),
        ("x", 20240301, {}, None, TypeError),
    ],
)
def test_append_rejects_bad_entries(
    tmp_path: Path, kind: str, day: Any, payload: Any, supersedes: Any, error: type[Exception]
) -> None:
    with make(tmp_path, 1) as store:
        with pytest.raises(error):
            store.append(kind, day, payload, supersedes)
        assert store.head().seq == 2
        assert store.verify().ok


def test_payload_cannot_change_after_store(tmp_path: Path) -> None:
    with make(tmp_path) as store:
        payload = {"ratings": {"mood": 6}, "note": "fine"}
        entry = store.append("checkin", "2024-03-01", payload)
        payload["ratings"]["mood"] = 1
        entry.payload["note"] = "edited"
        assert store.entries("checkin")[0].payload == {"ratings": {"mood": 6}, "note": "fine"}
        assert store.verify().ok


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8), inner)
    ),
    max_leaves=12,
)


def test_payload_round_trip(tmp_path: Path) -> None:
    store = make(tmp_path)

    @settings(max_examples=40, deadline=None)
    @given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
    @example({"big": 1e16, "neg": -(2.0**60), "tiny": 5e-324, "zero": -0.0})
    def check(payload: dict[str, Any]) -> None:
        entry = store.append("note", None, payload)
        assert entry.payload == payload
        assert store.head() == entry

    with store:
        check()
        assert store.verify().ok


# ---------------------------------------------------------------- transactions


def test_transaction_commits_all_or_nothing(tmp_path: Path) -> None:
    with make(tmp_path, 1) as store:
        with store.transaction() as tx:
            a = tx.append("checkin", "2024-03-02", {"v": 1})
            b = tx.append("correction", "2024-03-02", {"v": 2}, supersedes=a.seq)
            assert [e.seq for e in tx.entries("correction")] == [b.seq]
        assert store.head() == b
        with pytest.raises(KeyError), store.transaction() as tx:
            tx.append("checkin", "2024-03-03", {"v": 3})
            raise KeyError("boom")
        assert store.head() == b
        with pytest.raises(RuntimeError, match="over"):
            tx.append("checkin", "2024-03-03", {"v": 3})
        with store.transaction(), pytest.raises(RuntimeError, match="nest"):
            with store.transaction():
                pass
        assert store.head() == b
        assert store.verify().ok
    assert [r[0] for r in rows(tmp_path / "trial.db")] == [1, 2, 3, 4]


# ---------------------------------------------------------------- tampering (T-27, T-28)


def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    make(tmp_path, 2).close()
    path = tmp_path / "trial.db"
    before = rows(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for sql in (
            "UPDATE entries SET payload = '{}' WHERE seq = 2",
            "DELETE FROM entries WHERE seq = 3",
            "INSERT INTO entries VALUES (9, 'x', NULL, '{}', NULL, 'a', 'b')",
            "INSERT INTO entries VALUES (4, 'x', NULL, '{}', NULL, 'a', 'b')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="blindself"):
                conn.execute(sql)
    finally:
        conn.close()
    assert rows(path) == before


@pytest.mark.parametrize(
    ("sql", "first_bad", "problem"),
    [
        (('UPDATE entries SET payload = \'{"i":0,"mood":9}\' WHERE seq = 3',), 3, "edited"),
        (('UPDATE entries SET payload = \'{"i": 1, "mood": 5.5}\' WHERE seq = 3',), 3, "edited"),
        (("UPDATE entries SET kind = 'correction' WHERE seq = 5",), 5, "edited"),
        (("UPDATE entries SET day = '2024-01-01' WHERE seq = 6",), 6, "edited"),
        (("UPDATE entries SET supersedes = 2 WHERE seq = 6",), 6, "edited"),
        (("UPDATE entries SET payload = 'not json' WHERE seq = 4",), 4, "edited"),
        (
            (f"UPDATE entries SET payload = '{'[' * 10**5}{']' * 10**5}' WHERE seq = 4",),
            4,
            "edited",
        ),
        (("DELETE FROM entries WHERE seq = 4",), 4, "entry 4 is missing"),
        (("DELETE FROM entries WHERE seq = 1",), 1, "entry 1 is missing"),
        (("DELETE FROM entries",), 1, "empty"),
        # swap the payloads of entries 3 and 6
        (
            (
                "CREATE TEMP TABLE t AS SELECT seq, payload FROM entries WHERE seq IN (3, 6)",
                "UPDATE entries SET payload = (SELECT payload FROM t WHERE t.seq = 9 - entries.seq)"
                " WHERE seq IN (3, 6)",
            ),
            3,
            "edited",
        ),
        # reorder: entries 4 and 5 trade places (seq numbers swapped)
        (
            (
                "UPDATE entries SET seq = 100 WHERE seq = 4",
                "UPDATE entries SET seq = 4 WHERE seq = 5",
                "UPDATE entries SET seq = 5 WHERE seq = 100",
            ),
            4,
            "edited",
        ),
    ],
)
def test_verify_names_first_bad_entry(
    tmp_path: Path, sql: tuple[str, ...], first_bad: int, problem: str
) -> None:
    make(tmp_path, 6).close()
    path = tmp_path / "trial.db"
    tamper(path, *sql)
    with Store.open(path, readonly=True) if first_bad > 1 else _RawStore(path) as store:
        report = store.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad
    assert report.problem is not None and problem in report.problem


class _RawStore:
    """A Store over a database whose first entry is gone (Store.open refuses those)."""

    def __init__(self, path: Path) -> None:
        with pytest.raises(StoreError, match="first entry"):
            Store.open(path)
        self.store = Store(store_mod.connect(path, "ro"), path, "trial-1", True)

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *args: object) -> None:
        self.store.close()


def _rehash(path: Path, start: int) -> None:
    """The attacker's move: recompute every hash from ``start`` on, so the chain is whole."""
    data = rows(path)
    prev = data[start - 2][6]
    fixed = []
    for seq, kind, day, payload, supersedes, _, _ in data[start - 1 :]:
        digest = store_mod._entry_hash(seq, kind, day, json.loads(payload), supersedes, prev)
        fixed.append((prev, digest, seq))
        prev = digest
    # Move hashes out of the way first: prev_hash and hash are UNIQUE.
    moves = [f"UPDATE entries SET prev_hash = 'x' || seq, hash = 'y' || seq WHERE seq >= {start}"]
    moves += [
        f"UPDATE entries SET prev_hash = '{p}', hash = '{h}' WHERE seq = {n}" for p, h, n in fixed
    ]
    tamper(path, *moves)


def test_wrong_prev_link_is_named(tmp_path: Path) -> None:
    make(tmp_path, 6).close()
    path = tmp_path / "trial.db"
    tamper(path, 'UPDATE entries SET payload = \'{"i":2,"mood":1}\' WHERE seq = 4')
    # Re-hash entry 4 only: its own hash matches again, entry 5 no longer links to it.
    data = rows(path)
    digest = store_mod._entry_hash(4, "checkin", data[3][2], {"i": 2, "mood": 1}, None, data[2][6])
    tamper(path, f"UPDATE entries SET hash = '{digest}' WHERE seq = 4")
    with Store.open(path, readonly=True) as store:
        report = store.verify()
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert report.problem is not None and "does not follow entry 4" in report.problem


def test_anchor_catches_tail_deletion(tmp_path: Path) -> None:
    with make(tmp_path, 6) as store:
        head = store.head()
    path = tmp_path / "trial.db"
    tamper(path, "DELETE FROM entries WHERE seq >= 6")
    with Store.open(path, readonly=True) as store:
        plain = store.verify()
        anchored = store.verify(expect_head=(head.seq, head.hash))
    # Without an anchor a cut tail cannot be seen, and the report says it was not anchored.
    assert (plain.ok, plain.anchored, plain.head_seq) == (True, False, 5)
    assert (anchored.ok, anchored.anchored, anchored.first_bad_seq) == (False, False, 6)
    assert anchored.problem is not None and "removed" in anchored.problem


def test_anchor_catches_recomputed_chain(tmp_path: Path) -> None:
    with make(tmp_path, 6) as store:
        anchor = store.entries()[4]
        head = store.head()
    path = tmp_path / "trial.db"
    tamper(path, 'UPDATE entries SET payload = \'{"i":1,"mood":9}\' WHERE seq = 3')
    _rehash(path, 3)
    with Store.open(path, readonly=True) as store:
        plain = store.verify()
        at_head = store.verify(expect_head=(head.seq, head.hash))
        earlier = store.verify(expect_head=(anchor.seq, anchor.hash.upper()))
    assert (plain.ok, plain.anchored) == (True, False)
    assert (at_head.ok, at_head.first_bad_seq) == (False, 7)
    assert (earlier.ok, earlier.first_bad_seq) == (False, 5)
    assert earlier.problem is not None and "rewritten" in earlier.problem


def test_anchor_accepts_later_appends(tmp_path: Path) -> None:
    with make(tmp_path, 2) as store:
        head = store.head()
        store.append("checkin", "2024-03-09", {"v": 1})
        report = store.verify(expect_head=parse_head(f"{head.seq}:{head.hash.upper()}"))
    assert (report.ok, report.anchored, report.head_seq) == (True, True, 4)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ((), "has lost its trigger 'entries_linear'"),  # the guards dropped, no row changed
        (  # the table rebuilt without its constraints, guards put back
            (
                "CREATE TABLE e2 (seq INTEGER PRIMARY KEY, kind, day, payload, supersedes,"
                " prev_hash, hash)",
                "INSERT INTO e2 SELECT * FROM entries",
                "DROP TABLE entries",
                "ALTER TABLE e2 RENAME TO entries",
                *log_schema._TRIGGERS.values(),
            ),
            "holds a table 'entries' that blindself did not create",
        ),
    ],
)
def test_changed_schema_is_refused_at_open(
    tmp_path: Path, sql: tuple[str, ...], named: str
) -> None:
    """T-39: every open compares the whole schema with blindself's own."""
    make(tmp_path, 2).close()
    path = tmp_path / "trial.db"
    tamper(path, *sql, restore=False)
    assert named in _refused(path, "outside blindself")


def test_schema_changed_while_open_is_reported_by_verify(tmp_path: Path) -> None:
    """An object added after the store was opened: verify names it, without 'entry None'."""
    with make(tmp_path, 2) as store:
        conn = sqlite3.connect(tmp_path / "trial.db", isolation_level=None)
        conn.execute("CREATE VIEW peek AS SELECT * FROM entries")
        conn.close()
        report = store.verify()
    assert (report.ok, report.first_bad_seq, report.entries) == (False, None, 3)
    assert report.problem is not None and "holds a view 'peek'" in report.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12:" + "ab" * 32, (12, "ab" * 32)),
        (" 3:" + "AB" * 32 + "\n", (3, "ab" * 32)),
    ],
)
def test_parse_head(text: str, expected: tuple[int, str]) -> None:
    assert parse_head(text) == expected


@pytest.mark.parametrize(
    "text", ["", "12", "0:" + "a" * 64, "-1:" + "a" * 64, "3:" + "a" * 15, "3:" + "g" * 64, "x:y"]
)
def test_parse_head_refuses(text: str) -> None:
    with pytest.raises(StoreError, match="SEQ:HEX"):
        parse_head(text)


# ---------------------------------------------------------------- refusing to open (T-25, T-26)


def test_missing_path_is_refused_and_not_created(tmp_path: Path) -> None:
    for path in (tmp_path / "trail.db", tmp_path / "nope" / "trial.db"):
        with pytest.raises(StoreError, match="no trial database there"):
            Store.open(path)
        assert not path.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="not a file"):
        Store.open(tmp_path)


def _refused(path: Path, match: str) -> str:
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match=match) as info:
            Store.open(path, readonly=readonly)
    assert path.read_bytes() == before  # never repaired, never rewritten
    return str(info.value)


def test_random_bytes_and_empty_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "trial.db"
    path.write_bytes(np.random.default_rng(1).bytes(8192))
    assert ADVICE in _refused(path, "not SQLite")
    path.write_bytes(b"")
    assert ADVICE in _refused(path, "is empty")
    path.write_bytes(b"SQLite format 3\x00" + np.random.default_rng(2).bytes(8192 - 16))
    assert ADVICE in _refused(path, "truncated or damaged|is damaged")


def test_truncated_database_is_refused(tmp_path: Path) -> None:
    make(tmp_path, 120).close()
    data = (tmp_path / "trial.db").read_bytes()
    page = 4096
    assert len(data) % page == 0 and len(data) // page >= 5
    cuts = [k * page for k in range(1, len(data) // page)]  # at every page boundary
    cuts += [page // 2, 100, page + 1, len(data) - 1, len(data) - 512]  # and off them
    for cut in cuts:
        path = tmp_path / f"cut{cut}.db"
        path.write_bytes(data[:cut])
        message = _refused(path, "damaged|truncated")
        assert message.endswith(ADVICE), cut


def test_foreign_sqlite_is_refused(tmp_path: Path) -> None:
    for app_id in (0, 0x0F055112):  # none, and another program's (Fossil's) id
        path = tmp_path / f"other{app_id}.db"
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA application_id = {app_id}")
        conn.execute("CREATE TABLE entries (x)")
        conn.commit()
        conn.close()
        assert ADVICE in _refused(path, f"another program \\(application id {app_id}\\)")


def test_future_and_unknown_schema_versions_are_refused(tmp_path: Path) -> None:
    make(tmp_path).close()
    path = tmp_path / "trial.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    assert "upgrade blindself" in _refused(path, "made by a newer blindself")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    assert ADVICE in _refused(path, "unknown schema version 0")


# ---------------------------------------------------------------- write failures (T-24)


def test_readonly_store_refuses_writes(tmp_path: Path) -> None:
    make(tmp_path, 1).close()
    with Store.open(tmp_path / "trial.db", readonly=True) as store:
        with pytest.raises(StoreError, match="read-only; nothing was recorded"):
            store.append("checkin", "2024-03-02", {})
        assert store.head().seq == 2


def test_read_only_files_refuse_writes(tmp_path: Path) -> None:
    """Permissions, not the read-only flag: as root, drop to 'nobody' with setpriv."""
    if os.geteuid() != 0:
        make(tmp_path, 1).close()
        (tmp_path / "trial.db").chmod(0o400)
        try:
            with Store.open(tmp_path / "trial.db") as store, pytest.raises(StoreError) as info:
                store.append("checkin", "2024-03-02", {})
        finally:
            (tmp_path / "trial.db").chmod(0o600)
        assert "check permissions" in str(info.value)
        assert len(rows(tmp_path / "trial.db")) == 2
        return
    python = _python_for_nobody()
    site = str(Path(rfc8785.__file__).resolve().parents[1])
    child = (
        "import sys\nfrom pathlib import Path\nfrom blindself.trial.log.store import Store, StoreError\n"
        "try:\n    with Store.open(Path(sys.argv[1])) as s:\n        s.append('x', None, {})\n"
        "except StoreError as e:\n    print(e)\nelse:\n    print('appended')\n"
    )
    work = Path(tempfile.mkdtemp(prefix="blindself-ro-"))
    try:
        work.chmod(0o755)
        make(work, 1).close()
        db = work / "trial.db"
        db.chmod(0o644)
        outputs = []
        for folder_mode in (0o755, 0o777):  # folder read-only for nobody; then writable
            work.chmod(folder_mode)
            out = subprocess.run(
                [*NOBODY, python, "-c", child, str(db)],
                env={**CHILD_ENV, "PYTHONPATH": f"{ROOT}{os.pathsep}{site}"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert out.returncode == 0, out.stderr
            outputs.append(out.stdout.strip())
        assert outputs[0].startswith(f"cannot use (read-only file or folder) {db}")
        assert outputs[1] == f"cannot write to {db}: check permissions; nothing was recorded"
        assert len(rows(db)) == 2
        assert integrity(db) == "ok"
    finally:
        shutil.rmtree(work)


def _python_for_nobody() -> str:
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is missing: cannot test as an unprivileged user")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (
        sys.executable,
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
    ):
        probe = subprocess.run(
            [*NOBODY, candidate, "-c", ""],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return candidate
    pytest.skip(f"no Python {version} that user 65534 may run (the venv's sits under /root?)")


def test_full_disk_records_nothing(tmp_path: Path) -> None:
    with make(tmp_path, 2) as store:
        before = store.entries()
        conn = store._db()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL
        with pytest.raises(StoreError, match="the disk is full: free space and retry") as info:
            store.append("checkin", "2024-03-03", {"note": "x" * 50_000})
        assert str(info.value).endswith("; nothing was recorded")
        assert store.entries() == before
        assert store.verify().ok
        conn.execute("PRAGMA max_page_count = 1000000")  # space freed: the store still works
        assert store.append("checkin", "2024-03-03", {"note": "x" * 50_000}).seq == 4


def test_busy_writer_gets_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_database, "BUSY_TIMEOUT_S", 0.2)
    with make(tmp_path, 1) as first, Store.open(tmp_path / "trial.db") as second:
        with first.transaction() as tx:
            tx.append("checkin", "2024-03-02", {})
            with pytest.raises(StoreError, match=r"the trial is busy \(another blindself"):
                second.append("checkin", "2024-03-03", {})
            assert [e.seq for e in second.entries()] == [1, 2]  # readers are not blocked
        assert second.append("checkin", "2024-03-03", {}).seq == 4
        assert first.verify().ok


@pytest.mark.parametrize(
    ("code", "writing", "expected"),
    [
        (13, True, "the disk is full: free space and retry; nothing was recorded"),
        (10, True, "input/output error (check the disk and its connection); nothing was recorded"),
        (10 | (2 << 8), False, "input/output error (check the disk and its connection)"),
        (8, True, "cannot write to {p}: check permissions; nothing was recorded"),
        (5, True, "the trial is busy (another blindself is writing); retry"),
        (6, False, "the trial is busy (another blindself is writing); retry"),
        (14, False, "cannot open {p}: check permissions of the file and its folder"),
        (11, False, "is damaged; " + ADVICE),
        (26, False, "is damaged; " + ADVICE),
    ],
)
def test_sqlite_errors_become_one_line(code: int, writing: bool, expected: str) -> None:
    exc = sqlite3.OperationalError("raw sqlite message")
    exc.sqlite_errorcode = code
    path = Path("/x/trial.db")
    error = log_database._translate(exc, path, writing=writing)
    assert isinstance(error, StoreError)
    assert expected.format(p=path) in str(error)
    assert "\n" not in str(error)


# ---------------------------------------------------------------- concurrency and crashes


def _spawn(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=CHILD_ENV, **kwargs)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    make(tmp_path).close()
    path = tmp_path / "trial.db"
    workers = [
        _spawn(CHILD_APPEND, str(path), str(w), "150", stderr=subprocess.PIPE) for w in range(4)
    ]
    for proc in workers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store.open(path, readonly=True) as store:
        entries = store.entries()
        report = store.verify()
    assert report.ok
    assert [e.seq for e in entries] == list(range(1, 602))
    ticks = {(e.payload["worker"], e.payload["i"]) for e in entries[1:]}
    assert ticks == {(w, i) for w in range(4) for i in range(150)}
    # Each worker's own entries keep its order.
    for w in range(4):
        assert [e.payload["i"] for e in entries[1:] if e.payload["worker"] == w] == list(range(150))


def _run_and_kill(path: Path, delay: float) -> list[int]:
    """Start an appending child, kill -9 it after its first acknowledgement plus ``delay``."""
    proc = _spawn(CHILD_LOOP, str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first:
        proc.wait()
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "no output")
    time.sleep(delay)
    proc.kill()
    rest, _ = proc.communicate(timeout=30)
    lines = (first + rest).split(b"\n")
    return [int(x) for x in lines[:-1]]  # the last piece is empty or a half-written line


@pytest.mark.slow
def test_kill_minus_nine_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    make(tmp_path).close()
    path = tmp_path / "trial.db"
    rng = np.random.default_rng(20240301)
    acknowledged: set[int] = set()
    for _ in range(30):
        acked = _run_and_kill(path, float(rng.uniform(0.0, 0.08)))
        acknowledged.update(acked)
        assert integrity(path) == "ok"
        with Store.open(path) as store:
            report = store.verify()
            seqs = {e.seq for e in store.entries()}
        assert report.ok, report.problem
        assert acknowledged <= seqs
        assert seqs == set(range(1, max(seqs) + 1))
    assert len(acknowledged) > 30


def test_backup_while_a_writer_runs(tmp_path: Path) -> None:
    make(tmp_path, 3).close()
    path = tmp_path / "trial.db"
    proc = _spawn(CHILD_LOOP, str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline()
        with Store.open(path, readonly=True) as store:
            for k in range(3):
                store.backup(tmp_path / f"copy{k}.db")
                time.sleep(0.02)
            with pytest.raises(StoreError, match="already exists; choose a new backup"):
                store.backup(tmp_path / "copy0.db")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    with Store.open(path, readonly=True) as store:
        source = store.entries()
    sizes = []
    for k in range(3):
        copy = tmp_path / f"copy{k}.db"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert not Path(f"{copy}-wal").exists()
        with Store.open(copy) as restored:
            report = restored.verify()
            copied = restored.entries()
        assert report.ok and report.entries == len(copied) >= 5
        assert copied == source[: len(copied)]  # a consistent prefix of the live log
        sizes.append(len(copied))
    assert sizes == sorted(sizes)


def test_entries_of_a_damaged_row_are_refused(tmp_path: Path) -> None:
    make(tmp_path, 2).close()
    path = tmp_path / "trial.db"
    tamper(path, "UPDATE entries SET payload = '[1, 2]' WHERE seq = 3")
    with Store.open(path, readonly=True) as store:
        with pytest.raises(StoreError, match="damaged entry 3"):
            store.entries()
        assert [e.seq for e in store.entries("init")] == [1]
        report = store.verify()
    assert report.first_bad_seq == 3


_LOCK_PROBE = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    # SQLite's SHARED range (PENDING_BYTE + 2, 510 bytes): another process's reader holds it.
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)
except OSError:
    print("held")
else:
    print("free")
"""


def _shared_lock_seen_by_another_process(path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _LOCK_PROBE, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_opening_a_second_store_keeps_the_first_ones_sqlite_locks(tmp_path: Path) -> None:
    # Closing any descriptor of a file drops all of this process's fcntl locks on it; the
    # header check of a second open must not do that to a connection that is still in use
    # (a threaded server would otherwise let another process checkpoint under it).
    path = tmp_path / "trial.db"
    Store.create(path, trial_id="t1", genesis={"kind": "x"}).close()
    with Store.open(path) as first:
        first.verify()
        assert _shared_lock_seen_by_another_process(path) == "held"
        with Store.open(path) as second:
            second.verify()
        assert _shared_lock_seen_by_another_process(path) == "held"
        first.verify()
    assert _shared_lock_seen_by_another_process(path) == "free"


def test_a_failed_open_leaves_no_count_behind(tmp_path: Path) -> None:
    path = tmp_path / "trial.db"
    path.write_bytes(b"not a database at all, long enough to have a header" * 4)
    for _ in range(2):  # the second attempt must run the header check again
        with pytest.raises(StoreError, match="not a trial database"):
            Store.open(path)
