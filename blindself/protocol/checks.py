"""Validate a parsed protocol document into :class:`~blindself.protocol.model.Protocol`
(docs/design.md#protocol).

Every validation error names the file, the key and what is allowed, e.g.
``protocol.toml: design.block names arm "actve", which is not defined (defined: active, placebo)``.
"""

from __future__ import annotations

import math
import re
from datetime import time
from typing import Any

from blindself.protocol.fields import FieldReader, show
from blindself.protocol.model import (
    ARM_KINDS,
    DOSING_NAMES,
    WEEKDAYS,
    AnalysisPlan,
    Arm,
    CheckinPlan,
    Design,
    Outcome,
    Protocol,
    StopRule,
)

# About three seconds of counting (measured: 5.4e8 units took 7.8 s on one core).
_MAX_RUN_COST = 200_000_000


def _run_count_cost(design: Design) -> int:
    """An upper bound on the work of counting a ``max_run`` design's allocations."""
    if design.kind == "blocks":
        per_block = {a: design.block.count(a) for a in design.block}
        length, repeats = len(design.block), design.blocks
    else:
        per_block = {a: n for a, n in design.counts if n > 0}
        length, repeats = sum(per_block.values()), 1
    states = math.prod(n + 1 for n in per_block.values()) * len(per_block)
    return repeats * length * states * min(design.max_run or length, length)


def validate_protocol(doc: dict[str, Any], *, source: str, sha256: str) -> Protocol:
    """The protocol described by a TOML document; ``source`` names the file in messages.

    Raises
    ------
    ProtocolError
        Naming the file, the key and what is allowed.
    """
    return _Validator(source).protocol(doc, sha256)


class _Validator(FieldReader):
    """The sections of a protocol, each checked against the others it refers to."""

    def protocol(self, doc: dict[str, Any], sha: str) -> Protocol:
        self.no_unknown(
            doc, "", {"trial", "arms", "design", "outcomes", "checkin", "analysis", "stop_rules"}
        )
        trial = self.table(doc, "trial", {"title", "question", "description", "timezone"}, True)
        arms = self.arms(doc.get("arms"))
        design = self.design(self.table(doc, "design", _DESIGN_KEYS, True), arms)
        outcomes = self.outcomes(doc.get("outcomes"))
        checkin = self.checkin(
            self.table(doc, "checkin", {"guess", "guess_first", "days", "day_starts"}, False)
        )
        analysis = self.analysis(
            self.table(
                doc,
                "analysis",
                {"alpha", "alternative", "correction", "missing", "statistic", "primary_test"},
                False,
            )
        )
        if analysis.primary_test == "dose-trend":
            allocated = set(design.block) | {a for a, n in design.counts if n > 0}
            if sum(1 for a in arms if a.kind == "active" and a.name in allocated) < 2:
                raise self.fail(
                    "analysis.primary_test",
                    'is "dose-trend", which needs at least two active arms in the design; '
                    'use "contrasts"',
                )
        stop_rules = self.stop_rules(doc.get("stop_rules"), outcomes)
        tz = trial.get("timezone")
        if tz is not None:
            tz = self.string(trial, "timezone", "trial")
            _check_timezone(tz, self)
        return Protocol(
            title=self.string(trial, "title", "trial"),
            question=self.string(trial, "question", "trial"),
            description=self.string(trial, "description", "trial", ""),
            timezone=tz,
            arms=arms,
            design=design,
            outcomes=outcomes,
            checkin=checkin,
            analysis=analysis,
            stop_rules=stop_rules,
            source=self.source,
            sha256=sha,
        )

    def arms(self, value: Any) -> tuple[Arm, ...]:
        if value is not None and not isinstance(value, list):
            # Fix: "[arms]" (a table) was reported as a missing "[[arms]]".
            raise self.fail("arms", "must be an array of tables ([[arms]])")
        if not value:
            raise self.fail("[[arms]]", "is missing; define at least an active and a placebo arm")
        out: list[Arm] = []
        for i, a in enumerate(value):
            prefix = f"arms[{i}]"
            if not isinstance(a, dict):
                raise self.fail(prefix, "must be a table ([[arms]])")
            self.no_unknown(a, prefix, {"name", "kind", "label", "dose", "unit"})
            name = self.name(a, "name", prefix)
            if name == "unsure":
                raise self.fail(
                    f"{prefix}.name", 'may not be "unsure" (it is the don\'t-know guess)'
                )
            if any(o.name == name for o in out):
                raise self.fail(
                    f"{prefix}.name", f"repeats arm {show(name)}; arm names must be unique"
                )
            kind = self.choice(a, "kind", prefix, ARM_KINDS, "")
            out.append(
                Arm(
                    name=name,
                    kind=kind,  # type: ignore[arg-type]
                    label=self.string(a, "label", prefix, name),
                    dose=self.number(a, "dose", prefix, None),
                    # Fix: was `a.get("unit") and ...`, which let 0, false and [] through.
                    unit=self.string(a, "unit", prefix) if "unit" in a else None,
                )
            )
        kinds = [a.kind for a in out]
        if "active" not in kinds or "placebo" not in kinds:
            raise self.fail(
                "[[arms]]", 'needs at least one arm of kind "active" and one of kind "placebo"'
            )
        if kinds.count("placebo") > 1 or kinds.count("none") > 1:
            raise self.fail("[[arms]]", 'may hold at most one "placebo" and one "none" arm')
        return tuple(out)

    def arm_ref(self, name: Any, key: str, arms: tuple[Arm, ...]) -> str:
        defined = [a.name for a in arms]
        if name not in defined:
            raise self.fail(
                key,
                f"names arm {show(name)}, which is not defined (defined: {', '.join(defined)})",
            )
        return str(name)

    def design(self, d: dict[str, Any], arms: tuple[Arm, ...]) -> Design:
        kind = self.choice(d, "kind", "design", ("blocks", "complete"), "blocks")
        block: tuple[str, ...] = ()
        counts: tuple[tuple[str, int], ...] = ()
        blocks = 1
        if kind == "blocks":
            raw_block = d.get("block")
            if not isinstance(raw_block, list) or len(raw_block) < 2:
                raise self.fail(
                    "design.block", 'must list the arms of one block, e.g. ["active", "placebo"]'
                )
            block = tuple(self.arm_ref(b, "design.block", arms) for b in raw_block)
            blocks = self.integer(d, "blocks", "design", None, 1, 500)
            if "counts" in d:
                raise self.fail(
                    "design.counts", 'is for kind = "complete"; blocks use design.block'
                )
        else:
            raw_counts = d.get("counts")
            if not isinstance(raw_counts, dict) or not raw_counts:
                raise self.fail(
                    "design.counts", "must give periods per arm, e.g. {active = 10, placebo = 10}"
                )
            counts = tuple(
                (
                    self.arm_ref(k, "design.counts", arms),
                    self.integer(raw_counts, k, "design.counts", None, 0, 1000),
                )
                for k in raw_counts
            )
            for key in ("block", "blocks"):
                if key in d:
                    # Fix: a stray design.blocks was reported as design.block.
                    raise self.fail(
                        f"design.{key}",
                        'is for kind = "blocks"; complete designs use design.counts',
                    )
        used = set(block) | {a for a, n in counts if n > 0}
        for kind_needed in ("active", "placebo"):
            if not any(a.kind == kind_needed and a.name in used for a in arms):
                raise self.fail("design", f"never allocates an arm of kind {show(kind_needed)}")
        dosing = self.string(d, "dosing", "design", "daily")
        _check_dosing(dosing, self)
        blinding = self.choice(d, "blinding", "design", ("self", "helper"), "helper")
        max_run = d.get("max_run")
        if max_run is not None:
            max_run = self.integer(d, "max_run", "design", None, 1, 1000)
            if blinding == "self":
                raise self.fail(
                    "design.max_run",
                    'cannot be honoured with blinding = "self" (a physical shuffle ignores it); '
                    'remove it or use blinding = "helper"',
                )
        design = Design(
            kind=kind,  # type: ignore[arg-type]
            block=block,
            blocks=blocks,
            counts=counts,
            period_days=self.integer(d, "period_days", "design", 1, 1, 90),
            dosing=dosing,
            baseline_days=self.integer(d, "baseline_days", "design", 0, 0, 365),
            washout_days=self.integer(d, "washout_days", "design", 0, 0, 90),
            blinding=blinding,  # type: ignore[arg-type]
            max_run=max_run,
        )
        n_periods = len(block) * blocks if kind == "blocks" else sum(n for _, n in counts)
        if n_periods < 2:
            raise self.fail("design", "allocates fewer than 2 periods; add blocks or counts")
        if n_periods > 2000:
            raise self.fail("design", f"allocates {n_periods} periods; at most 2000 are supported")
        if max_run is not None and max_run < n_periods and _run_count_cost(design) > _MAX_RUN_COST:
            # Reliability fix (docs/design.md T-42): counting the allocations max_run allows is a
            # dynamic programme over (arms left, last arm, run); a complete design of 1000 + 1000
            # periods with max_run hung plan and init instead of being refused here.
            raise self.fail(
                "design.max_run",
                f"over {n_periods} periods shuffled in blocks of "
                f"{n_periods // blocks} is too costly to count; use smaller blocks "
                '(kind = "blocks") or remove max_run',
            )
        return design

    def outcomes(self, value: Any) -> tuple[Outcome, ...]:
        if value is not None and not isinstance(value, list):
            raise self.fail("outcomes", "must be an array of tables ([[outcomes]])")
        if not value:
            raise self.fail("[[outcomes]]", "is missing; define at least one outcome to rate")
        out: list[Outcome] = []
        for i, o in enumerate(value):
            prefix = f"outcomes[{i}]"
            if not isinstance(o, dict):
                raise self.fail(prefix, "must be a table ([[outcomes]])")
            self.no_unknown(o, prefix, {"name", "question", "scale", "better", "primary", "mcid"})
            name = self.name(o, "name", prefix)
            if any(x.name == name for x in out):
                raise self.fail(
                    f"{prefix}.name", f"repeats outcome {show(name)}; names must be unique"
                )
            scale = o.get("scale", [1, 10])
            if (
                not isinstance(scale, list)
                or len(scale) != 2
                or not all(
                    isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
                    for s in scale
                )
                or not scale[0] < scale[1]
            ):
                raise self.fail(
                    f"{prefix}.scale", f"is {show(scale)}; give [lowest, highest], e.g. [1, 10]"
                )
            mcid = self.number(o, "mcid", prefix, None)
            if mcid is not None and mcid <= 0:
                raise self.fail(f"{prefix}.mcid", "must be a positive number of rating points")
            out.append(
                Outcome(
                    name=name,
                    question=self.string(o, "question", prefix, f"How was your {name} today?"),
                    scale=(float(scale[0]), float(scale[1])),
                    better=self.choice(o, "better", prefix, ("higher", "lower"), "higher"),  # type: ignore[arg-type]
                    primary=self.boolean(o, "primary", prefix, False),
                    mcid=mcid,
                )
            )
        primaries = [o for o in out if o.primary]
        if len(primaries) > 1:
            raise self.fail("outcomes", "mark exactly one outcome primary = true (found several)")
        if not primaries:
            raise self.fail("outcomes", "mark exactly one outcome primary = true (found none)")
        return tuple(out)

    def checkin(self, d: dict[str, Any]) -> CheckinPlan:
        raw = self.string(d, "day_starts", "checkin", "04:00")
        # Fix: was \d, which also matches non-ASCII digits ("0\u0664:00").
        m = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", raw)
        if not m:
            raise self.fail(
                "checkin.day_starts", f'is {show(raw)}; give a time HH:MM, e.g. "04:00"'
            )
        return CheckinPlan(
            guess=self.boolean(d, "guess", "checkin", True),
            guess_first=self.boolean(d, "guess_first", "checkin", True),
            days=self.choice(d, "days", "checkin", ("all", "dose"), "all"),  # type: ignore[arg-type]
            day_starts=time(int(m.group(1)), int(m.group(2))),
        )

    def analysis(self, d: dict[str, Any]) -> AnalysisPlan:
        alpha = self.number(d, "alpha", "analysis", 0.05) or 0.0
        if not 0 < alpha < 0.5:
            raise self.fail(
                "analysis.alpha", f"is {alpha}; it must lie between 0 and 0.5, e.g. 0.05"
            )
        return AnalysisPlan(
            alpha=alpha,
            alternative=self.choice(
                d, "alternative", "analysis", ("two-sided", "greater"), "two-sided"
            ),  # type: ignore[arg-type]
            correction=self.choice(d, "correction", "analysis", ("holm", "bh", "none"), "holm"),  # type: ignore[arg-type]
            missing=self.choice(d, "missing", "analysis", ("pairwise", "listwise"), "pairwise"),  # type: ignore[arg-type]
            statistic=self.choice(
                d, "statistic", "analysis", ("mean-difference", "trend-adjusted"), "mean-difference"
            ),  # type: ignore[arg-type]
            primary_test=self.choice(
                d, "primary_test", "analysis", ("contrasts", "dose-trend"), "contrasts"
            ),  # type: ignore[arg-type]
        )

    def stop_rules(self, value: Any, outcomes: tuple[Outcome, ...]) -> tuple[StopRule, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail("[[stop_rules]]", "must be an array of tables")
        rules = []
        for i, r in enumerate(value):
            prefix = f"stop_rules[{i}]"
            if not isinstance(r, dict):
                raise self.fail(prefix, "must be a table ([[stop_rules]])")
            self.no_unknown(r, prefix, {"outcome", "threshold", "days", "message"})
            name = self.string(r, "outcome", prefix)
            if name not in [o.name for o in outcomes]:
                raise self.fail(
                    f"{prefix}.outcome", f"names outcome {show(name)}, which is not defined"
                )
            threshold = self.number(r, "threshold", prefix, None)
            if threshold is None:
                raise self.fail(
                    f"{prefix}.threshold", "is missing; give the rating that triggers the rule"
                )
            rules.append(
                StopRule(
                    outcome=name,
                    threshold=threshold,
                    days=self.integer(r, "days", prefix, 1, 1, 365),
                    message=self.string(
                        r, "message", prefix, "Stop taking the substance and seek advice."
                    ),
                )
            )
        return tuple(rules)


_DESIGN_KEYS = {
    "kind",
    "block",
    "blocks",
    "counts",
    "period_days",
    "dosing",
    "baseline_days",
    "washout_days",
    "blinding",
    "max_run",
}


def _check_dosing(dosing: str, v: _Validator) -> None:
    if dosing in DOSING_NAMES:
        return
    if dosing.startswith("weekdays:"):
        days = dosing.removeprefix("weekdays:").split(",")
        if days and all(d in WEEKDAYS for d in days) and len(set(days)) == len(days):
            return
    raise v.fail(
        "design.dosing",
        f"is {show(dosing)}; allowed: {', '.join(DOSING_NAMES)}, or weekdays:mon,tue,... "
        f"(days from {','.join(WEEKDAYS)})",
    )


def _check_timezone(tz: str, v: _Validator) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # Fix: OSError added: "America" (a directory of zones) raised IsADirectoryError
        # and an over-long name "File name too long".
        raise v.fail(
            "trial.timezone", f'is {show(tz)}; give an IANA zone such as "Europe/Berlin"'
        ) from exc
