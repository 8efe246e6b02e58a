"""Counts the protocol's own words state, checked against its numbers (issue 16).

A template says "16 blocks" in its description and comments; a person sets ``blocks = 6``
and the stale "16 blocks" went unflagged into the published ``preregistration.md``.  This
module finds counts of blocks (pairs), containers (periods), weeks and days in the
``[trial]`` description and in comments and compares each with what the design computes
(docs/design.md#stated-counts).

What counts as a claim: a number written in digits followed by one of those nouns, e.g.
"16 blocks", "32 dose days", "18 weeks", "20 pairs".  Not a claim: the ``# power:`` lines
(they name their own ``blocks=``), a hypothetical size ("about 36 blocks give 0.8",
"6 blocks would ...", "at least 7 days"), a window or rhythm ("over the last 2 weeks",
"every 3 days"), a hyphenated length ("a 7-day baseline"), and a
count of days up to 7 that is none of the design's numbers ("1 day on, 2 days off" describes
the dosing pattern).  Weeks match when they round (down, up or to nearest) any span the
design has: the whole calendar, the days after the baseline, a block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from blindself.protocol.model import Protocol
from blindself.trial.schedule import Calendar, scheme_of

_CLAIM = re.compile(
    r"(?<![\w.-])(?P<n>\d{1,5})\s+"
    r"(?P<qual>(?:active/placebo|dose|trial|calendar|randomi[sz]ed|capsule|treatment)\s+)?"
    r"(?P<unit>blocks?|pairs?|containers?|periods?|weeks?|days?)\b(?!-)",
    re.IGNORECASE,
)
# Words that make a count hypothetical: just before the number, or just after the noun.
# Before the number also: a recall window or a rhythm ("over the last 2 weeks", "every 3
# days"), which is not the trial's length.
_BEFORE = re.compile(
    r"(?:about|around|approximately|roughly|~|at least|up to|than|e\.g\.|last|past|every|"
    r"each|per|within|first|next)\s*$",
    re.IGNORECASE,
)
_AFTER = re.compile(r"^\s*(?:would|could|give|gives|reach|reaches|need|needs|more)\b")
_SMALL_DAYS = 7


@dataclass(frozen=True)
class Claim:
    """A stated count, where it stands, and what the design has instead."""

    text: str
    where: str
    expected: str


def stated_counts(protocol: Protocol, text: str, calendar: Calendar) -> tuple[Claim, ...]:
    """Counts in the description and comments of the protocol ``text`` that its design
    contradicts (``calendar`` is the design laid out from any start)."""
    allowed = _allowed(protocol, calendar)
    out: list[Claim] = []
    sources = [("the description", protocol.description)]
    sources += [(f"line {i}", c) for i, c in _comments(text)]
    for where, words in sources:
        for m in _CLAIM.finditer(words):
            if _BEFORE.search(words[: m.start()]) or _AFTER.match(words[m.end() :]):
                continue
            unit = _unit(m["unit"], m["qual"])
            n = int(m["n"])
            values, expected = allowed.get(unit, (None, ""))
            if values is None or n in values:
                continue
            if unit == "days" and n <= _SMALL_DAYS:
                continue
            out.append(Claim(m.group(0), where, expected))
    return tuple(out)


def claims_warning(claims: tuple[Claim, ...]) -> str | None:
    """One warning naming every contradicted count, or None."""
    if not claims:
        return None
    listed = "; ".join(f'"{c.text}" ({c.where}) but {c.expected}' for c in claims)
    return (
        f"the protocol's own words contradict its numbers: {listed}. Edit the text or the "
        "design (the pre-registration copies the protocol as it is and lists this warning)"
    )


def _comments(text: str) -> list[tuple[int, str]]:
    """(line number, comment text) of every TOML comment, ``# power:`` lines left out."""
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            comment = stripped[1:].strip()
        else:
            # A comment after a value: a '#' outside any quoted string.
            at = _comment_start(line)
            if at < 0:
                continue
            comment = line[at + 1 :].strip()
        if not comment.startswith("power:"):
            out.append((i, comment))
    return out


def _comment_start(line: str) -> int:
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if quote == '"' and ch == "\\":
                i += 2  # an escaped character inside a basic string
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return i
        i += 1
    return -1


def _unit(unit: str, qual: str | None) -> str:
    unit = unit.lower().rstrip("s")
    qual = (qual or "").strip().lower()
    if unit == "pair":
        return "blocks"
    if unit in ("container", "period"):
        return "containers"
    if unit == "day" and qual == "dose":
        return "dose days"
    return unit + "s"


def _allowed(protocol: Protocol, calendar: Calendar) -> dict[str, tuple[set[int], str]]:
    """For each kind of count, the values the design has and how to say them."""
    design = protocol.design
    scheme = scheme_of(protocol)
    days = len(calendar.days)
    after = days - design.baseline_days
    dose = sum(1 for d in calendar.days if d.is_dose)
    per_arm = set(scheme.arm_counts().values())
    block_days = {
        sum(1 for d in calendar.days if d.block == b) for b in range(max(1, scheme.n_blocks))
    }
    spans = {days, after, *block_days}
    week_values = {f(s / 7) for s in spans for f in (int, round, lambda x: -int(-x // 1))}
    out: dict[str, tuple[set[int], str]] = {
        "containers": (
            {scheme.n_periods, *per_arm},
            f"the design has {scheme.n_periods} containers",
        ),
        "weeks": (week_values, f"the calendar has {days} days ({days / 7:.1f} weeks)"),
        "days": (
            {days, after, dose, design.baseline_days, design.washout_days, design.period_days}
            | {n * design.period_days for n in per_arm},
            f"the calendar has {days} days, {dose} of them dose days",
        ),
        "dose days": (
            {dose} | {n * design.period_days for n in per_arm},
            f"the calendar has {dose} dose days",
        ),
    }
    if design.kind == "blocks":
        out["blocks"] = ({design.blocks}, f"design.blocks = {design.blocks}")
    return out
