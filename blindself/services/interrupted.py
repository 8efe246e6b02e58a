"""Leftovers of an interrupted ``init`` (docs/design.md T-43): the in-progress marker and its
cleanup.

``init`` builds a trial in a hidden sibling folder holding a locked marker that records the
trial id and, for each file it will write outside the trial (sheets, key file), the SHA-256 of
the exact bytes it will write.  The marker is removed only once all of them are durable and the
recovery key has been shown.  A marker whose lock is free belongs to an init that died: that
init never finished showing its key, so its folder and files can go -- but only what provably
is its own (review F19): a folder holding nothing but init's files and a log with nothing but
that trial's init entry, and outside files whose bytes hash to what the marker recorded.
Anything else is refused or left in place, and named.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

from blindself.errors import StoreError, TrialStateError
from blindself.trial.folder import INIT_MARKER, TrialPaths
from blindself.trial.log.store import Store
from blindself.wording import count

# Everything init itself puts in the folder (the database with its SQLite side files).
_INIT_FILES = frozenset(
    {
        INIT_MARKER,
        "protocol.toml",
        "allocation.seal",
        "preregistration.md",
        "trial.db",
        "trial.db-wal",
        "trial.db-shm",
        "trial.db-journal",
    }
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lock_marker(folder: Path, trial_id: str, outside: dict[Path, bytes]) -> int:
    """Create the in-progress marker (trial id, outside files and their hashes); held locked
    until closed."""
    fd = os.open(folder / INIT_MARKER, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    files = {str(p.absolute()): digest(data) for p, data in outside.items()}
    data = json.dumps({"trial_id": trial_id, "files": files}).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)
    return fd


def _abandoned(folder: Path) -> dict[str, object] | None:
    """The marker of an init that died while building ``folder``, else None."""
    marker = folder / INIT_MARKER
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TrialStateError(f"{marker} is not a regular file; nothing was removed")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None  # an init is still running there
        try:
            raw = json.loads(os.read(fd, 1 << 20) or b"{}")
        except ValueError:
            raw = None
        return raw if isinstance(raw, dict) else {}
    finally:
        os.close(fd)


def _refusal(folder: Path, raw: dict[str, object]) -> str | None:
    """Why ``folder`` is not provably the unfinished trial its marker describes, else None."""
    trial_id = raw.get("trial_id")
    if not isinstance(trial_id, str) or not isinstance(raw.get("files"), dict):
        return "the marker does not say which trial it belongs to"
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in _INIT_FILES)
    if foreign:
        return f"the folder holds files init never writes ({', '.join(foreign[:3])})"
    db = TrialPaths(folder).db
    if not db.exists() or db.stat().st_size == 0:
        return None  # killed before the log existed: nothing can have been recorded
    try:
        with Store.open(db, readonly=True) as store:
            if store.trial_id != trial_id:
                return f"its log belongs to trial {store.trial_id}, the marker to {trial_id}"
            n = len(store.entries())
    except StoreError as exc:
        return f"its log cannot be read ({exc})"
    if n != 1:
        return f"its log already holds {count(n - 1, 'entry', 'entries')} after its setup"
    return None


def _own_file(path: Path, expected: object) -> bool:
    """Whether ``path`` is a regular file holding exactly the bytes the marker recorded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 64 << 20:
            return False
        with os.fdopen(os.dup(fd), "rb") as fh:
            return digest(fh.read()) == expected
    finally:
        os.close(fd)


def clean_interrupted(directory: Path) -> tuple[str, ...]:
    """Remove what an init killed before it finished left behind; say what was removed.

    Safe because such a trial never finished showing its recovery key.  Refuses (naming the
    marker) a folder that is not provably that init's own; leaves, and names, an outside file
    that is not byte for byte what that init wrote.
    """
    parent = directory.parent
    try:
        candidates = [p for p in parent.glob(f".{directory.name}.*") if p.is_dir()]
    except OSError:
        return ()
    if directory.is_dir() and not directory.is_symlink():
        candidates.append(directory)
    removed: list[str] = []
    left: list[str] = []
    for folder in candidates:
        raw = _abandoned(folder)
        if raw is None:
            continue
        reason = _refusal(folder, raw)
        if reason is not None:
            raise TrialStateError(
                f"{folder / INIT_MARKER} says an init was interrupted there, but {reason}; "
                "nothing was removed. If that folder is a trial in use, the marker does not "
                "belong to it: remove the marker file; otherwise remove the folder yourself"
            )
        files = raw["files"]
        assert isinstance(files, dict)
        for name, expected in files.items():
            path = Path(str(name))
            if _own_file(path, expected):
                try:
                    path.unlink()
                    removed.append(str(path))
                except OSError:
                    left.append(str(path))
            elif path.exists() or path.is_symlink():
                left.append(str(path))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    out: list[str] = []
    if removed:
        out.append(
            "an earlier init here was interrupted before it finished; removed what it left: "
            + ", ".join(removed)
        )
    if left:
        out.append(
            "left in place (not the files that interrupted init wrote; check them yourself): "
            + ", ".join(left)
        )
    return tuple(out)


def fsync_dir(folder: Path) -> None:
    """Make a rename or new entry in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
