"""``blindself analyze``: the same analysis on daily data collected elsewhere.

Its input and defaults: docs/design.md#exported-data.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blindself.analysis.dataset import TrialData
from blindself.errors import DataError
from blindself.protocol.instrument import instrument_for_rule
from blindself.protocol.loading import load_protocol
from blindself.protocol.model import AnalysisPlan, Arm, Instrument, Outcome, Protocol
from blindself.services.bounded import read_bounded
from blindself.services.csv_days import (
    MISSING,
    cell_number,
    day_numbers,
    day_type,
    is_date,
    rows_and_scheme,
)
from blindself.wording import count

MAX_CSV_BYTES = 200_000_000


@dataclass(frozen=True)
class AnalyzeOptions:
    arm_column: str
    active: tuple[str, ...]
    placebo: str
    none: str | None = None
    outcomes: tuple[str, ...] | None = None
    primary: str | None = None
    guess_column: str | None = None
    block_column: str | None = None
    period_column: str | None = None
    date_column: str | None = None
    missing: str = "pairwise"
    where: tuple[str, ...] = ()
    protocol: Path | None = None


@dataclass(frozen=True)
class AnalyzeResult:
    report: dict[str, Any]
    notes: tuple[str, ...]


def analyze_csv(path: Path, opts: AnalyzeOptions) -> AnalyzeResult:
    """Read a one-row-per-day CSV and run the analysis plan on it."""
    from blindself.analysis.engine import analyze

    raw = read_bounded(path, MAX_CSV_BYTES, advice="split it or filter it first")
    data, notes = build_data(raw, path.name, opts)
    report = analyze(data)
    return AnalyzeResult(report, tuple(notes))


def refuse_unsafe_text(text: str, name: str) -> None:
    """Refuse a CSV holding what a terminal or viewer would execute, naming the line only.

    Reliability fix (F21, docs/design.md T-45): column names and values are echoed (the plan,
    the table, error messages), so a column named ``mo\x1b]0;PWN\x07od`` wrote to the terminal's
    title (CSI / OSC escapes).  Protocol text and check-ins were already checked the same way.
    """
    from blindself.protocol.fields import unsafe_text

    for number, line in enumerate(text.split("\n"), start=1):
        problem = unsafe_text(line.removesuffix("\r"))
        if problem:
            raise DataError(f"{name} line {number} contains {problem}; save it as plain text")


def build_data(raw: bytes, name: str, opts: AnalyzeOptions) -> tuple[TrialData, list[str]]:
    """Turn CSV bytes into TrialData; every problem is one DataError line."""
    notes: list[str] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name} is not UTF-8 text; save it as UTF-8 CSV") from exc
    refuse_unsafe_text(text, name)
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    if not header:
        raise DataError(f"{name} has no header row")
    records = list(reader)
    opts = _with_export_defaults(opts, header, records, notes)
    used = [
        opts.arm_column,
        opts.guess_column,
        opts.block_column,
        opts.period_column,
        opts.date_column,
    ]
    for col in [c for c in used if c]:
        if col not in header:
            raise DataError(f"{name}: no column {col!r} (columns: {', '.join(header[:20])})")
    for cond in opts.where:
        col, sep, value = cond.partition("=")
        if not sep or col not in header:
            raise DataError(f"--where {cond!r}: use COL=VALUE with a column of {name}")
        records = [r for r in records if (r.get(col) or "").strip() == value]
    if opts.where and not records:
        raise DataError(f"{name}: no rows match {' and '.join(opts.where)}; check the values")
    protocol = load_protocol(opts.protocol) if opts.protocol is not None else None
    mapping, arms = _arms(opts, protocol)
    hint = ""
    if (
        opts.arm_column != ALLOCATION_ARM
        and ALLOCATION_ARM in header
        and any((r.get("excluded") or "").strip() for r in records)
    ):
        # docs/design.md#exported-data: on a day left out, `arm` is the container taken.
        hint = (
            f"{name} is a blindself export: on a day left out its {opts.arm_column} is the "
            f"container taken; --arm-column {ALLOCATION_ARM} reproduces unblind"
        )
        notes.append(hint)
    # Day numbers come from the dates, else from the row order before rows are skipped, so
    # that a skipped day still counts in trends and AR(1) distances.
    all_days = day_numbers(records, opts, name)
    kinds = [day_type(r) for r in records]
    keep = [
        i
        for i, r in enumerate(records)
        if kinds[i] != "washout"
        and ((r.get(opts.arm_column) or "").strip() in mapping or kinds[i] == "baseline")
    ]
    kept = [records[i] for i in keep]
    days = [all_days[i] for i in keep]
    skipped = len(records) - len(kept)
    if skipped:
        notes.append(
            f"{count(skipped, 'row')} whose {opts.arm_column} is not a declared arm value "
            f"{'was' if skipped == 1 else 'were'} skipped"
        )
    if not kept:
        raise DataError(f"{name}: no rows with {opts.arm_column} in {', '.join(mapping)}")
    outcomes, plan = _outcomes_and_plan(header, kept, opts, name, used, protocol)
    try:
        rows, observed, scheme, note = rows_and_scheme(
            kept, days, mapping, arms, outcomes, opts, name
        )
    except DataError as exc:
        if not hint:
            raise
        raise DataError(f"{exc} ({hint})") from exc
    carried = _carried_seed(records, name, notes)
    seed_from_column = carried is not None
    seed = carried or hashlib.sha256(raw + repr(opts).encode()).hexdigest()
    data = TrialData(
        rows=tuple(rows),
        arms=tuple(arms),
        outcomes=outcomes,
        plan=plan,
        scheme=scheme,
        observed=observed,
        scheme_note=note,
        seed_material=seed,
        title=f"Analysis of {name}",
        question=(
            f"Does {opts.arm_column} = {' / '.join(opts.active)} differ from "
            f"{opts.arm_column} = {opts.placebo}?"
        ),
        meta={
            "source": "csv",
            "file": name,
            "notes": notes,
            # Where the Monte Carlo seed came from; report.json's seed_material_sha256 then
            # matches unblind's when it is "seed column" (docs/design.md#exported-data).
            "seed_from": "seed column" if seed_from_column else "file and options",
            **_unblinding_facts(kept),
        },
    )
    return data, notes


def _arms(opts: AnalyzeOptions, protocol: Protocol | None) -> tuple[dict[str, str], list[Arm]]:
    """CSV value -> arm name, and the arms: the protocol's own (names, labels, doses) when
    ``--protocol`` declares every value as an arm of that kind, else fixed words (active,
    active1.., placebo, none) labelled with the CSV values (review F6: a three-arm data.csv
    with --protocol was reported as active1/active2, not low/high)."""
    given = [(v, "active") for v in opts.active] + [(opts.placebo, "placebo")]
    if opts.none is not None:
        given.append((opts.none, "none"))
    if len({v for v, _ in given}) != len(given):
        raise DataError("--active, --placebo and --none must name different values")
    declared = {a.name: a for a in protocol.arms} if protocol is not None else {}
    if declared and all(v in declared and declared[v].kind == kind for v, kind in given):
        values = {v for v, _ in given}
        return {v: v for v in values}, [a for a in declared.values() if a.name in values]
    mapping: dict[str, str] = {}
    arms: list[Arm] = []
    for v, kind in given:
        n_kind = sum(1 for _, k in given if k == kind)
        arm_name = kind if n_kind == 1 else f"{kind}{len([a for a in arms if a.kind == kind]) + 1}"
        mapping[v] = arm_name
        arms.append(Arm(arm_name, kind, f"{opts.arm_column} = {v}"))  # type: ignore[arg-type]
    return mapping, arms


def _unblinding_facts(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The code-breaks and the early unblinding a blindself export carries, so that ``analyze``
    of ``report/data.csv`` reports them as ``unblind`` did (review F6: "0 code-breaks", and the
    "Unblinded early" caveat lost).  Columns ``codebreak`` and ``unblinded_early``
    (docs/design.md#exported-data); absent in other CSVs."""
    opened = sorted({c for r in rows for c in (r.get("codebreak") or "").split(";") if c.strip()})
    early = sorted({(r.get("unblinded_early") or "").strip() for r in rows} - {""})
    facts: dict[str, Any] = {}
    if opened:
        facts["codebreaks"] = opened
    if early:
        facts.update(early=True, early_reason="; ".join(early))
    return facts


def _carried_seed(rows: list[dict[str, str]], name: str, notes: list[str]) -> str | None:
    """The seed material of ``unblind`` that a blindself export carries in its ``seed``
    column, used as is (whatever the options, as ``unblind``'s own seed) so that a Monte
    Carlo p is reproduced exactly, not within its standard error; None without the column
    (other CSVs: the seed is derived from the file and the options, docs/design.md#exported-data).
    """
    values = {(r.get(SEED_COLUMN) or "").strip() for r in rows} - {""}
    if len(values) == 1:
        return values.pop()
    if values:
        # e.g. the exports of two trials pasted together: no single trial's draws to redo
        notes.append(
            f"{name}: the {SEED_COLUMN} column holds {len(values)} different values; the Monte "
            "Carlo draws are seeded from the file instead (select one trial with --where)"
        )
    return None


SEED_COLUMN = "seed"  # services.export: the seed material of unblind's Monte Carlo draws

# Columns of `blindself export` that are never outcomes (confidence is the guess's).
EXPORT_META = {
    "confidence",
    "taken",
    "block",
    "period",
    "day_type",
    "code",
    "deviation",
    "note",
    "seq",
    "kind",
    "supersedes",
    "superseded",
    "excluded",
    "allocation_arm",
    "codebreak",
    "unblinded_early",
    "seed",
}
ALLOCATION_ARM = "allocation_arm"  # services.export: the arm a period holds in the randomization

EXPORT_DEFAULTS = {
    "block_column": "block",
    "period_column": "period",
    "guess_column": "guess",
    "date_column": "date",
}


def _with_export_defaults(
    opts: AnalyzeOptions, header: list[str], records: list[dict[str, str]], notes: list[str]
) -> AnalyzeOptions:
    """Columns of ``blindself export`` (docs/design.md#exported-data) are used by default.

    A date column is also found as ``Date`` or ``DATE``; a default date column whose values
    are not all ISO dates is not used (with a note) rather than refused.
    """
    from dataclasses import replace

    found = {
        field: column
        for field, column in EXPORT_DEFAULTS.items()
        if getattr(opts, field) is None and column in header and column != opts.arm_column
    }
    if opts.date_column is None and "date_column" not in found:
        spelled = [c for c in header if c.strip().lower() == "date" and c != opts.arm_column]
        if spelled:
            found["date_column"] = spelled[0]
    date_col = found.get("date_column")
    if date_col is not None and not all(is_date(r.get(date_col)) for r in records):
        del found["date_column"]
        notes.append(f"column {date_col} does not hold YYYY-MM-DD dates; rows are numbered")
    return replace(
        opts,
        block_column=found.get("block_column", opts.block_column),
        period_column=found.get("period_column", opts.period_column),
        guess_column=found.get("guess_column", opts.guess_column),
        date_column=found.get("date_column", opts.date_column),
    )


def _outcomes_and_plan(
    header: list[str],
    rows: list[dict[str, str]],
    opts: AnalyzeOptions,
    name: str,
    used: list[str | None],
    protocol: Protocol | None,
) -> tuple[tuple[Outcome, ...], AnalysisPlan]:
    if protocol is not None:
        for o in protocol.outcomes:
            if o.name not in header:
                raise DataError(f"{name}: no column for outcome {o.name!r} of {opts.protocol}")
        return protocol.outcomes, protocol.analysis
    if opts.outcomes:
        cols = list(opts.outcomes)
        for c in cols:
            if c not in header:
                raise DataError(f"--outcomes: {name} has no column {c!r}")
    else:
        cols = [
            c
            for c in header
            if c not in used
            and c.lower() not in EXPORT_META
            and any(cell_number(r.get(c)) is not None for r in rows)
            and all(
                cell_number(r.get(c)) is not None or (r.get(c) or "").strip().lower() in MISSING
                for r in rows
            )
        ]
        if not cols:
            raise DataError(f"{name}: no numeric outcome columns; name them with --outcomes")
    primary = opts.primary or cols[0]
    if primary not in cols:
        raise DataError(f"--primary {primary!r} is not one of the outcomes ({', '.join(cols)})")
    outcomes = []
    for c in cols:
        values = [v for v in (cell_number(r.get(c)) for r in rows) if v is not None]
        if not values:
            raise DataError(f"{name}: column {c!r} holds no numbers")
        lo, hi = min(values), max(values)
        instrument = _instrument_of(c, header, rows, name)
        if instrument is not None:
            # A questionnaire from blindself's own export: analysed as unblind did, over
            # its periods' days (docs/design.md#instruments).
            outcomes.append(
                Outcome(c, instrument.title, instrument.bounds, instrument.better,
                        c == primary, None, instrument=instrument)
            )  # fmt: skip
            continue
        outcomes.append(
            Outcome(c, c, (lo, hi if hi > lo else lo + 1), "higher", c == primary, None)
        )
    plan = AnalysisPlan(0.05, "two-sided", "holm", opts.missing, "mean-difference")  # type: ignore[arg-type]
    return tuple(outcomes), plan


def _instrument_of(
    column: str, header: list[str], rows: list[dict[str, str]], name: str
) -> Instrument | None:
    """The questionnaire a column of blindself's export scores, named by its ``COLUMN:scoring``
    column (e.g. ``gad7/1``); None for a plain rating."""
    if f"{column}:scoring" not in header:
        return None
    rules = {(r.get(f"{column}:scoring") or "").strip() for r in rows} - {""}
    if len(rules) == 1:
        try:
            return instrument_for_rule(next(iter(rules)))
        except KeyError:
            pass
    shown = "".join(ch if ch.isprintable() else "?" for ch in ", ".join(sorted(rules))[:40])
    raise DataError(
        f"{name}: column {column}:scoring must name one scoring rule this blindself knows, "
        f"e.g. gad7/1 (found: {shown or 'none'})"
    )
