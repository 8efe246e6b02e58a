"""The protocol's vocabulary and frozen dataclasses (docs/design.md#protocol).

Built by :mod:`blindself.protocol.checks`; import them from :mod:`blindself.protocol.loading`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Literal

ARM_KINDS = ("active", "placebo", "none")
DOSING_NAMES = ("daily", "every-other-day", "fadiman", "stamets")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Arm:
    name: str
    kind: Literal["active", "placebo", "none"]
    label: str
    dose: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Design:
    kind: Literal["blocks", "complete"]
    block: tuple[str, ...]
    blocks: int
    counts: tuple[tuple[str, int], ...]
    period_days: int
    dosing: str
    baseline_days: int
    washout_days: int
    blinding: Literal["self", "helper"]
    max_run: int | None


@dataclass(frozen=True)
class Outcome:
    name: str
    question: str
    scale: tuple[float, float]
    better: Literal["higher", "lower"]
    primary: bool
    mcid: float | None
    # "import": measured by another app and brought in with ``blindself import``; the
    # check-in neither asks for it nor accepts it (docs/design.md#imported-outcomes).
    source: Literal["checkin", "import"] = "checkin"


@dataclass(frozen=True)
class CheckinPlan:
    guess: bool
    guess_first: bool
    days: Literal["all", "dose"]
    day_starts: time
    # The check-in time the calendar's reminders use unless `calendar --remind-at` says
    # otherwise; None: all-day events without reminders (docs/design.md#calendar-files).
    remind_at: time | None = None


@dataclass(frozen=True)
class AnalysisPlan:
    alpha: float
    alternative: Literal["two-sided", "greater"]
    correction: Literal["holm", "bh", "none"]
    missing: Literal["pairwise", "listwise"]
    statistic: Literal["mean-difference", "trend-adjusted"]
    # With several active arms: Holm over each arm against placebo ("contrasts"), or a
    # pre-registered ordered dose trend as the primary test (docs/design.md#randomization-test).
    primary_test: Literal["contrasts", "dose-trend"] = "contrasts"


@dataclass(frozen=True)
class StopRule:
    """Stop when ``outcome`` is at or beyond ``threshold`` on ``days`` check-in days."""

    outcome: str
    threshold: float
    days: int
    message: str


@dataclass(frozen=True)
class Protocol:
    title: str
    question: str
    description: str
    timezone: str | None
    arms: tuple[Arm, ...]
    design: Design
    outcomes: tuple[Outcome, ...]
    checkin: CheckinPlan
    analysis: AnalysisPlan
    stop_rules: tuple[StopRule, ...]
    source: str
    sha256: str

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    @property
    def primary(self) -> Outcome:
        return next(o for o in self.outcomes if o.primary)

    def outcome(self, name: str) -> Outcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)
