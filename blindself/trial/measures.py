"""Imported outcome values in the log: one ``measure`` entry per day and outcome.

``blindself import`` writes them (docs/design.md#imported-outcomes); a later import of the
same day and outcome with ``--replace`` appends a new entry that ``supersedes`` the old one,
which stays in the log.  Each value carries its provenance: the source file's name and
SHA-256, the column, the rows it came from and when it was imported.

Here the log is read back: the current value per day and outcome, the check-ins with those
values merged in (what the analysis and the export see), and a summary per source for the
report.  Nothing here reads the allocation.
"""

from __future__ import annotations

from typing import Any

from blindself.protocol.model import Protocol, StopRule
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins

MEASURE_KIND = "measure"


def current_measures(entries: list[Entry]) -> dict[str, dict[str, Entry]]:
    """The latest ``measure`` entry per ISO day and outcome (superseded ones stay in the log)."""
    out: dict[str, dict[str, Entry]] = {}
    for e in entries:
        if e.kind == MEASURE_KIND and e.day is not None:
            out.setdefault(e.day, {})[str(e.payload.get("outcome"))] = e
    return out


def merged_checkins(entries: list[Entry]) -> dict[str, dict[str, Any]]:
    """The current check-in payload per ISO day, imported values merged into its ratings.

    A day with imported values but no check-in gets a payload of those values alone: no
    code, nothing known about the container (``taken`` None) and no guess, so the analysis
    treats it as a day whose check-in was missed but whose outcome was measured; its period
    keeps the arm the rest of the log gives it (docs/design.md#imported-outcomes).
    """
    out = {d: dict(e.payload) for d, e in current_checkins(entries).items()}
    for day, by_outcome in current_measures(entries).items():
        values = {name: e.payload["value"] for name, e in by_outcome.items()}
        payload = out.get(day)
        if payload is None:
            out[day] = {
                "date": day,
                "code": None,
                "taken": None,
                "ratings": values,
                "guess": None,
                "confidence": None,
                "deviation": [],
                "note": "",
                "imported_only": True,
            }
        else:
            payload["ratings"] = {**payload.get("ratings", {}), **values}
    return out


def row_runs(rows: tuple[int, ...] | list[int]) -> list[list[int]]:
    """Row numbers as runs ``[first, last]`` of consecutive rows: a day of per-minute samples
    is one pair, not 1,440 numbers in every entry.

    >>> row_runs([5])
    [[5, 5]]
    >>> row_runs([2, 3, 4, 7])
    [[2, 4], [7, 7]]
    """
    runs: list[list[int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    return runs


def rows_text(runs: Any) -> str:
    """``row 5``, ``rows 2-1441`` or ``rows 2, 4-6``, from :func:`row_runs`' form."""
    try:
        parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    except (TypeError, ValueError):
        return "row ?"
    single = len(runs) == 1 and runs[0][0] == runs[0][1]
    return ("row " if single else "rows ") + ", ".join(parts)


def provenance(payload: dict[str, Any]) -> str:
    """One line saying where an imported value came from (for exports)."""
    src = payload.get("source", {})
    where = rows_text(src.get("rows", []))
    how = f" ({src['combine']})" if src.get("combine") else ""
    return (
        f"{src.get('file')} {where}{how}, column {src.get('column')!r}, "
        f"sha256 {str(src.get('sha256'))[:16]}..., imported {payload.get('imported_at')}"
    )


def import_summary(entries: list[Entry]) -> list[dict[str, Any]]:
    """Per outcome and source file: how many current values came from it (for the report)."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for by_outcome in current_measures(entries).values():
        for name, e in by_outcome.items():
            src = e.payload.get("source", {})
            key = (name, str(src.get("file")), str(src.get("sha256")), str(src.get("column")))
            counts[key] = counts.get(key, 0) + 1
    return [
        {"outcome": o, "values": n, "file": f, "sha256": h, "column": c}
        for (o, f, h, c), n in sorted(counts.items())
    ]


def stop_rules_met(protocol: Protocol, entries: list[Entry]) -> tuple[StopRule, ...]:
    """Stop rules on imported outcomes that the log's values reach (as a check-in checks its
    own ratings): the threshold met, in the worse direction, on at least ``days`` days."""
    imported = {o.name: o for o in protocol.outcomes if o.source == "import"}
    merged = merged_checkins(entries)
    hits = []
    for rule in protocol.stop_rules:
        o = imported.get(rule.outcome)
        if o is None:
            continue
        n = 0
        for payload in merged.values():
            v = payload.get("ratings", {}).get(rule.outcome)
            if v is None:
                continue
            if (o.better == "lower" and v >= rule.threshold) or (
                o.better == "higher" and v <= rule.threshold
            ):
                n += 1
        if n >= rule.days:
            hits.append(rule)
    return tuple(hits)
