"""Typed readers for the values of a protocol's TOML tables (docs/design.md#protocol).

Each reader returns the value or raises a :class:`~blindself.errors.ProtocolError` of one
line naming the file, the key as TOML writes it, the value found and what is allowed.
"""

from __future__ import annotations

import math
import re
from typing import Any

from blindself.errors import ProtocolError
from blindself.protocol.model import NAME_RE

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class FieldReader:
    """Reads keys of the protocol file ``source``; :meth:`fail` builds its errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ProtocolError:
        return ProtocolError(f"{self.source}: {key} {message}")

    def table(
        self, doc: dict[str, Any], key: str, allowed: set[str], required: bool
    ) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(f"[{key}]", "is missing; add the section")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table ([" + key + "])")
        self.no_unknown(value, key, allowed)
        return value

    def no_unknown(self, value: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for k in value:
            if k not in allowed:
                # Fix: a top-level key was shown as ".foo", and a quoted key holding a
                # newline split the one-line message; show the key as TOML writes it.
                key = _key(k)
                raise self.fail(
                    f"{prefix}.{key}" if prefix else key,
                    f"is not a known key (allowed: {', '.join(sorted(allowed))})",
                )

    def string(self, d: dict[str, Any], key: str, prefix: str, default: str | None = None) -> str:
        v = d.get(key, default)
        if v is None:
            raise self.fail(f"{prefix}.{key}", "is missing; it must be a string")
        if not isinstance(v, str):
            raise self.fail(f"{prefix}.{key}", f"must be a string, not {show(v)}")
        problem = unsafe_text(v.replace("\r\n", "\n"))
        if problem:
            # Reliability fix (docs/design.md T-45): an escape sequence in the title reached the
            # terminal through status, plan and init.
            raise self.fail(f"{prefix}.{key}", f"contains {problem}; use plain text")
        return v

    def choice(
        self, d: dict[str, Any], key: str, prefix: str, allowed: tuple[str, ...], default: str
    ) -> str:
        if key not in d and not default:
            # Fix: a missing required choice (arms[i].kind) was reported as "is ''".
            raise self.fail(f"{prefix}.{key}", f"is missing; allowed: {', '.join(allowed)}")
        v = self.string(d, key, prefix, default)
        if v not in allowed:
            raise self.fail(f"{prefix}.{key}", f"is {show(v)}; allowed: {', '.join(allowed)}")
        return v

    def integer(
        self, d: dict[str, Any], key: str, prefix: str, default: int | None, lo: int, hi: int
    ) -> int:
        v = d.get(key, default)
        if v is None:
            raise self.fail(f"{prefix}.{key}", f"is missing; it must be a whole number {lo}-{hi}")
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise self.fail(f"{prefix}.{key}", f"is {show(v)}; it must be a whole number {lo}-{hi}")
        return v

    def number(
        self, d: dict[str, Any], key: str, prefix: str, default: float | None
    ) -> float | None:
        v = d.get(key, default)
        if v is None:
            return None
        # Fix: TOML's inf and -inf passed (only nan was refused); numbers must be finite.
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.fail(f"{prefix}.{key}", f"is {show(v)}; it must be a number")
        return float(v)

    def boolean(self, d: dict[str, Any], key: str, prefix: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(f"{prefix}.{key}", f"is {show(v)}; it must be true or false")
        return v

    def name(self, d: dict[str, Any], key: str, prefix: str) -> str:
        v = self.string(d, key, prefix)
        # Fix: NAME_RE.match accepted "active\n" ("$" matches before a final newline).
        if not NAME_RE.fullmatch(v):
            raise self.fail(
                f"{prefix}.{key}",
                f"is {show(v)}; use 1-32 lower-case letters, digits, '-' or '_', "
                "starting with a letter",
            )
        return v


# Characters that reorder displayed text (Trojan Source, CVE-2021-42574).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def unsafe_text(text: str) -> str | None:
    """What in ``text`` other programs would execute or display misleadingly, else None.

    C0 and C1 control characters (terminal escapes, a bare CR) other than newline and tab,
    DEL, bidirectional overrides, and line or paragraph separators.
    """
    import unicodedata

    for ch in text:
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) == "Cc":
            return f"control characters (U+{ord(ch):04X})"
        if ch in BIDI_CONTROLS:
            return f"bidirectional control characters (U+{ord(ch):04X})"
        if ch in "\u2028\u2029":
            return f"line or paragraph separators (U+{ord(ch):04X})"
    return None


def show(value: Any) -> str:
    """A value from the file, shown as TOML writes it, on one line, at most 40 characters.

    Fix: strings were shown with Python's repr ('actve'); docs/design.md#protocol quotes them as in
    the TOML file ("actve").
    """
    if isinstance(value, str):
        text = _quote(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _quote(text: str) -> str:
    """A TOML basic string: double quotes, escapes for quotes and unprintable characters."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _quote(key)
