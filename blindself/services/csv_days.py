"""The days of a one-row-per-day CSV as analysis rows, and the randomization scheme they imply.

Part of ``blindself analyze``: services/analyze.py reads the columns and options; this module
turns the kept rows into periods, blocks and day rows (docs/design.md#exported-data).
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from blindself.analysis.dataset import DayRow
from blindself.errors import DataError
from blindself.protocol.model import Arm, Outcome
from blindself.trial.scheme import Scheme
from blindself.wording import count

if TYPE_CHECKING:
    from blindself.services.analyze import AnalyzeOptions

# Cell values read as "no value".
MISSING = {"", "na", "nan", "null", "none", "."}


def is_date(text: str | None) -> bool:
    try:
        date.fromisoformat((text or "").strip())
    except ValueError:
        return False
    return True


def taken(text: str | None) -> bool | None:
    value = (text or "").strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(value)


def day_type(row: dict[str, str]) -> str:
    kind = (row.get("day_type") or "dose").strip()
    return kind if kind in ("baseline", "dose", "off", "washout") else "dose"


def cell_number(text: str | None) -> float | None:
    if text is None or text.strip().lower() in MISSING:
        return None
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def rows_and_scheme(
    records: list[dict[str, str]],
    days: list[int],
    mapping: dict[str, str],
    arms: list[Arm],
    outcomes: tuple[Outcome, ...],
    opts: AnalyzeOptions,
    name: str,
) -> tuple[list[DayRow], tuple[str, ...], Scheme, str]:
    kinds = [day_type(r) for r in records]
    period_keys: list[str] = []
    row_period: list[int | None] = []
    for i, (r, kind) in enumerate(zip(records, kinds, strict=True)):
        if kind == "baseline":
            row_period.append(None)  # run-in days belong to no period
            continue
        key = (r.get(opts.period_column) or "").strip() if opts.period_column else str(i)
        if opts.period_column and not key:
            raise DataError(f"{name}: row {i + 2} has an empty {opts.period_column}")
        if key not in period_keys:
            period_keys.append(key)
        row_period.append(period_keys.index(key))
    if not period_keys:
        raise DataError(f"{name}: no rows of a declared arm (only run-in days)")
    observed: list[str] = [""] * len(period_keys)
    for r, p in zip(records, row_period, strict=True):
        if p is None:
            continue
        arm = mapping[(r.get(opts.arm_column) or "").strip()]
        if observed[p] and observed[p] != arm:
            raise DataError(
                f"{name}: period {period_keys[p]!r} holds more than one arm; "
                "check --period-column (the arm must be constant within a period)"
            )
        observed[p] = arm
    arm_names = tuple(a.name for a in arms)
    guess_map = {**mapping, "unsure": "unsure"}
    in_periods = [(r, p) for r, p in zip(records, row_period, strict=True) if p is not None]
    if opts.block_column:
        scheme, note, block_of = block_scheme(
            [r for r, _ in in_periods], [p for _, p in in_periods], observed, arm_names, opts, name
        )
    else:
        counts = tuple((a, observed.count(a)) for a in arm_names)
        scheme = Scheme("complete", arm_names, counts=counts)
        block_of = {}
        unit = "periods" if opts.period_column else "days"
        note = (
            f"no block column: the scheme is taken as complete randomization of {unit} with the "
            "observed counts per arm; if randomization was restricted, say how with --block-column"
        )
    rows = []
    for r, p, d, kind in zip(records, row_period, days, kinds, strict=True):
        g = (r.get(opts.guess_column) or "").strip() if opts.guess_column else ""
        if g and g not in guess_map:
            # Fix: an unknown guess ("dunno") silently became "unsure" and entered the
            # blinding indices' denominators.
            shown = "".join(c if c.isprintable() else "?" for c in g[:20])
            raise DataError(
                f"{name}: {opts.guess_column} {shown!r} is not a guess; accepted: "
                + ", ".join(guess_map)
                + " or empty (fix the value or drop the row with --where)"
            )
        # The `excluded` column of an export: the days `unblind` left out, and why.
        why = (r.get("excluded") or "").strip()
        ratings = {o.name: cell_number(r.get(o.name)) for o in outcomes}
        if all(v is None for v in ratings.values()):
            ratings = {}  # a day without any rating is a missed day, as in `unblind`
        rows.append(
            DayRow(
                day=d,
                date=(r.get(opts.date_column) or None) if opts.date_column else None,
                day_type=kind,
                period=p,
                block=block_of.get(p) if p is not None else None,
                arm=observed[p] if p is not None else None,
                guess=guess_map.get(g) if opts.guess_column and g else None,
                confidence=cell_number(r.get("confidence")) if opts.guess_column else None,
                ratings=ratings,
                taken=taken(r.get("taken")),
                # export's mark of a day with imported values but no check-in
                imported_only="no-checkin" in (r.get("deviation") or "").split(";"),
                codebroken=why == "codebreak",
                excluded="" if why == "codebreak" else why,
            )
        )
    return rows, tuple(observed), scheme, note


def day_numbers(records: list[dict[str, str]], opts: AnalyzeOptions, name: str) -> list[int]:
    if not opts.date_column:
        return list(range(len(records)))
    dates = []
    for i, r in enumerate(records):
        try:
            dates.append(date.fromisoformat((r.get(opts.date_column) or "").strip()))
        except ValueError:
            raise DataError(
                f"{name}: row {i + 2}: {opts.date_column} is not a YYYY-MM-DD date"
            ) from None
    first = min(dates)
    return [(d - first).days for d in dates]


def block_scheme(
    records: list[dict[str, str]],
    row_period: list[int],
    observed: list[str],
    arm_names: tuple[str, ...],
    opts: AnalyzeOptions,
    name: str,
) -> tuple[Scheme, str, dict[int, int]]:
    block_keys: list[str] = []
    block_of: dict[int, int] = {}
    for r, p in zip(records, row_period, strict=True):
        key = (r.get(opts.block_column or "") or "").strip()
        if key not in block_keys:
            block_keys.append(key)
        b = block_keys.index(key)
        if block_of.setdefault(p, b) != b:
            raise DataError(f"{name}: a period spans two blocks; check --block-column")
    members: list[list[int]] = [[] for _ in block_keys]
    for p, b in sorted(block_of.items()):
        members[b].append(p)
    order = [p for m in members for p in m]
    if order != sorted(order):
        raise DataError(f"{name}: blocks must be consecutive runs of periods")
    compositions = {tuple(sorted(observed[p] for p in m)) for m in members}
    if len(compositions) != 1:
        raise DataError(
            f"{name}: blocks hold different arm mixes; a randomized-block analysis needs the same "
            "arms in every block (drop incomplete blocks with --where)"
        )
    first = members[0]
    block = tuple(observed[p] for p in first)
    scheme = Scheme("blocks", arm_names, block=tuple(sorted(block)), n_blocks=len(members))
    note = (
        f"randomized blocks from column {opts.block_column} ({count(len(members), 'block')} "
        f"of {len(first)})"
    )
    return scheme, note, block_of
