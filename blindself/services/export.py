"""The tidy export of a trial's check-ins, CSV or JSON; arms only after unblinding (docs/design.md#exported-data)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from blindself.services.daily import AFTER_UNBLINDING, _cell, analysed_days, exclusion, scheduled
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.measures import MEASURE_KIND, merged_checkins, provenance
from blindself.trial.progress import CHECKIN_KINDS

EXPORT_COLUMNS_BASE = ["date", "day_type", "block", "period", "code", "arm", "guess", "confidence"]
# After unblinding (docs/design.md#exported-data): the arm each period holds in the
# randomization, and what `analyze` needs to reproduce `unblind` beyond the ratings.
ALLOCATION_ARM = "allocation_arm"
UNBLINDED_COLUMNS = ["excluded", "codebreak", "unblinded_early", "seed"]


def seed_material(trial_id: str, commitment: str) -> str:
    """What ``unblind`` seeds its Monte Carlo draws from, carried in data.csv's ``seed`` column
    so that ``analyze`` reproduces a Monte Carlo p exactly (docs/design.md#exported-data).
    Both parts are public once the trial is unblinded, the only time a ``seed`` is written."""
    return f"{trial_id}:{commitment}"


@dataclass(frozen=True)
class Unblinded:
    """What an export after unblinding adds to each row (docs/design.md#exported-data).

    ``code_arm`` maps a canonical code to its committed arm; ``codebreak`` an ISO date to the
    codes opened by a code-break that leave that day out (its period's own container, or a
    block partner's), in display form; ``early`` is the reason of an early unblinding;
    ``seed`` the seed material of the analysis (:func:`seed_material`).
    """

    code_arm: dict[str, str]
    codebreak: dict[str, str]
    early: str
    seed: str


def taken_arm(code: str | None, known: Any, code_arm: dict[str, str]) -> str | None:
    """A row's ``arm``: the committed arm of the container it names; on a day without one,
    the arm it is analysed under (a helper-mode day without a capsule: intention to treat),
    and none on a day the analysis leaves out (review F14: on an excluded day it was the arm
    its period stands for in the randomization, not what was taken)."""
    if code:
        return code_arm.get(code)
    if known is None or known.excluded:
        return None
    return str(known.arm) if known.arm else None


def export_rows(
    trial: Trial,
    include_all: bool,
    days: dict[str, Any] | None,
    until: str = "9999-12-31",
    after: Unblinded | None = None,
) -> list[dict[str, Any]]:
    """Tidy rows, one per check-in (or per entry with ``include_all``), in date order.

    ``days`` and ``after`` (after unblinding only): an ISO date -> its analysed DayRow, and
    the columns only an unblinded export has (:class:`Unblinded`).  Imported
    values are part of their day's row (a day with imported values alone is a row too);
    ``include_all`` lists each imported value as an entry of kind ``measure`` with its
    source (docs/design.md#imported-outcomes).
    """
    entries = trial.store.entries()
    chosen: list[tuple[dict[str, Any], Entry | None]]
    if include_all:
        chosen = [(e.payload, e) for e in entries if e.kind in (*CHECKIN_KINDS, MEASURE_KIND)]
        superseded = {e.supersedes for _, e in chosen if e is not None and e.supersedes}
    else:
        chosen = [(p, None) for _, p in sorted(merged_checkins(entries).items())]
        superseded = set()
    rows = []
    for p, e in chosen:
        if e is not None and e.kind == MEASURE_KIND:
            p = {"date": p["date"], "ratings": {p["outcome"]: p["value"]}, "source": p}
        public = _public_day(trial, p)
        code = p.get("code")
        known = (days or {}).get(p["date"])
        row: dict[str, Any] = {
            "date": p["date"],
            "day_type": public["day_type"],
            # Helper mode shows no block structure before unblinding (a block partner is
            # implied by it); in self mode the block is the bag the participant holds.
            "block": public["block"]
            if days is not None or not trial.schedule.period_code
            else None,
            "period": public["period"],
            "code": format_code(code) if code else None,
            "arm": taken_arm(code, known, after.code_arm) if after else None,
            "guess": p.get("guess"),
            "confidence": p.get("confidence"),
        }
        for o in trial.protocol.outcomes:
            row[o.name] = p["ratings"].get(o.name)
        for o in trial.protocol.instruments:
            # The answers and the rule the score came from; `analyze` reads the rule to
            # analyse the column as a questionnaire (docs/design.md#instruments).
            record = (p.get("answers") or {}).get(o.name)
            row[f"{o.name}:scoring"] = record["scoring"] if record else None
            row[f"{o.name}:items"] = (
                ";".join("" if a is None else str(a) for a in record["items"]) if record else None
            )
        row["taken"] = p.get("taken")
        # A day with imported values but no check-in (analyze reads this mark).
        row["deviation"] = (
            "no-checkin" if p.get("imported_only") else ";".join(p.get("deviation", []))
        )
        row["note"] = p.get("note", "")
        if days is not None:
            # The arm the day's period holds in the randomization (dataset.from_trial).
            row[ALLOCATION_ARM] = known.arm if known else None
            row["excluded"] = exclusion(known) if known else ""
            row.update(_unblinded_cells(p["date"], after))
        if e is not None:
            row["seq"] = e.seq
            row["kind"] = e.kind
            row["supersedes"] = e.supersedes
            row["superseded"] = e.seq in superseded
            row["source"] = provenance(e.payload) if e.kind == MEASURE_KIND else None
        rows.append(row)
    if days is not None and not include_all:
        # After unblinding the tidy data holds every scheduled day: a missed day is a row
        # with empty ratings, so each period (and block) stays complete for `analyze`.
        seen = {r["date"] for r in rows}
        for d in trial.calendar.days:
            day = d.date.isoformat()
            if day in seen or not scheduled(trial, d.day_type):
                continue
            missed: dict[str, Any] = {
                "date": d.date.isoformat(),
                "day_type": d.day_type,
                "block": None if d.block is None else d.block + 1,
                "period": None if d.period is None else d.period + 1,
                "code": None,
                "arm": taken_arm(None, days[day], after.code_arm) if after else None,
                ALLOCATION_ARM: days[day].arm,
                "guess": None,
                "confidence": None,
            }
            missed.update({name: None for name in _outcome_columns(trial)})
            gone = day > until  # after an early unblinding: kept so each period has its arm
            missed.update(
                {"taken": None, "deviation": AFTER_UNBLINDING if gone else "missed", "note": ""}
            )
            missed["excluded"] = exclusion(days[day])
            missed.update(_unblinded_cells(day, after))
            rows.append(missed)
        rows.sort(key=lambda r: str(r["date"]))
    return rows


def _unblinded_cells(day: str, after: Unblinded | None) -> dict[str, str]:
    if after is None:
        return {}
    return {
        "codebreak": after.codebreak.get(day, ""),
        "unblinded_early": after.early,
        "seed": after.seed,
    }


def _codebreaks_by_day(trial: Trial, rows: list[Any]) -> dict[str, str]:
    """ISO date -> the opened codes (display form, ``;``-joined) that leave its day out.

    The same rule as ``dataset.from_trial``'s ``codebroken``: a day is left out when a code of
    its period (the one it is analysed under, or one typed in it) was opened or is the block
    partner an opened code implies; ``analyze`` counts the distinct opened codes.
    """
    cover: dict[str, set[str]] = {}
    for e in trial.store.entries():
        if e.kind == "codebreak":
            opened = str(e.payload.get("code"))
            for c in (opened, *e.payload.get("implied", [])):
                cover.setdefault(str(c), set()).add(format_code(opened))
    codes_of: dict[int, set[str]] = {}
    for r in rows:
        if r.period is not None:
            codes_of.setdefault(r.period, set()).update(c for c in (r.analysed_code, r.code) if c)
    out = {}
    for r in rows:
        found = set().union(*(cover.get(c, set()) for c in codes_of.get(r.period, ())))
        if r.period is not None and found:
            out[str(r.date)] = ";".join(sorted(found))
    return out


def _public_day(trial: Trial, payload: dict[str, Any]) -> dict[str, Any]:
    """Day type, period and block (1-based) of a row: as the check-in recorded them, else
    from the public calendar (a day with imported values alone)."""
    if "day_type" in payload:
        return payload
    d = trial.calendar.day(date.fromisoformat(payload["date"]))
    if d is None:  # an import only takes trial days; kept total for a damaged log
        return {"day_type": None, "period": None, "block": None}
    return {
        "day_type": d.day_type,
        "period": None if d.period is None else d.period + 1,
        "block": None if d.block is None else d.block + 1,
    }


def export_trial(
    trial_dir: Path, fmt: str, include_all: bool, unblind: dict[str, Any] | None = None
) -> str:
    """CSV or JSON export; arms appear only after unblinding.

    ``unblind`` is the payload of an unblind entry not yet written: ``unblind`` builds
    data.csv before it closes the log, so a failure leaves the trial blinded.
    """
    with opened_trial(trial_dir, readonly=True) as trial:
        if unblind is None:
            entry = trial.unblinding()
            if entry is not None:
                from blindself.services.revealed import checked_unblinding

                checked_unblinding(trial)  # docs/design.md T-40: no arms from an edited allocation
                unblind = entry.payload
        days = None
        after = None
        until = "9999-12-31"
        columns = list(EXPORT_COLUMNS_BASE)
        if unblind is not None:
            code_arm = {c["code"]: c["arm"] for c in unblind["allocation"]["containers"]}
            until = str(unblind["unblinded_at"])[:10]
            rows_, _ = analysed_days(trial, code_arm, until)
            days = {str(r.date): r for r in rows_}
            early = (unblind.get("reason") or "early") if unblind.get("early") else ""
            seed = seed_material(trial.trial_id, str(unblind["commitment"]))
            after = Unblinded(code_arm, _codebreaks_by_day(trial, rows_), str(early), seed)
            columns.insert(columns.index("arm") + 1, ALLOCATION_ARM)
        rows = export_rows(trial, include_all, days, until, after)
        columns += _outcome_columns(trial)
        columns += ["taken", "deviation", "note"]
        if days is not None:
            # Which days the analysis leaves out and why (codebreak, wrong-bag, ...), which
            # opened codes leave them out, an early unblinding's reason and the seed of the
            # Monte Carlo draws: `analyze` honours them, so it reproduces `unblind`.
            columns += UNBLINDED_COLUMNS
        if include_all:
            columns += ["seq", "kind", "supersedes", "superseded", "source"]
    if fmt == "json":
        return (
            json.dumps({"trial": trial.trial_id, "columns": columns, "rows": rows}, indent=2) + "\n"
        )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else _cell(r[k]) for k in columns})
    return buf.getvalue()


def _outcome_columns(trial: Trial) -> list[str]:
    """An outcome's column each, then two per questionnaire: its scoring rule and answers."""
    columns = [o.name for o in trial.protocol.outcomes]
    for o in trial.protocol.instruments:
        columns += [f"{o.name}:scoring", f"{o.name}:items"]
    return columns
