"""``blindself import``: outcome values from another app's CSV export into the log.

All or nothing (docs/design.md#imported-outcomes): every row is read and checked against
the protocol and the public calendar before one entry is written, and the entries are
appended in one transaction.  A value already in the log is never overwritten: an import
that would change one needs ``--replace``, which appends an entry superseding it (the old
one stays).  Nothing here reads the seal, and every message is built from the file, the
protocol and the public calendar, so an import reveals nothing about the allocation.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from blindself.errors import CheckinError, DataError, TrialStateError
from blindself.protocol.model import Outcome, StopRule
from blindself.services.app_export import ExportTable, parse_value, read_table, shown
from blindself.services.bounded import read_bounded
from blindself.services.context import Context
from blindself.services.daily import scheduled
from blindself.trial.checkins import MAX_EXACT, check_free_text
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.measures import (
    MEASURE_KIND,
    current_measures,
    row_runs,
    rows_text,
    stop_rules_met,
)

MAX_IMPORT_BYTES = 64_000_000  # a year of per-minute heart rate is about 20 MB
MAX_DAY_SHIFT = 7
MAX_LISTED = 5  # rows named in one error line


def _mean(v: list[float]) -> float:
    return math.fsum(v) / len(v)


COMBINE: dict[str, Callable[[list[float]], float]] = {
    "mean": _mean,
    "sum": math.fsum,
    "min": min,
    "max": max,
    "last": lambda v: v[-1],
}


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    date_column: str
    mapping: tuple[tuple[str, str], ...]  # (column, outcome), as given with --map
    replace: bool = False
    combine: str | None = None  # several rows on one day: None refuses them
    delimiter: str | None = None
    date_format: str | None = None
    day_shift: int = 0
    skip_outside: bool = False
    dry_run: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class ImportedValue:
    day: str
    outcome: str
    value: float | int
    rows: tuple[int, ...]
    status: Literal["new", "replaced", "unchanged"]
    previous: float | int | None = None


@dataclass(frozen=True)
class ImportResult:
    file: str
    sha256: str
    header_row: int
    delimiter: str
    columns: dict[str, str]  # outcome -> the column as the file spells it
    values: tuple[ImportedValue, ...]
    skipped_outside: int
    recorded: bool  # False for --dry-run
    head: str
    stop_rules: tuple[StopRule, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for v in self.values if v.status == status)


def import_values(trial_dir: Path, req: ImportRequest, ctx: Context) -> ImportResult:
    """Check every row of ``req.path`` and append its values (unless ``dry_run``)."""
    if req.combine is not None and req.combine not in COMBINE:
        raise DataError(f"--combine {shown(req.combine)}: use one of {', '.join(COMBINE)}")
    if not -MAX_DAY_SHIFT <= req.day_shift <= MAX_DAY_SHIFT:
        raise DataError(f"--day-shift must lie within +-{MAX_DAY_SHIFT} days")
    if req.reason is not None:
        check_free_text(req.reason, "the reason", DataError)
    with opened_trial(trial_dir, readonly=req.dry_run) as trial:
        outcomes = _mapped_outcomes(trial, req.mapping)
        raw = read_bounded(
            req.path, MAX_IMPORT_BYTES, error=DataError, advice="give a CSV export file"
        )
        name = _file_name(req.path)
        table = read_table(
            raw,
            name,
            req.date_column,
            [column for column, _ in req.mapping],
            delimiter=req.delimiter,
            date_format=req.date_format,
        )
        today = trial.today(ctx.now())
        found, skipped = _values_by_day(trial, table, req, outcomes, today)
        if not found:
            raise DataError(
                f"{name} holds no value to import in "
                + ", ".join(shown(c) for c, _ in req.mapping)
                + (f" on the trial's days ({trial.calendar.start} to {trial.calendar.end})")
            )
        combined = _combine(found, req.combine, outcomes)
        source = {
            "file": name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "combine": req.combine,
        }
        columns = {o: table.columns[c] for c, o in req.mapping}
        if req.dry_run:
            entries = trial.store.entries()
            _refuse_unblinded(entries)
            values = _judge(combined, current_measures(entries), req.replace)
            head = entries[-1]
        else:
            with trial.store.transaction() as tx:
                entries = tx.entries()
                _refuse_unblinded(entries)
                current = current_measures(entries)
                values = _judge(combined, current, req.replace)
                appended = []
                for v in values:
                    if v.status == "unchanged":
                        continue
                    old = current.get(v.day, {}).get(v.outcome)
                    payload: dict[str, Any] = {
                        "date": v.day,
                        "outcome": v.outcome,
                        "value": v.value,
                        "source": {
                            **source,
                            "column": columns[v.outcome],
                            "rows": row_runs(v.rows),
                        },
                        "imported_at": ctx.now().isoformat(),
                    }
                    if req.reason:
                        payload["reason"] = req.reason
                    appended.append(
                        tx.append(MEASURE_KIND, v.day, payload, None if old is None else old.seq)
                    )
                entries = [*entries, *appended]
                head = entries[-1]
        hits = stop_rules_met(trial.protocol, entries)
    return ImportResult(
        file=name,
        sha256=str(source["sha256"]),
        header_row=table.header_row,
        delimiter=table.delimiter,
        columns=columns,
        values=tuple(values),
        skipped_outside=skipped,
        recorded=not req.dry_run,
        head=f"{head.seq}:{head.hash}",
        stop_rules=hits,
    )


def _file_name(path: Path) -> str:
    """The source file's name as provenance: its last part only, printable, bounded."""
    return "".join(c if c.isprintable() else "?" for c in path.name[:200]) or "?"


def _mapped_outcomes(trial: Trial, mapping: tuple[tuple[str, str], ...]) -> dict[str, Outcome]:
    if not mapping:
        raise DataError("give at least one --map COLUMN=OUTCOME")
    known = {o.name: o for o in trial.protocol.outcomes}
    out: dict[str, Outcome] = {}
    for column, name in mapping:
        o = known.get(name)
        if o is None:
            raise DataError(
                f"--map {shown(column, 30)}={shown(name, 30)}: no such outcome "
                f"(outcomes: {', '.join(known)})"
            )
        if o.source != "import":
            imported = [x.name for x in known.values() if x.source == "import"]
            raise DataError(
                f"--map {shown(column, 30)}={name}: {name} is rated at check-in; the protocol "
                + (
                    f"imports only {', '.join(imported)}"
                    if imported
                    else 'imports no outcome (mark one with source = "import")'
                )
            )
        if name in out:
            raise DataError(f"--map: outcome {name} is given twice; map one column to it")
        out[name] = o
    return out


def _day_rule(trial: Trial, shift: int) -> Callable[[date | datetime], date]:
    """The trial day of a cell: a date is that day; a date-time follows the check-in's rule
    (``Trial.today``: the trial's time zone, days starting at ``checkin.day_starts``); then
    ``--day-shift``.  Built once per import: an export may hold half a million rows."""
    tz = trial.tz
    starts = trial.protocol.checkin.day_starts
    back = timedelta(hours=starts.hour, minutes=starts.minute)
    ahead = timedelta(days=shift)

    def day_of(when: date | datetime) -> date:
        if isinstance(when, datetime):
            local = when.replace(tzinfo=tz) if when.tzinfo is None else when
            try:
                day = (local.astimezone(tz) - back).date()
            except (OverflowError, ValueError):
                day = date.max if local.year > 1 else date.min
        else:
            day = when
        try:
            return day + ahead
        except OverflowError:
            return day

    return day_of


def _values_by_day(
    trial: Trial,
    table: ExportTable,
    req: ImportRequest,
    outcomes: dict[str, Outcome],
    today: date,
) -> tuple[dict[tuple[str, str], list[tuple[int, float]]], int]:
    """Every value by (ISO day, outcome), checked; and how many rows were skipped as outside."""
    cal = trial.calendar
    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    out_of_range: dict[str, list[str]] = {}
    skipped = 0
    day_of = _day_rule(trial, req.day_shift)
    iso_of = functools.lru_cache(maxsize=None)(date.isoformat)
    outside: dict[date, str] = {}  # per day, not per row: many rows share a day
    for row in table.rows:
        day = day_of(row.when)
        if day > today:
            raise DataError(
                f"row {row.number}: {day} is after today ({today}); a value cannot be measured "
                "in advance: check the date column, --date-format or --day-shift"
            )
        problem = outside.get(day)
        if problem is None:
            problem = outside[day] = _outside(trial, day)
        if problem:
            if req.skip_outside:
                skipped += 1
                continue
            raise DataError(
                f"row {row.number}: {problem}; add --skip-outside to leave out rows outside "
                f"the trial's days ({cal.start} to {cal.end})"
            )
        for column, name in req.mapping:
            cell = row.cells[column]
            if not cell:
                continue  # an empty cell: no value that day
            value = parse_value(cell, table.delimiter)
            if value is None:
                raise DataError(
                    f"row {row.number}: column {shown(column, 30)} holds {shown(cell, 20)}, "
                    "not a number"
                )
            lo, hi = outcomes[name].scale
            if not (math.isfinite(value) and lo <= value <= hi):
                out_of_range.setdefault(name, []).append(f"{row.number} ({cell[:20]})")
                continue
            found.setdefault((iso_of(day), name), []).append((row.number, value))
    for name, rows in out_of_range.items():
        lo, hi = outcomes[name].scale
        more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
        raise DataError(
            f"{name} must lie within its scale {lo:g}-{hi:g}; out of range in "
            f"row{'s' if len(rows) > 1 else ''} {', '.join(rows[:MAX_LISTED])}{more}; "
            "nothing was imported"
        )
    return found, skipped


def _outside(trial: Trial, day: date) -> str:
    """Why ``day`` takes no value (as a check-in would refuse it), or ""."""
    cal = trial.calendar
    if day < cal.start:
        return f"{day} is before the trial's first day ({cal.start})"
    if day > cal.end:
        return f"{day} is after the trial's last day ({cal.end})"
    d = cal.day(day)
    if d is None or not scheduled(trial, d.day_type):
        kind = "a day" if d is None else f"a{'n' if d.day_type == 'off' else ''} {d.day_type} day"
        return f"{day} is {kind} this protocol takes no values on"
    return ""


def _combine(
    found: dict[tuple[str, str], list[tuple[int, float]]],
    how: str | None,
    outcomes: dict[str, Outcome],
) -> list[tuple[str, str, float | int, tuple[int, ...]]]:
    out = []
    for (day, name), items in sorted(found.items()):
        rows = tuple(r for r, _ in items)
        if len(items) > 1 and how is None:
            listed = ", ".join(map(str, rows[:MAX_LISTED])) + ("..." if len(rows) > 5 else "")
            raise DataError(
                f"rows {listed} all give {name} for {day}; give --combine "
                + "|".join(COMBINE)
                + " to make one value of them, or remove the extra rows"
            )
        value = COMBINE[how or "last"]([v for _, v in items])
        lo, hi = outcomes[name].scale
        if not (math.isfinite(value) and lo <= value <= hi):
            raise DataError(
                f"the {how} of rows {', '.join(map(str, rows[:MAX_LISTED]))} ({value:g}) lies "
                f"outside {name}'s scale {lo:g}-{hi:g} for {day}; nothing was imported"
            )
        if abs(value) > MAX_EXACT:
            raise DataError(
                f"row {rows[0]}: {name} {value:g} is too large to record exactly; values must "
                f"lie within +-{MAX_EXACT}"
            )
        stored: float | int = int(value) if value.is_integer() else value
        out.append((day, name, stored, rows))
    return out


def _judge(
    values: list[tuple[str, str, float | int, tuple[int, ...]]],
    current: dict[str, dict[str, Entry]],
    replace: bool,
) -> list[ImportedValue]:
    """New, replaced or unchanged, per value; a changed value without --replace is refused."""
    out: list[ImportedValue] = []
    clashes: list[str] = []
    for day, name, value, rows in values:
        old = current.get(day, {}).get(name)
        if old is None:
            out.append(ImportedValue(day, name, value, rows, "new"))
            continue
        before = old.payload.get("value")
        if before == value:
            out.append(ImportedValue(day, name, value, rows, "unchanged", before))
        elif replace:
            out.append(ImportedValue(day, name, value, rows, "replaced", before))
        else:
            src = old.payload.get("source", {})
            clashes.append(
                f"{day} {name} holds {before:g} (from {src.get('file')} "
                f"{rows_text(src.get('rows'))}), {rows_text(row_runs(rows))} gives {value:g}"
            )
    if clashes:
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise CheckinError(
            f"{clashes[0]}{more}; add --replace to supersede what is recorded (the old "
            "entries stay in the log); nothing was imported"
        )
    return out


def _refuse_unblinded(entries: list[Entry]) -> None:
    if any(e.kind == "unblind" for e in entries):
        raise TrialStateError("the trial is unblinded; values for trial days are closed")
