"""``blindself share`` and ``blindself pool``: pooling unblinded trials across people.

``share`` turns an unblinded trial into an anonymized bundle (schema ``blindself-share/2``):
the dose-day data with day numbers counted from the start (no dates, notes or codes), the
protocol's public parts, the commitment and the revealed allocation document (which holds
no dates, docs/design.md#allocation-document-and-commitment), so that anyone can re-check the
commitment.  ``pool`` reads such bundles, or one long CSV, and runs
:func:`blindself.analysis.stats.pooling.pool_measure` per measure.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blindself import __version__
from blindself.errors import DataError
from blindself.services.analyze import refuse_unsafe_text
from blindself.services.bounded import read_bounded
from blindself.services.bundle_rows import check_rows
from blindself.services.sharing import OLD_SHARE_SCHEMAS, SHARE_SCHEMA
from blindself.wording import count

POOL_SCHEMA = "blindself-pool/1"
MAX_INPUT_BYTES = 500_000_000
_MISSING = {"", "na", "nan", "null", "none", "."}
_UNSURE = "unsure"
#: Fields of a bundle row usable as covariates besides the participant-level ones.
_ROW_FIELDS = ("day", "period", "block", "confidence")


@dataclass(frozen=True)
class PoolOptions:
    """What to pool.  The column options apply to a long CSV; with bundles, ``active`` and
    ``placebo`` name arms (default: the protocol's one active and one placebo arm)."""

    participant_column: str | None = None
    arm_column: str | None = None
    active: str | None = None
    placebo: str | None = None
    outcome_column: str | None = None
    measure_column: str | None = None
    measures: tuple[str, ...] | None = None
    guess_column: str | None = None
    covariates: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolResult:
    report: dict[str, Any]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass
class _Long:
    """The long table being built: one entry per observation."""

    participant: list[int] = field(default_factory=list)
    measure: list[str] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    arm: list[float] = field(default_factory=list)
    guess: list[float] = field(default_factory=list)
    covariates: dict[str, list[str]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


def pool_inputs(inputs: Sequence[Path], opts: PoolOptions) -> PoolResult:
    """Pool bundles (``*.json``) or one long CSV; returns the ``blindself-pool/1`` report."""
    import numpy as np

    from blindself.analysis.stats.pooling import pool_measure, small_pool_warning

    if not inputs:
        raise DataError("give the bundles (*.json) or one long CSV to pool")
    notes: list[str] = []
    twice = sorted({c for c in opts.covariates if opts.covariates.count(c) > 1})
    if twice:
        raise DataError(f"--covariates names {twice[0]!r} twice; give each once")
    bundles = [p for p in inputs if p.suffix.lower() == ".json"]
    if bundles and len(bundles) != len(inputs):
        raise DataError("pool either bundles (*.json) or one CSV, not both")
    if bundles:
        long, measures, arms = _from_bundles(bundles, opts, notes)
        kind = "bundles"
    else:
        if len(inputs) != 1:
            raise DataError("pool reads one long CSV at a time (or several *.json bundles)")
        long, measures, arms = _from_csv(inputs[0], opts, notes)
        kind = "csv"
    y = np.asarray(long.y, dtype=float)
    arm = np.asarray(long.arm, dtype=float)
    guess = np.asarray(long.guess, dtype=float)
    participant = np.asarray(long.participant, dtype=np.intp)
    measure = np.asarray(long.measure, dtype=object)
    results = []
    failed: list[str] = []
    for m in measures:
        sel = measure == m
        if not sel.any():
            notes.append(f"measure {m!r} has no observation; left out")
            continue
        covs = {c: [v for v, s in zip(vals, sel, strict=True) if s]
                for c, vals in long.covariates.items()}  # fmt: skip
        has_guess = not np.isnan(guess[sel]).all()
        try:
            r = pool_measure(m, y[sel], arm[sel], participant[sel], long.labels, covs,
                             guess[sel] if has_guess else None)  # fmt: skip
        except DataError as exc:
            failed.append(str(exc))
            notes.append(f"measure {m!r} left out: {exc}")
            continue
        results.append({**r.to_json(), "cgrc": _cgrc(m, y[sel], arm[sel], guess[sel],
                                                     participant[sel]) if has_guess else None})  # fmt: skip
    if not results:
        reason = f" ({failed[0]})" if failed else ": check --measures and the columns"
        raise DataError(f"no measure could be pooled{reason}")
    small = small_pool_warning(len(set(long.participant)))
    warnings = [small] if small else []
    report = {
        "schema": POOL_SCHEMA,
        "made_by": f"blindself {__version__}",
        "inputs": {"kind": kind, "files": [p.name for p in inputs],
                   "n_participants": len(set(long.participant))},
        "arms": arms,
        "covariates": list(opts.covariates),
        "measures": results,
        "notes": notes,
        "warnings": warnings,
        "caveats": [
            "Drug effects are active - placebo in rating points; positive means higher "
            "ratings on the active arm.",
            "Mixed models: y ~ arm [+ covariates] + (1 | participant) by REML, Wald 95 % "
            "intervals; the guess-adjusted model and the strata use observations with a "
            "definite guess only.",
            "The guess is measured after taking the dose, so adjusting for it can remove part "
            "of a real drug effect (a mediator); read it as 'how much is explained by what "
            "people believed they took', not as the true drug effect.",
            "Guess counts treat each rating day as one observation; days of one person are "
            "not independent, so the blinding test is descriptive.",
            "The blinding-corrected effect (correct guess rate curve at 50 %, Szigeti et al. "
            "2023) is a sensitivity analysis: a difference of means re-weighted by arm and "
            "guess, not a randomized contrast; its interval resamples participants.",
        ],
    }  # fmt: skip
    return PoolResult(report, tuple(notes), tuple(warnings))


def _cgrc(measure: str, y: Any, arm: Any, guess: Any, participant: Any) -> dict[str, Any]:
    """The measure's Correct Guess Rate Curve, participants resampled (a sensitivity
    analysis: the guess is measured after the dose, the strata are not randomized)."""
    import hashlib

    import numpy as np

    from blindself.analysis.stats.cgrc import correct_guess_rate_curve

    seed = int.from_bytes(hashlib.sha256(f"pool|cgrc|{measure}".encode()).digest()[:8], "big")
    r = correct_guess_rate_curve(
        y, arm, guess, cluster=participant, rng=np.random.default_rng(seed)
    )
    return {**r.to_json(), "unit": "participant"}


# ----------------------------------------------------------------------------- bundles
def _from_bundles(
    paths: Sequence[Path], opts: PoolOptions, notes: list[str]
) -> tuple[_Long, list[str], dict[str, str]]:
    long = _Long(covariates={c: [] for c in opts.covariates})
    measures: list[str] = list(opts.measures or ())
    questionnaires: set[str] = set()
    seen: dict[str, str] = {}
    for path in paths:
        b = _load_bundle(path)
        if b["commitment"] in seen:
            raise DataError(
                f"{path.name} and {seen[b['commitment']]} are the same trial: give each once"
            )
        seen[b["commitment"]] = path.name
        active, placebo = _bundle_arms(b, path.name, opts)
        if opts.measures is None:
            measures += [o["name"] for o in b["protocol"]["outcomes"] if o["name"] not in measures]
        person = len(long.labels)
        long.labels.append(f"{path.stem} ({b['commitment'][:8]})")
        pcov = b.get("covariates") or {}
        for c in opts.covariates:
            known = c in pcov or c in _ROW_FIELDS
            if not known:
                raise DataError(
                    f"--covariates: {c!r} is not in {path.name} (bundles carry: "
                    f"{', '.join([*sorted(pcov), *_ROW_FIELDS])})"
                )
        # A questionnaire's score describes its period, so it is pooled on whichever day of
        # the period it was asked, dose or "day after", as unblind compares it; a single
        # rating on dose days (docs/design.md#pool-questionnaires).
        by_period = {o["name"] for o in b["protocol"]["outcomes"] if o.get("instrument")}
        questionnaires.update(by_period)
        left_out = 0
        for row in b["rows"]:
            on_dose = row.get("day_type") == "dose"
            if not on_dose and not (by_period and row.get("day_type") == "off"):
                continue
            if row.get("arm") not in (active, placebo):
                continue
            if row["excluded"]:  # the person's own analysis leaves it out (as unblind does)
                left_out += on_dose
                continue
            g = row.get("guess")
            gv = 1.0 if g == active else 0.0 if g == placebo else math.nan
            ratings = row.get("ratings") or {}
            if not isinstance(ratings, dict):
                # Fix: a list here crashed with a traceback.
                raise DataError(f"{path.name}: a row's ratings are not NAME: VALUE pairs")
            for m, value in ratings.items():
                if m not in measures or value is None or not (on_dose or m in by_period):
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise DataError(f"{path.name}: rating {str(m)[:20]!r} is not a number")
                long.participant.append(person)
                long.measure.append(m)
                long.y.append(float(value))
                long.arm.append(1.0 if row["arm"] == active else 0.0)
                long.guess.append(gv)
                for c in opts.covariates:
                    v = pcov[c] if c in pcov else row.get(c)
                    long.covariates[c].append("" if v is None else str(v))
        if left_out:
            notes.append(
                f"{path.name}: {count(left_out, 'dose day')} left out, as its own analysis does "
                "(a container mix-up or a code-break)"
            )
    pooled = f"{len(paths)} bundles; dose days of the active and placebo arms are pooled"
    if questionnaires:
        pooled += ", questionnaires on the day of their period they were asked"
    notes.append(pooled)
    return long, measures, {"active": opts.active or "active", "placebo": opts.placebo or "placebo"}


def _load_bundle(path: Path) -> dict[str, Any]:
    from blindself.errors import SealError
    from blindself.trial.allocation import parse_allocation
    from blindself.trial.seal.crypto import commitment

    raw = read_bounded(path, MAX_INPUT_BYTES, advice="split it or filter it first")
    try:
        b = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path.name} is not JSON; give bundles made by blindself share") from exc
    if isinstance(b, dict) and b.get("schema") in OLD_SHARE_SCHEMAS:
        raise DataError(
            f"{path.name} is a {b['schema']} bundle, made by an older blindself: its rows do not "
            "say which container each day took nor which days its analysis left out, so it "
            f"cannot be pooled; its author can make a {SHARE_SCHEMA} bundle by running blindself "
            "share again with this version (the unblinded trial folder is all it needs)"
        )
    if not isinstance(b, dict) or b.get("schema") != SHARE_SCHEMA:
        raise DataError(f"{path.name} is not a {SHARE_SCHEMA} bundle (made by blindself share)")
    try:
        doc = parse_allocation(json.dumps(b["allocation"]).encode())
        ok = commitment(doc.canonical()) == b["commitment"]
        rows, arms = b["rows"], b["protocol"]["arms"]
        names = {a["name"] for a in arms}
        if any(r.get("arm") is not None and r["arm"] not in names for r in rows):
            ok = False
    except (SealError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path.name} is damaged or incomplete; share the trial again") from exc
    if not ok:
        raise DataError(
            f"{path.name}: its data or allocation do not match its commitment; it was edited "
            "after unblinding and cannot be pooled"
        )
    check_rows(path.name, b, doc)
    return b


def _bundle_arms(b: dict[str, Any], name: str, opts: PoolOptions) -> tuple[str, str]:
    arms = b["protocol"]["arms"]
    names = [a["name"] for a in arms]

    def pick(kind: str, wanted: str | None) -> str:
        if wanted is not None:
            if wanted not in names:
                raise DataError(f"{name} has no arm {wanted!r} (arms: {', '.join(names)})")
            return wanted
        of_kind = [a["name"] for a in arms if a["kind"] == kind]
        if len(of_kind) != 1:
            raise DataError(f"{name} has {len(of_kind)} {kind} arms; choose one with --{kind} NAME")
        return str(of_kind[0])

    return pick("active", opts.active), pick("placebo", opts.placebo)


# ----------------------------------------------------------------------------- long CSV
def _from_csv(
    path: Path, opts: PoolOptions, notes: list[str]
) -> tuple[_Long, list[str], dict[str, str]]:
    needed = {"--participant-column": opts.participant_column, "--arm-column": opts.arm_column,
              "--active": opts.active, "--placebo": opts.placebo,
              "--outcome-column": opts.outcome_column}  # fmt: skip
    missing = [k for k, v in needed.items() if not v]
    if missing:
        raise DataError(f"pooling a CSV needs {', '.join(missing)}")
    active, placebo = str(opts.active), str(opts.placebo)
    if active == placebo:
        raise DataError("--active and --placebo name the same value; give the two arms")
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise DataError(f"{path.name} has no header row")

    def col(option: str, name: str | None) -> int:
        if name is None:
            return -1
        if name not in header:
            raise DataError(
                f"{option}: {path.name} has no column {name!r} (columns: {', '.join(header)})"
            )
        return header.index(name)

    i_part = col("--participant-column", opts.participant_column)
    i_arm = col("--arm-column", opts.arm_column)
    i_y = col("--outcome-column", opts.outcome_column)
    i_meas = col("--measure-column", opts.measure_column)
    i_guess = col("--guess-column", opts.guess_column)
    i_cov = [col("--covariates", c) for c in opts.covariates]
    if opts.measures and i_meas < 0:
        raise DataError("--measures needs --measure-column (the column naming the measure)")
    long = _Long(covariates={c: [] for c in opts.covariates})
    wanted = set(opts.measures) if opts.measures else None
    measures: list[str] = list(opts.measures or ())
    person: dict[str, int] = {}
    skipped: dict[str, int] = {}
    guess_codes = {active: 1.0, placebo: 0.0}
    width = len(header)
    for line, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != width:
            raise DataError(f"{path.name} line {line}: {len(rec)} fields, the header has {width}")
        a = rec[i_arm].strip()
        if a not in guess_codes:
            skipped[a] = skipped.get(a, 0) + 1
            continue
        m = rec[i_meas].strip() if i_meas >= 0 else str(opts.outcome_column)
        if wanted is not None and m not in wanted:
            continue
        if i_meas >= 0 and wanted is None and m not in measures:
            measures.append(m)
        raw_y = rec[i_y].strip()
        if raw_y.lower() in _MISSING:
            y = math.nan
        else:
            try:
                y = float(raw_y)
            except ValueError:
                raise DataError(
                    f"{path.name} line {line}: {opts.outcome_column} {raw_y[:20]!r} is not a number"
                ) from None
        if i_guess >= 0:
            g = rec[i_guess].strip()
            if g in guess_codes:
                gv = guess_codes[g]
            elif g.lower() in _MISSING or g.lower() == _UNSURE:
                gv = math.nan
            else:
                raise DataError(
                    f"{path.name} line {line}: guess {g[:20]!r} is neither {active!r}, "
                    f"{placebo!r} nor 'unsure'"
                )
        else:
            gv = math.nan
        pid = rec[i_part].strip()
        if pid not in person:
            person[pid] = len(long.labels)
            long.labels.append(pid)
        long.participant.append(person[pid])
        long.measure.append(m)
        long.y.append(y)
        long.arm.append(guess_codes[a])
        long.guess.append(gv)
        for c, i in zip(opts.covariates, i_cov, strict=True):
            long.covariates[c].append(rec[i])
    if i_meas < 0:
        measures = [str(opts.outcome_column)]
    for value, n in skipped.items():
        notes.append(
            f"{count(n, 'row')} with {opts.arm_column} = {value!r} skipped (not an arm given)"
        )
    return long, measures, {"active": active, "placebo": placebo}


def _read_text(path: Path) -> str:
    raw = read_bounded(path, MAX_INPUT_BYTES, advice="split it or filter it first")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} is not UTF-8 text; save it as UTF-8 CSV") from exc
    refuse_unsafe_text(text, path.name)  # F21: names and values are echoed to the terminal
    return text
