"""Planning before a trial: ``plan`` (calendar, containers, attainable p) and ``power``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blindself.errors import BlindselfError, ProtocolError
from blindself.protocol.loading import load_protocol
from blindself.protocol.model import Protocol
from blindself.services.context import Context
from blindself.trial.schedule import Calendar, build_calendar, scheme_of
from blindself.trial.scheme import Scheme
from blindself.wording import count, noun

if TYPE_CHECKING:
    from blindself.services.power_check import PowerCheck

#: Days a default start leaves before the first dose day, to make, fill and label the
#: containers (docs/design.md#default-start).
PREPARATION_DAYS = 3


@dataclass(frozen=True)
class PlanResult:
    protocol: Protocol
    calendar: Calendar
    allocations: int
    p_min_two_sided: float
    p_min_one_sided: float
    warnings: tuple[str, ...]
    power: PowerCheck | None
    start_note: str | None = None
    protocol_name: str = "PROTOCOL"

    def containers(self) -> list[dict[str, Any]]:
        counts = scheme_of(self.protocol).arm_counts()
        out = []
        for arm in self.protocol.arms:
            n = counts.get(arm.name, 0)
            capsules = 0 if arm.kind == "none" else n * self.protocol.design.period_days
            total = arm.dose * capsules if arm.dose is not None else None
            out.append(
                {
                    "arm": arm.name,
                    "kind": arm.kind,
                    "containers": n,
                    "capsules": capsules,
                    "dose_total": total,
                    "unit": arm.unit,
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        kinds = Counter(d.day_type for d in self.calendar.days)
        return {
            "title": self.protocol.title,
            "start": self.calendar.start.isoformat(),
            "end": self.calendar.end.isoformat(),
            "days": len(self.calendar.days),
            "day_types": dict(kinds),
            "periods": self.calendar.n_periods,
            "containers": self.containers(),
            "allocations": self.allocations,
            "p_min": {"two-sided": self.p_min_two_sided, "one-sided": self.p_min_one_sided},
            "warnings": list(self.warnings),
            "power": None if self.power is None else self.power.to_json(),
            "start_note": self.start_note,
            "calendar": [
                {
                    "date": d.date.isoformat(),
                    "day_type": d.day_type,
                    "period": None if d.period is None else d.period + 1,
                    "block": None if d.block is None else d.block + 1,
                }
                for d in self.calendar.days
            ],
        }

    def text(self) -> str:
        p = self.protocol
        kinds = Counter(d.day_type for d in self.calendar.days)
        lines = [
            f"{p.title}: protocol is valid.",
            f"Question: {p.question}",
            f"Calendar: {count(len(self.calendar.days), 'day')}, {self.calendar.start} to "
            f"{self.calendar.end} ("
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            + ")",
        ]
        if self.start_note:
            lines.append(f"Start: {self.start_note}")
        lines += [
            f"Design: {p.design.kind}, {count(self.calendar.n_periods, 'container')} of "
            f"{count(p.design.period_days, 'dose day')}, dosing {p.design.dosing}, "
            f"blinding {p.design.blinding}",
            "Containers per arm:",
        ]
        for c in self.containers():
            dose = f", {c['dose_total']:g} {c['unit'] or ''} in all" if c["dose_total"] else ""
            held = f"{c['containers']:>3} {noun(c['containers'], 'container')},"
            lines.append(
                f"  {c['arm']:<12} {held:<15} {c['capsules']:>3} "
                f"{noun(c['capsules'], 'capsule')}{dose}"
            )
        lines.append(f"Possible allocations: {_magnitude(self.allocations, 10**15)}")
        lines.append(
            f"Smallest attainable p: {_tiny(self.p_min_two_sided)} two-sided, "
            f"{_tiny(self.p_min_one_sided)} one-sided"
        )
        if self.power is None:
            from blindself.services.power_check import not_simulated

            lines.append(not_simulated(self.protocol, self.protocol_name))
        elif self.power.warning is None:  # else the warning states the same figures
            lines.append(self.power.line(self.protocol_name))
        lines += [f"Warning: {w}" for w in self.warnings]
        if p.instruments:
            from blindself.services.outcome_power import questionnaire_lines

            lines += questionnaire_lines(p, self.calendar)
        lines.append("Week by week:")
        week: list[str] = []
        for d in self.calendar.days:
            week.append(f"{d.date.strftime('%a %d %b')}: {d.day_type}")
            if len(week) == 7:
                lines.append("  " + " | ".join(week))
                week = []
        if week:
            lines.append("  " + " | ".join(week))
        return "\n".join(lines)


def _tiny(p: float) -> str:
    # Beyond about 2,000 periods the exact 1/N underflows a float to 0, which reads as wrong.
    return f"{p:.3g}" if p > 0 else "below 1e-308"


def plan_protocol(path: Path, start: date | None, ctx: Context) -> PlanResult:
    """Validate a protocol and describe what it will take and what it can show."""
    protocol = load_protocol(path)
    note = None
    if start is None:
        start, note = default_start(protocol, today_for(protocol, ctx))
    calendar = build_calendar(protocol, start)
    total, two, one, _ = _attainable(protocol)
    warnings, check = design_warnings(protocol, _text(path), start, str(path))
    return PlanResult(protocol, calendar, total, two, one, warnings, check, note, str(path))


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # load_protocol read it a moment ago
        raise ProtocolError(f"{path}: cannot read the protocol again ({exc})") from exc


def today_for(protocol: Protocol, ctx: Context) -> date:
    """Today in the protocol's time zone (else the machine's)."""
    from zoneinfo import ZoneInfo

    from blindself.trial.folder import machine_timezone

    return ctx.now().astimezone(ZoneInfo(protocol.timezone or machine_timezone())).date()


def default_start(protocol: Protocol, today: date) -> tuple[date, str]:
    """The first day when none is given, and a sentence saying why.

    The earliest day from tomorrow (so the commitment can be published before the first
    rated day) whose first dose day is at least ``PREPARATION_DAYS`` days away, to make
    and fill the containers; a baseline gives that time by itself.
    """
    start = today + timedelta(days=1)
    while True:
        calendar = build_calendar(protocol, start)
        first_dose = next(d.date for d in calendar.days if d.is_dose)
        if (first_dose - today).days >= PREPARATION_DAYS:
            break
        start += timedelta(days=1)
    ahead = (first_dose - today).days
    return start, (
        f"{start} by default, so the first dose day ({first_dose}) leaves "
        f"{count(ahead, 'day')} to make and fill the containers (give --start to choose)"
    )


def design_warnings(
    protocol: Protocol, text: str, start: date, name: str
) -> tuple[tuple[str, ...], PowerCheck | None]:
    """What ``plan`` and ``init`` warn about the design (none depends on the allocation):
    an unreachable alpha, power below 50 %, and counts the protocol's words contradict."""
    from blindself.services.claims import claims_warning, stated_counts
    from blindself.services.power_check import check_power

    warnings = list(smallest_p_warnings(protocol))
    check = check_power(protocol, start, name)
    if check is not None and check.warning:
        warnings.append(check.warning)
    from blindself.services.outcome_power import sparse_primary_warning

    calendar = build_calendar(protocol, start)
    sparse = sparse_primary_warning(protocol, calendar)
    if sparse:
        warnings.append(sparse)
    stale = claims_warning(stated_counts(protocol, text, calendar))
    if stale:
        warnings.append(stale)
    return tuple(warnings), check


def smallest_p_warnings(protocol: Protocol) -> tuple[str, ...]:
    """The warnings of ``plan`` (shown again at ``init``)."""
    return _attainable(protocol)[3]


def _attainable(protocol: Protocol) -> tuple[int, float, float, tuple[str, ...]]:
    """Allocations, smallest two- and one-sided p of the primary test, and warnings."""
    import numpy as np

    from blindself.analysis.stats.assignments import assignment_set, count_assignments
    from blindself.randomness import GeneratorSource
    from blindself.trial.scheme import draw_allocation

    scheme = scheme_of(protocol)
    total = count_assignments(scheme)
    _check_drawable(scheme, total)
    # Each contrast is tested on its own reference set: with more than two arms only the two
    # compared arms are re-shuffled (the conditional test of the analysis), so its size, not
    # the whole scheme's, bounds the p-value.  The size does not depend on the draw.
    rng = np.random.default_rng(0)
    example = draw_allocation(scheme, GeneratorSource(rng))
    placebo = next(a.name for a in protocol.arms if a.kind == "placebo")
    actives = [a.name for a in protocol.arms if a.kind == "active" and a.name in example]
    trend_first = protocol.analysis.primary_test == "dose-trend"
    per_contrast = total
    if len(set(scheme.arms) & set(example)) > 2:
        compares = [(placebo, *actives)] if trend_first else [(a, placebo) for a in actives]
        per_contrast = min(
            assignment_set(scheme, example, rng, max_exact=1, draws=1, compare=c).total
            for c in compares
        )
    # Integer true division: a complete design of 520 + 520 periods has more allocations
    # than a float can hold, so ``1.0 / per_contrast`` overflowed; ``1 / n`` rounds correctly.
    one = 1 / per_contrast
    two = min(1.0, 2 / per_contrast)
    warnings = []
    alpha = protocol.analysis.alpha
    # Holm across the primary outcome's contrasts multiplies the smallest p by their number;
    # a pre-registered dose trend is one test.
    tests = 1 if trend_first else len(actives)
    p_min = min(1.0, tests * (one if protocol.analysis.alternative == "greater" else two))
    if p_min > alpha:
        holm = f" after Holm over {tests} contrasts" if tests > 1 else ""
        warnings.append(
            f"this design cannot reach p <= {alpha:g} (smallest p {p_min:.3g}{holm}); add blocks"
        )
    if protocol.design.blinding == "self" and len(set(protocol.design.block)) < len(
        protocol.design.block
    ):
        warnings.append("a bag holds two containers of one arm; the shuffle still randomizes them")
    return total, two, one, tuple(warnings)


# A draw by rejection (init, analysis) needs about 1/rate tries; with at least one allocation
# in a thousand allowed, 100,000 tries fail with probability below e^-100.
_MIN_ACCEPTANCE = 1e-3


def _magnitude(n: int, exact_below: int = 10**6) -> str:
    # A complete design of 2,000 periods has a 600-digit count: print its order instead.
    return f"{n:,}" if n < exact_below else f"about 10^{len(str(n)) - 1}"


def _check_drawable(scheme: Scheme, allowed: int) -> None:
    """Refuse a ``max_run`` so tight that a random draw cannot find an allowed allocation."""
    from blindself.analysis.stats.assignments import count_assignments

    if scheme.max_run is None or scheme.max_run >= scheme.n_periods:
        return
    every = count_assignments(scheme._replace(max_run=None))
    # Integer arithmetic: both counts can exceed a float.
    if allowed * int(1 / _MIN_ACCEPTANCE) < every:
        raise ProtocolError(
            f"design.max_run = {scheme.max_run} is too tight for this design: it allows "
            f"{_magnitude(allowed)} of {_magnitude(every)} allocations, too few "
            "to draw at random; raise max_run or remove it"
        )


@dataclass(frozen=True)
class PowerResult:
    power: float
    mc_se: float
    sims: int
    design: dict[str, Any]
    suggestion: str | None
    target: dict[str, Any] | None = None
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "power": self.power,
            "mc_se": self.mc_se,
            "sims": self.sims,
            "seed": self.seed,
            "design": self.design,
            "suggestion": self.suggestion,
            "target": self.target,
        }

    def text(self) -> str:
        lines = [
            f"Power {self.power:.3f} (Monte Carlo SE {self.mc_se:.3f}, {self.sims} simulated trials)"
        ]
        d = self.design
        lines.append(
            f"Effect {count(d['effect'], 'point')}, SD {d['sd']:g}, AR(1) rho {d['rho']:g}, "
            f"{count(d['periods'], 'period')}, alpha {d['alpha']:g} {d['alternative']}"
            + ("" if self.seed is None else f", seed {self.seed}")
        )
        lines.append(
            f"Contrast: {d['active']} vs {d['placebo']}; reference set {d['reference_note']}"
        )
        if "power_any" in d:
            lines.append(
                f"Holm across {d['contrasts']} contrasts; power for at least one: "
                f"{d['power_any']:.3f}"
            )
        if self.suggestion:
            lines.append(self.suggestion)
        return "\n".join(lines)


def check_simulation_inputs(effect: float, sd: float, rho: float, *, unit: str) -> None:
    """The effect, SD and AR(1) rho a power simulation accepts (``power``, ``power --outcome``)."""
    import math

    if not math.isfinite(effect):
        raise BlindselfError(f"the effect must be a finite number of {unit}")
    if not (math.isfinite(sd) and sd > 0):
        raise BlindselfError(f"the SD must be a positive number of {unit}")
    if not -1 < rho < 1:
        raise BlindselfError("rho must lie strictly between -1 and 1")


def simulate_power(
    path: Path,
    *,
    effect: float,
    sd: float,
    rho: float,
    sims: int,
    progress: Callable[[int], None] = lambda _n: None,
    seed: int | None = None,
    suggest: bool = True,
) -> PowerResult:
    """Power of the design's own randomization test by simulation (see stats.power)."""
    from blindself.analysis.stats.power import power_of_design

    check_simulation_inputs(effect, sd, rho, unit="rating points")
    protocol = load_protocol(path)
    calendar = build_calendar(protocol, date(2000, 1, 3))
    estimate = power_of_design(
        protocol,
        calendar,
        effect=effect,
        sd=sd,
        rho=rho,
        sims=sims,
        progress=progress,
        seed=seed,
        suggest=suggest,
    )
    return PowerResult(
        power=estimate.power,
        mc_se=estimate.mc_se,
        sims=estimate.sims,
        design=estimate.design,
        suggestion=estimate.suggestion,
        target=estimate.target,
        seed=seed,
    )
