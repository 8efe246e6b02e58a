"""The protocol's vocabulary and its immutable records (docs/design.md#protocol).

Built by :mod:`blindself.protocol.checks`; import them from :mod:`blindself.protocol.loading`.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal, NamedTuple

ARM_KINDS = ("active", "placebo", "none")
DOSING_NAMES = ("daily", "every-other-day", "fadiman", "stamets")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class Arm(NamedTuple):
    name: str
    kind: Literal["active", "placebo", "none"]
    label: str
    dose: float | None = None
    unit: str | None = None


class Design(NamedTuple):
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


class Choice(NamedTuple):
    """One response option of an instrument: its published value and label."""

    value: int
    label: str


class Item(NamedTuple):
    text: str
    reversed: bool = False


class Band(NamedTuple):
    """A published interpretation band: scores from ``start`` up to the next band's start."""

    start: float
    label: str
    severe: bool = False


class Instrument(NamedTuple):
    """A validated questionnaire (docs/design.md#instruments): items, options, scoring rule.

    An answer is the published value of the chosen option; a reversed item scores
    ``lowest + highest - value``.  ``scoring`` is "sum" or "mean"; ``rule`` names the
    missing-item rule ("prorate": sum scaled to all items, or "mean-of-answered"), allowed
    with at most ``max_missing`` items unanswered.
    """

    name: str
    title: str
    version: int
    reference: str
    instructions: str
    options: tuple[Choice, ...]
    items: tuple[Item, ...]
    scoring: Literal["sum", "mean"]
    better: Literal["higher", "lower"]
    rule: Literal["prorate", "mean-of-answered"]
    max_missing: int
    bands: tuple[Band, ...]
    licence: str
    licence_url: str

    @property
    def scoring_version(self) -> str:
        """Stored beside every score, so a later change of the rule is never silent."""
        return f"{self.name}/{self.version}"

    @property
    def item_range(self) -> tuple[int, int]:
        values = [c.value for c in self.options]
        return min(values), max(values)

    @property
    def bounds(self) -> tuple[float, float]:
        lo, hi = self.item_range
        n = len(self.items) if self.scoring == "sum" else 1
        return float(lo * n), float(hi * n)


#: When an instrument is asked (docs/design.md#instruments); "weekly:" and "fortnightly:"
#: take a weekday, e.g. "weekly:sun".
SCHEDULES = ("every", "period-end", "baseline-and-end")


class Outcome(NamedTuple):
    name: str
    question: str
    scale: tuple[float, float]
    better: Literal["higher", "lower"]
    primary: bool
    mcid: float | None
    # "import": measured by another app and brought in with ``blindself import``; the
    # check-in neither asks for it nor accepts it (docs/design.md#imported-outcomes).
    source: Literal["checkin", "import"] = "checkin"
    # A questionnaire outcome: the score is the rating; asked on its own schedule.
    instrument: Instrument | None = None
    schedule: str = "every"


class CheckinPlan(NamedTuple):
    guess: bool
    guess_first: bool
    days: Literal["all", "dose"]
    day_starts: time
    # The check-in time the calendar's reminders use unless `calendar --remind-at` says
    # otherwise; None: all-day events without reminders (docs/design.md#calendar-files).
    remind_at: time | None = None


class AnalysisPlan(NamedTuple):
    alpha: float
    alternative: Literal["two-sided", "greater"]
    correction: Literal["holm", "bh", "none"]
    missing: Literal["pairwise", "listwise"]
    statistic: Literal["mean-difference", "trend-adjusted"]
    # With several active arms: Holm over each arm against placebo ("contrasts"), or a
    # pre-registered ordered dose trend as the primary test (docs/design.md#randomization-test).
    primary_test: Literal["contrasts", "dose-trend"] = "contrasts"


class StopRule(NamedTuple):
    """Stop when ``outcome`` is at or beyond ``threshold`` on ``days`` check-in days."""

    outcome: str
    threshold: float
    days: int
    message: str


class Protocol(NamedTuple):
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

    @property
    def daily_outcomes(self) -> tuple[Outcome, ...]:
        """The single ratings asked at every check-in (not imported, not questionnaires)."""
        return tuple(o for o in self.outcomes if o.instrument is None and o.source == "checkin")

    @property
    def instruments(self) -> tuple[Outcome, ...]:
        """The questionnaire outcomes, each on its own schedule."""
        return tuple(o for o in self.outcomes if o.instrument is not None)

    def outcome(self, name: str) -> Outcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)
