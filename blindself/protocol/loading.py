"""Load and validate a protocol (docs/design.md#protocol) into frozen dataclasses.

The dataclasses live in :mod:`blindself.protocol.model` and the checks in
:mod:`blindself.protocol.checks`; callers import both from here.  Every validation error
names the file, the key and what is allowed, e.g.
``protocol.toml: design.block names arm "actve", which is not defined (defined: active, placebo)``.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from blindself.errors import ProtocolError
from blindself.protocol.checks import validate_protocol
from blindself.protocol.model import (
    ARM_KINDS,
    DOSING_NAMES,
    NAME_RE,
    WEEKDAYS,
    AnalysisPlan,
    Arm,
    CheckinPlan,
    Design,
    Outcome,
    Protocol,
    StopRule,
)

__all__ = [
    "ARM_KINDS",
    "DOSING_NAMES",
    "MAX_PROTOCOL_BYTES",
    "NAME_RE",
    "WEEKDAYS",
    "AnalysisPlan",
    "Arm",
    "CheckinPlan",
    "Design",
    "Outcome",
    "Protocol",
    "StopRule",
    "load_protocol",
    "parse_protocol",
]

MAX_PROTOCOL_BYTES = 1_000_000


def load_protocol(path: Path) -> Protocol:
    """Read and validate a protocol file."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PROTOCOL_BYTES + 1)
    except FileNotFoundError as exc:
        raise ProtocolError(
            f"{path}: no such protocol file (list templates: blindself templates)"
        ) from exc
    except IsADirectoryError as exc:
        raise ProtocolError(f"{path}: is a directory, not a protocol file") from exc
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read the protocol ({exc.strerror})") from exc
    if len(raw) > MAX_PROTOCOL_BYTES:
        raise ProtocolError(f"{path}: larger than 1 MB; a protocol is a short TOML file")
    return parse_protocol(raw, path.name)


def parse_protocol(raw: bytes, source: str = "protocol.toml") -> Protocol:
    """Validate protocol TOML bytes; ``source`` names the file in messages."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{source}: not UTF-8 text; save the protocol as UTF-8") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{source}: not valid TOML ({exc}); fix the syntax") from exc
    except RecursionError as exc:
        # Fix: tomllib recurses once per nesting level, so "a = [[[[...]]]]" escaped as
        # RecursionError instead of a one-line protocol error.
        raise ProtocolError(
            f"{source}: nested too deeply to be a protocol; fix the syntax"
        ) from exc
    return validate_protocol(doc, source=source, sha256=hashlib.sha256(raw).hexdigest())
