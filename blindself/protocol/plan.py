"""Outcomes and plans: what a protocol rates and how it is analysed (docs/design.md#protocol).

Reads ``[[outcomes]]``, ``[checkin]``, ``[analysis]`` and ``[[stop_rules]]``.
"""

from __future__ import annotations

import math
import re
from datetime import time
from typing import Any

from blindself.protocol.fields import FieldReader, show
from blindself.protocol.model import (
    SCHEDULES,
    WEEKDAYS,
    AnalysisPlan,
    CheckinPlan,
    Outcome,
    StopRule,
)

#: The largest rating magnitude a check-in stores exactly (RFC 8785 doubles); must equal
#: ``trial.checkins.MAX_EXACT`` (protocol cannot import trial: imports go one way).
MAX_RATING = 2**53 - 1


class PlanReader(FieldReader):
    """Reads outcomes, the check-in and analysis plans and stop rules."""

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
            if "instrument" in o:
                out.append(self._instrument_outcome(o, prefix, out))
                continue
            self.no_unknown(
                o, prefix, {"name", "question", "scale", "better", "primary", "mcid", "source"}
            )
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
            if max(abs(scale[0]), abs(scale[1])) > MAX_RATING:
                # Reliability fix (F23): a scale of +-1e300 was accepted although no rating
                # past 2**53 - 1 can be recorded (trial.checkins.MAX_EXACT), so the plan
                # promised a scale the trial could not use.
                raise self.fail(
                    f"{prefix}.scale",
                    f"is {show(scale)}; its ends must lie within +-{MAX_RATING} (the largest "
                    "rating a check-in can hold)",
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
                    source=self.choice(o, "source", prefix, ("checkin", "import"), "checkin"),  # type: ignore[arg-type]
                )
            )
        primaries = [o for o in out if o.primary]
        if len(primaries) > 1:
            raise self.fail("outcomes", "mark exactly one outcome primary = true (found several)")
        if not primaries:
            raise self.fail("outcomes", "mark exactly one outcome primary = true (found none)")
        return tuple(out)

    def _instrument_outcome(self, o: dict[str, Any], prefix: str, out: list[Outcome]) -> Outcome:
        """An outcome that is a shipped questionnaire (docs/design.md#instruments): its scale
        and direction come from the instrument's scoring, so the protocol may not set them."""
        from blindself.protocol.instrument import load_instrument, shipped_instruments

        self.no_unknown(o, prefix, {"name", "instrument", "schedule", "primary", "mcid"})
        which = self.string(o, "instrument", prefix)
        try:
            instrument = load_instrument(which)
        except KeyError:
            raise self.fail(
                f"{prefix}.instrument",
                f"is {show(which)}; shipped instruments: {', '.join(shipped_instruments())}",
            ) from None
        name = self.name(o, "name", prefix) if "name" in o else instrument.name
        if any(x.name == name for x in out):
            raise self.fail(f"{prefix}.name", f"repeats outcome {show(name)}; names must be unique")
        schedule = self.string(o, "schedule", prefix, "every")
        kind, _, weekday = schedule.partition(":")
        if not (
            (schedule in SCHEDULES) or (kind in ("weekly", "fortnightly") and weekday in WEEKDAYS)
        ):
            raise self.fail(
                f"{prefix}.schedule",
                f"is {show(schedule)}; allowed: {', '.join(SCHEDULES)}, weekly:DAY or "
                f"fortnightly:DAY (DAY one of {','.join(WEEKDAYS)})",
            )
        mcid = self.number(o, "mcid", prefix, None)
        if mcid is not None and mcid <= 0:
            raise self.fail(f"{prefix}.mcid", "must be a positive number of score points")
        return Outcome(
            name=name,
            question=instrument.title,
            scale=instrument.bounds,
            better=instrument.better,
            primary=self.boolean(o, "primary", prefix, False),
            mcid=mcid,
            instrument=instrument,
            schedule=schedule,
        )

    def checkin(self, d: dict[str, Any]) -> CheckinPlan:
        starts = self.clock_time(d, "day_starts", "04:00")
        remind = self.clock_time(d, "remind_at", "") if "remind_at" in d else None
        return CheckinPlan(
            guess=self.boolean(d, "guess", "checkin", True),
            guess_first=self.boolean(d, "guess_first", "checkin", True),
            days=self.choice(d, "days", "checkin", ("all", "dose"), "all"),  # type: ignore[arg-type]
            day_starts=starts,
            remind_at=remind,
        )

    def clock_time(self, d: dict[str, Any], key: str, default: str) -> time:
        """A time of day ``HH:MM`` under ``[checkin]``."""
        raw = self.string(d, key, "checkin", default)
        # Fix: was \d, which also matches non-ASCII digits ("0\u0664:00").
        m = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", raw)
        if not m:
            raise self.fail(f"checkin.{key}", f'is {show(raw)}; give a time HH:MM, e.g. "04:00"')
        return time(int(m.group(1)), int(m.group(2)))

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
