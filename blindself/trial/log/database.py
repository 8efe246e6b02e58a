"""The SQLite file under the log: connecting, checking the file, and SQLite's errors as one line.

Pragmas (WAL, synchronous FULL, secure_delete, trusted_schema off), private file modes, a
cheap look at the header before SQLite sees a file, and durable creation.  It never repairs
or re-creates a database: a damaged or foreign file is refused with advice to restore a
backup (docs/design.md#log).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from blindself.errors import StoreError

BUSY_TIMEOUT_S = 10.0


ADVICE = (
    "restore from a backup made with `blindself backup`; blindself never repairs a trial database"
)


_SIDECARS = ("-wal", "-shm", "-journal")


def _translate(exc: sqlite3.DatabaseError, path: Path, *, writing: bool) -> StoreError:
    """One clear line for a SQLite failure."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    tail = "; nothing was recorded" if writing else ""
    if code == sqlite3.SQLITE_FULL:
        msg = f"{path}: the disk is full: free space and retry{tail}"
    elif code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        what = "write to" if writing else "use (read-only file or folder)"
        msg = f"cannot {what} {path}: check permissions{tail}"
    elif code == sqlite3.SQLITE_CANTOPEN:
        msg = f"cannot open {path}: check permissions of the file and its folder{tail}"
    elif code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        msg = f"{path}: the trial is busy (another blindself is writing); retry"
    elif code == sqlite3.SQLITE_IOERR and _disk_full(exc, path):
        # Review F12: opening in WAL mode on a full disk fails growing the -shm file
        # (SQLITE_IOERR_SHMSIZE), which read as a hardware fault.
        msg = f"{path}: the disk is full: free space and retry{tail}"
    elif code == sqlite3.SQLITE_IOERR:
        msg = f"{path}: input/output error (check the disk and its connection){tail}"
    elif code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        msg = f"{path} is damaged; {ADVICE}"
    else:
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        msg = f"{path}: database error {name} ({exc}){tail}"
    return StoreError(msg)


_IOERR_SHMSIZE = getattr(sqlite3, "SQLITE_IOERR_SHMSIZE", 4874)
_FULL_BELOW = 1 << 20  # bytes free under which an I/O error is taken for a full disk


def _disk_full(exc: sqlite3.DatabaseError, path: Path) -> bool:
    """Whether an SQLITE_IOERR is the disk being full rather than the disk failing."""
    if getattr(exc, "sqlite_errorcode", 0) == _IOERR_SHMSIZE:
        return True
    import shutil  # only on a failing write: it loads bz2, lzma and zlib (docs/design.md#start-up)

    try:
        return shutil.disk_usage(path.parent).free < _FULL_BELOW
    except OSError:
        return False


@contextmanager
def sqlite_errors(path: Path, *, writing: bool) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise _translate(exc, path, writing=writing) from exc


@contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def connect(path: Path, mode: str) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode={mode}"
    with _private_umask():
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    try:
        for pragma in (  # busy_timeout is set by connect's timeout
            "foreign_keys = ON",
            "synchronous = FULL",
            "secure_delete = ON",
            "trusted_schema = OFF",
        ):
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn


def use_wal(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(
            f"{path}: this file system cannot hold a trial (no WAL support); "
            "keep the trial on a local disk"
        )


def damaged(path: Path, what: str) -> StoreError:
    return StoreError(f"{path} {what}; {ADVICE}")


# Closing any descriptor of a file drops every POSIX lock this process holds on it, including
# SQLite's (fcntl locks are per process, not per descriptor).  So the raw header read below runs
# only while no connection of this process has the file open; a file already open here was
# checked when it was first opened.  Counts are keyed by the file's real path.
_OPEN_LOCK = threading.Lock()
_OPEN_COUNT: dict[str, int] = {}


@contextmanager
def checked_open(path: Path, *, check: bool = True) -> Iterator[None]:
    """Check ``path`` and count a connection to it as open for the duration of the block.

    Used around connecting: the header check and the count change happen under one lock, so no
    other thread of this process can hold a SQLite lock on the file while its header is read.
    The caller must call :func:`release` once its connection is closed, unless the block raises.
    """
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        if check and _OPEN_COUNT.get(key, 0) == 0:
            _check_file(path)
        _OPEN_COUNT[key] = _OPEN_COUNT.get(key, 0) + 1
    try:
        yield
    except BaseException:
        release(path)
        raise


def release(path: Path) -> None:
    """A connection opened inside :func:`checked_open` has been closed."""
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        left = _OPEN_COUNT.get(key, 0) - 1
        if left > 0:
            _OPEN_COUNT[key] = left
        else:
            _OPEN_COUNT.pop(key, None)


def _check_file(path: Path) -> None:
    """Cheap checks before SQLite sees the file: it exists and looks like whole pages."""
    for p in _with_sidecars(path):
        # SQLite follows symlinks: a link to a file elsewhere would be written through.
        if p.is_symlink():
            raise StoreError(
                f"{p} is a symbolic link; blindself writes nothing through a link inside a "
                "trial: replace it with the real file"
            )
    if not path.exists():
        raise StoreError(
            f"{path}: no trial database there; check the path, or {ADVICE.split(';')[0]}"
        )
    if not path.is_file():
        raise StoreError(f"{path} is not a file; give the trial's trial.db")
    try:
        with path.open("rb") as f:
            header = f.read(100)
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path}: check permissions ({exc.strerror})") from exc
    if size == 0:
        raise damaged(path, "is empty")
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise damaged(path, "is not a trial database (not SQLite: damaged or another file)")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or size % page:
        raise damaged(path, "is truncated or damaged")


def _with_sidecars(path: Path) -> list[Path]:
    return [path, *(Path(f"{path}{suffix}") for suffix in _SIDECARS)]


def new_file(path: Path, advice: str) -> None:
    """Create an empty 0600 file; refuse if it or a stale -wal/-shm/-journal exists."""
    for p in _with_sidecars(path):
        if os.path.lexists(p):
            raise StoreError(f"{p} already exists; {advice}")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError as exc:
        raise StoreError(f"{path} already exists; {advice}") from exc
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}; check the folder") from exc


def sync_dir(path: Path) -> None:
    """Make a new file's directory entry durable (POSIX; skipped where unsupported)."""
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_database(path: Path) -> None:
    for p in _with_sidecars(path):
        with suppress(OSError):
            p.unlink()
