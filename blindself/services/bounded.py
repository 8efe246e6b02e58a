"""Reading a file the person (or anyone with the folder) may have replaced: bounded in size,
never blocking on a FIFO or device, refused with one line (review F3)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from blindself.errors import BlindselfError, DataError

# report.json / report.html of the longest trial are a few MB; far above that is not ours.
MAX_REPORT_BYTES = 256_000_000
REBUILD_ADVICE = "run blindself unblind again to rebuild it"


def read_bounded(
    path: Path,
    limit: int,
    *,
    error: type[BlindselfError] = DataError,
    advice: str = "give a regular file",
) -> bytes:
    """A regular file's bytes, refused (never read whole) when larger than ``limit``.

    Opened non-blocking and checked with fstat before reading, so a FIFO, socket or device in
    its place is refused instead of hanging the command.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{path} is not a regular file (a pipe, device or folder); {advice}")
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise error(f"{path} is larger than {limit // 1_000_000} MB; {advice}")
    return raw
