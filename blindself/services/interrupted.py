"""Leftovers of an interrupted ``init`` (docs/design.md T-43): the in-progress marker and its
cleanup.

``init`` builds a trial in a hidden sibling folder holding a locked marker that names the
files it will write outside the trial (sheets, key file).  The marker is removed only once
all of them are durable.  A marker whose lock is free belongs to an init that died: that
init printed nothing (no commitment, no key), so its folder and files can go.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import suppress
from pathlib import Path

from blindself.trial.folder import INIT_MARKER


def lock_marker(folder: Path, outside: list[Path]) -> int:
    """Create the in-progress marker naming the files outside; held locked until closed."""
    fd = os.open(folder / INIT_MARKER, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    data = json.dumps({"outside": [str(p.absolute()) for p in outside]}).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)
    return fd


def _abandoned(folder: Path) -> list[Path] | None:
    """The outside files of an init that died while building ``folder``, else None."""
    try:
        fd = os.open(folder / INIT_MARKER, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None  # an init is still running there
        try:
            raw = json.loads(os.read(fd, 1 << 20) or b"{}")
            return [Path(p) for p in raw.get("outside", [])]
        except (ValueError, AttributeError, TypeError):
            return []
    finally:
        os.close(fd)


def clean_interrupted(directory: Path) -> tuple[str, ...]:
    """Remove what an init killed before it finished left behind; say what was removed.

    Safe because such a trial printed nothing: no commitment was published, no key shown.
    """
    parent = directory.parent
    try:
        candidates = [p for p in parent.glob(f".{directory.name}.*") if p.is_dir()]
    except OSError:
        return ()
    if directory.is_dir() and not directory.is_symlink():
        candidates.append(directory)
    removed: list[str] = []
    for folder in candidates:
        outside = _abandoned(folder)
        if outside is None:
            continue
        for path in outside:
            with suppress(OSError):
                path.unlink()
                removed.append(str(path))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    if not removed:
        return ()
    return (
        "an earlier init here was interrupted before it finished; removed what it left: "
        + ", ".join(removed),
    )


def fsync_dir(folder: Path) -> None:
    """Make a rename or new entry in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
