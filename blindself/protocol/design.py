"""Arms and the design: what a protocol compares, and on which days (docs/design.md#protocol).

Reads ``[[arms]]`` and ``[design]``: arm names, kinds and doses; blocks or counts, period
length, dosing pattern, baseline and washout, blinding mode and ``max_run``, each checked
against the arms it names and the protocol's limits.
"""

from __future__ import annotations

import math
from typing import Any

from blindself.protocol.fields import FieldReader, show
from blindself.protocol.model import ARM_KINDS, DOSING_NAMES, WEEKDAYS, Arm, Design


class DesignReader(FieldReader):
    """Reads ``[[arms]]`` and ``[design]``; every error names the key and what is allowed."""

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


DESIGN_KEYS = {
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


def _check_dosing(dosing: str, v: FieldReader) -> None:
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
