"""The trial log: an append-only, hash-chained SQLite table (docs/design.md#log).

One file per trial holds one table, ``entries``.  Rows are never updated or deleted
(triggers refuse it); a correction is a new row that ``supersedes`` an older one.  Each
row's ``hash`` covers its content and the previous row's hash (see
:mod:`blindself.trial.log.chain`), so :meth:`Store.verify` names the first entry that was edited,
removed or reordered, and an externally kept head (``SEQ:HEX``) also catches a recomputed chain or a
cut-off tail in entries 1..SEQ (never in later entries: only a later head covers those).

With :mod:`~blindself.trial.log.database` (the file) and :mod:`~blindself.trial.log.schema`
(the table and its guards), the only place that imports :mod:`sqlite3`.  It never repairs or re-creates a
database: a damaged or foreign file is refused with advice to restore a backup.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from blindself.errors import StoreError
from blindself.trial.log.chain import (
    canonical,
    entry_hash,
    genesis_prev,
    loads,
    parse_head,
)
from blindself.trial.log.database import (
    ADVICE,
    checked_open,
    connect,
    damaged,
    new_file,
    release,
    remove_database,
    sqlite_errors,
    sync_dir,
    use_wal,
)
from blindself.trial.log.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    SELECT_ALL,
    SELECT_ENTRIES,
    build_schema,
    schema_problem,
)

if TYPE_CHECKING:
    from blindself.trial.log.audit import VerifyReport

__all__ = [
    "Entry",
    "Store",
    "Transaction",
    "parse_head",
]

_KIND_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SELECT_KIND = SELECT_ENTRIES + " WHERE kind = ? ORDER BY seq"
_SELECT_HEAD = SELECT_ENTRIES + " ORDER BY seq DESC LIMIT 1"
_SELECT_FIRST = SELECT_ENTRIES + " WHERE seq = 1"
_SELECT_SEQ = SELECT_ENTRIES + " WHERE seq = ?"
_SELECT_DAYS = "SELECT kind, day FROM entries ORDER BY seq"
_INSERT = (
    "INSERT INTO entries (seq, kind, day, payload, supersedes, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class Entry(NamedTuple):
    """One row of the log; ``payload`` is a fresh copy, changing it changes nothing stored."""

    seq: int
    kind: str
    day: str | None
    payload: dict[str, Any]
    supersedes: int | None
    prev_hash: str
    hash: str


# Their names before the chain moved to blindself.trial.log.chain; tests forge entries with them.
_canonical = canonical
_entry_hash = entry_hash


class Store:
    """An open trial log; use :meth:`create` or :meth:`open`, then ``close`` (or ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, trial_id: str, readonly: bool) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._trial_id = trial_id
        self._readonly = readonly
        self._in_tx = False

    @classmethod
    def create(cls, path: Path, *, trial_id: str, genesis: dict[str, Any]) -> Store:
        """Create a new trial database holding the genesis entry (seq 1, kind ``init``)."""
        path = Path(path)
        if not trial_id:
            raise ValueError("trial_id must be a non-empty string")
        if genesis.get("trial_id", trial_id) != trial_id:
            raise ValueError("genesis['trial_id'] differs from trial_id")
        payload = canonical({**genesis, "trial_id": trial_id})
        new_file(path, "blindself never overwrites a trial database")
        conn: sqlite3.Connection | None = None
        try:
            with checked_open(path, check=False), sqlite_errors(path, writing=True):
                conn = connect(path, "rw")
                use_wal(conn, path)
                conn.execute("BEGIN IMMEDIATE")
                build_schema(conn)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                prev = genesis_prev(trial_id)
                digest = entry_hash(1, "init", None, loads(payload), None, prev)
                conn.execute(_INSERT, (1, "init", None, payload, None, prev, digest))
                conn.execute("COMMIT")
                _confirm(conn, path, Entry(1, "init", None, loads(payload), None, prev, digest))
                sync_dir(path)
        except BaseException:
            if conn is not None:
                conn.close()
            remove_database(path)
            raise
        return cls(conn, path, trial_id, readonly=False)

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open an existing trial database; refuse anything missing, foreign or damaged."""
        path = Path(path)
        with checked_open(path), sqlite_errors(path, writing=False):
            conn = connect(path, "ro" if readonly else "rw")
            try:
                app = conn.execute("PRAGMA application_id").fetchone()[0]
                if app != APPLICATION_ID:
                    raise damaged(
                        path, f"is an SQLite database of another program (application id {app})"
                    )
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{path} was made by a newer blindself (schema {version}); "
                        "upgrade blindself to open it"
                    )
                if version != SCHEMA_VERSION:
                    raise damaged(path, f"has an unknown schema version {version}")
                check = conn.execute("PRAGMA quick_check(1)").fetchone()
                if check is None or check[0] != "ok":
                    raise damaged(path, "is damaged (integrity check failed)")
                problem = schema_problem(conn)
                if problem is not None:
                    raise damaged(path, problem)
                if not readonly:
                    use_wal(conn, path)
                row = conn.execute(_SELECT_FIRST).fetchone()
                genesis = _decode(row, path) if row is not None else None
                if genesis is None or genesis.kind != "init":
                    raise damaged(path, "has lost its first entry")
                trial_id = genesis.payload.get("trial_id")
                if not isinstance(trial_id, str) or not trial_id:
                    raise damaged(path, "has a first entry without a trial id")
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, trial_id, readonly)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def trial_id(self) -> str:
        return self._trial_id

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the store is closed")
        return self._conn

    def entries(self, kind: str | None = None) -> list[Entry]:
        """All entries (or those of one kind), ordered by seq."""
        return _select(self._db(), self._path, kind)

    def kinds_and_days(self) -> list[tuple[str, str | None]]:
        """``(kind, day)`` of every entry, ordered by seq: what a progress count needs,
        without decoding a payload (``status`` on a year-long log reads only this)."""
        with sqlite_errors(self._path, writing=False):
            rows = self._db().execute(_SELECT_DAYS).fetchall()
        for kind, day in rows:
            if not (isinstance(kind, str) and (day is None or isinstance(day, str))):
                raise damaged(self._path, "has a damaged entry (run blindself verify)")
        return [(kind, day) for kind, day in rows]

    def head(self) -> Entry:
        """The last entry."""
        with sqlite_errors(self._path, writing=False):
            row = self._db().execute(_SELECT_HEAD).fetchone()
        if row is None:
            raise damaged(self._path, "has no entries")
        return _decode(row, self._path)

    def append(
        self, kind: str, day: str | None, payload: dict[str, Any], supersedes: int | None = None
    ) -> Entry:
        """Append one entry; returns only after it is durably committed."""
        with self.transaction() as tx:
            return tx.append(kind, day, payload, supersedes)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction (``BEGIN IMMEDIATE``): commit on exit, roll back on error."""
        conn = self._db()
        if self._in_tx:
            raise RuntimeError("transactions do not nest")
        if self._readonly:
            raise StoreError(f"{self._path} was opened read-only; nothing was recorded")
        with sqlite_errors(self._path, writing=True):
            conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        tx = Transaction(conn, self._path)
        try:
            try:
                yield tx
            finally:
                tx._open = False
            with sqlite_errors(self._path, writing=True):
                conn.execute("COMMIT")
                # Success is reported only for rows read back after the commit
                # (docs/design.md T-39).
                for entry in tx._appended:
                    _confirm(conn, self._path, entry)
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        finally:
            self._in_tx = False

    def verify(self, expect_head: tuple[int, str] | None = None) -> VerifyReport:
        """Walk the chain and name the first broken entry; ``expect_head`` anchors it."""
        # The chain walk is imported by verify alone: the daily commands only read the log.
        from blindself.trial.log.audit import verify_log

        return verify_log(self._db(), self._path, expect_head)

    def backup(self, dest: Path) -> None:
        """Write a consistent copy to a new file ``dest`` (mode 0600), even while others write."""
        dest = Path(dest)
        source = self._db()
        if self._in_tx:
            raise RuntimeError("cannot back up from inside a transaction")
        new_file(dest, "choose a new backup file name")
        try:
            with sqlite_errors(dest, writing=False):
                target = connect(dest, "rw")
                try:
                    source.backup(target)
                finally:
                    target.close()
            with Store.open(dest) as copy:  # read-write, so closing removes -wal and -shm
                report = copy.verify()
            if not report.ok:
                raise StoreError(f"the backup does not verify ({report.problem}); retry")
            sync_dir(dest)
        except BaseException:
            remove_database(dest)
            raise

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            release(self._path)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Transaction:
    """The inside of :meth:`Store.transaction`: reads see this transaction's own appends."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path
        self._open = True
        self._appended: list[Entry] = []

    def _live(self) -> sqlite3.Connection:
        if not self._open:
            raise RuntimeError("the transaction is over")
        return self._conn

    def entries(self, kind: str | None = None) -> list[Entry]:
        """All entries (or those of one kind), ordered by seq."""
        return _select(self._live(), self._path, kind)

    def append(
        self, kind: str, day: str | None, payload: dict[str, Any], supersedes: int | None = None
    ) -> Entry:
        """Append one entry; durable once the transaction commits."""
        conn = self._live()
        if not _KIND_RE.match(kind) or kind == "init":
            raise ValueError(f"invalid entry kind {kind!r}")
        if day is not None and not isinstance(day, str):
            raise TypeError("day must be a str or None")
        text = canonical(payload)
        with sqlite_errors(self._path, writing=True):
            row = conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            raise damaged(self._path, "has no entries")
        seq, prev = int(row[0]) + 1, str(row[1])
        if supersedes is not None and not 1 <= supersedes < seq:
            raise ValueError(f"supersedes={supersedes} is not an earlier entry")
        data = loads(text)
        digest = entry_hash(seq, kind, day, data, supersedes, prev)
        entry = Entry(seq, kind, day, data, supersedes, prev, digest)
        with sqlite_errors(self._path, writing=True):
            cursor = conn.execute(_INSERT, (seq, kind, day, text, supersedes, prev, digest))
            if cursor.rowcount != 1:
                raise _not_stored(self._path, seq)
            _confirm(conn, self._path, entry)
        self._appended.append(entry)
        return entry


def _not_stored(path: Path, seq: int) -> StoreError:
    return StoreError(
        f"{path}: entry {seq} was not stored as written (something in the database changes "
        f"or drops inserts; run blindself verify); nothing was recorded; {ADVICE}"
    )


def _confirm(conn: sqlite3.Connection, path: Path, entry: Entry) -> None:
    """Read an appended entry back and compare every column with what was written."""
    row = conn.execute(_SELECT_SEQ, (entry.seq,)).fetchone()
    if row is None:
        raise _not_stored(path, entry.seq)
    stored = (row[0], row[1], row[2], row[3], row[4], row[5], row[6])
    written = (
        entry.seq,
        entry.kind,
        entry.day,
        canonical(entry.payload),
        entry.supersedes,
        entry.prev_hash,
        entry.hash,
    )
    if stored != written:
        raise _not_stored(path, entry.seq)


def _select(conn: sqlite3.Connection, path: Path, kind: str | None) -> list[Entry]:
    with sqlite_errors(path, writing=False):
        if kind is None:
            rows = conn.execute(SELECT_ALL).fetchall()
        else:
            rows = conn.execute(_SELECT_KIND, (kind,)).fetchall()
    return [_decode(r, path) for r in rows]


def _decode(row: tuple[Any, ...], path: Path) -> Entry:
    seq, kind, day, text, supersedes, prev, digest = row
    try:
        payload = loads(text)
    except (TypeError, ValueError, RecursionError):
        payload = None
    if not (
        isinstance(seq, int)
        and isinstance(kind, str)
        and (day is None or isinstance(day, str))
        and isinstance(payload, dict)
        and (supersedes is None or isinstance(supersedes, int))
        and isinstance(prev, str)
        and isinstance(digest, str)
    ):
        raise damaged(path, f"has a damaged entry {seq} (run blindself verify)")
    return Entry(seq, kind, day, payload, supersedes, prev, digest)
