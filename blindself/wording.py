"""Counted nouns in user-facing text: "1 container", "2 containers" (issue 16).

Every layer may use it (it imports nothing), so the CLI, the services and the report say a
count the same way.
"""

from __future__ import annotations


def noun(n: float, singular: str, plural: str | None = None) -> str:
    """The noun for ``n`` of it: ``singular`` for exactly 1, else ``plural`` (default: + "s").

    >>> noun(1, "day"), noun(2, "day"), noun(0, "entry", "entries"), noun(1.5, "point")
    ('day', 'days', 'entries', 'points')
    """
    if n == 1:
        return singular
    return plural if plural is not None else singular + "s"


def count(n: float, singular: str, plural: str | None = None) -> str:
    """``n`` and its noun: ``count(1, "container")`` is "1 container".

    Whole floats print without a decimal point; others with ``:g``.

    >>> count(1, "container"), count(3, "dose day"), count(1.0, "point"), count(0.5, "point")
    ('1 container', '3 dose days', '1 point', '0.5 points')
    """
    shown = str(n) if isinstance(n, int) else f"{n:g}"
    return f"{shown} {noun(n, singular, plural)}"


def counted(value: object, singular: str, plural: str | None = None) -> str:
    """:func:`count` for a value a template holds as display text ("3", "-").

    A whole number (as text too) gets its noun; anything else keeps the plural.

    >>> counted("1", "period"), counted(2, "period"), counted("-", "period")
    ('1 period', '2 periods', '- periods')
    """
    text = str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return count(value, singular, plural)
    if text.isdigit():
        return count(int(text), singular, plural)
    return f"{text} {noun(2, singular, plural)}"
