"""``blindself power --outcome NAME``: the power of the design for one outcome measured on its
own schedule, e.g. a questionnaire asked weekly or at each period's end
(docs/design.md#power-of-a-sparse-outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from blindself.errors import BlindselfError
from blindself.protocol.loading import load_protocol
from blindself.protocol.model import Outcome, Protocol
from blindself.services.planning import check_simulation_inputs
from blindself.trial.schedule import Calendar, build_calendar, scheme_of


@dataclass(frozen=True)
class OutcomePower:
    power: float
    mc_se: float
    sims: int
    design: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"power": self.power, "mc_se": self.mc_se, "sims": self.sims, "design": self.design}

    def text(self) -> str:
        d = self.design
        what = (
            f"{d['outcome']} ({d['instrument']}, {d['schedule']})"
            if d["instrument"]
            else d["outcome"]
        )
        per = "/".join(str(k) for k in d["scores_per_period"]) or "0"
        outside = d["scores_outside_periods"]
        lines = [
            f"Power {self.power:.3f} (Monte Carlo SE {self.mc_se:.3f}, {self.sims} simulated "
            f"trials) for {what}",
            f"Effect {d['effect']:g} points, SD {d['sd']:g} per score, AR(1) rho {d['rho']:g} "
            f"per day apart",
            f"Asked on {d['scores'] + outside} days: {d['periods_measured']} of {d['periods']} "
            f"periods have a score ({per} per period)"
            + (f"; {outside} outside the periods (not compared)" if outside else ""),
            f"Randomization test of the period means, alpha {d['alpha']:g} {d['alternative']}; "
            f"reference set {d['reference']} ({d['reference_size']:,} allocations)",
            f"Assumes: {d['assumption']}.",
        ]
        return "\n".join(lines)


def outcome_power(
    path: Path,
    outcome: str,
    *,
    effect: float,
    sd: float,
    rho: float,
    sims: int,
    progress: Callable[[int], None] = lambda _n: None,
    seed: int | None = None,
) -> OutcomePower:
    """Simulated power for ``outcome`` of the protocol at ``path``, measured on its schedule."""
    from blindself.analysis.stats.sparse_power import sparse_power

    check_simulation_inputs(effect, sd, rho, unit="points")
    protocol = load_protocol(path)
    chosen: Outcome | None = next((o for o in protocol.outcomes if o.name == outcome), None)
    if chosen is None:
        names = ", ".join(o.name for o in protocol.outcomes)
        raise BlindselfError(f"--outcome {outcome[:40]!r}: no such outcome (outcomes: {names})")
    if chosen.source == "import":
        raise BlindselfError(f"--outcome {chosen.name}: an imported outcome has no schedule here")
    calendar = build_calendar(protocol, date(2000, 1, 3))
    try:
        r = sparse_power(
            protocol,
            calendar,
            chosen,
            effect=effect,
            sd=sd,
            rho=rho,
            sims=sims,
            seed=seed,
            progress=progress,
        )
    except ValueError as exc:
        raise BlindselfError(f"--outcome {chosen.name}: {exc}") from exc
    return OutcomePower(r.power, r.mc_se, r.sims, r.design)


def questionnaire_lines(protocol: Protocol, calendar: Calendar) -> list[str]:
    """What ``plan`` says of each questionnaire: how many scores its schedule gives, in how
    many periods, and the command that states its power (docs/design.md#power-of-a-sparse-outcome)."""

    out = []
    for o in protocol.instruments:
        asked, periods = scored_periods(protocol, calendar, o)
        title = o.instrument.title if o.instrument else o.name
        out.append(
            f"Questionnaire {o.name} ({title}, {o.schedule}): asked on {asked} days, "
            f"{periods} of {calendar.n_periods} periods have a score; its power: "
            f"blindself power PROTOCOL --outcome {o.name} --effect E --sd SD"
        )
    return out


def scored_periods(protocol: Protocol, calendar: Calendar, o: Outcome) -> tuple[int, int]:
    """How many days a questionnaire is asked, and how many periods get a score from them
    (the schedule the power simulation uses, so ``plan`` and ``power`` count alike)."""
    from blindself.analysis.stats.sparse_power import sparse_schedule

    s = sparse_schedule(protocol, calendar, o)
    return len(s.index) + s.baseline, len(set(s.period.tolist()))


def sparse_primary(protocol: Protocol) -> Outcome | None:
    """The primary outcome when it is a questionnaire asked on its own schedule: its power is
    that of :func:`outcome_power`, not the daily simulation's (review adv3 F3: a primary PHQ-8
    asked at baseline and end was given the power of a daily rating, 0.96)."""
    o = protocol.primary
    return o if o.instrument is not None and o.schedule != "every" else None


def sparse_primary_name(path: Path) -> str | None:
    """:func:`sparse_primary` of the protocol file at ``path`` (its name), for ``power``."""
    o = sparse_primary(load_protocol(path))
    return None if o is None else o.name


def sparse_primary_warning(protocol: Protocol, calendar: Calendar) -> str | None:
    """A warning when the primary questionnaire's schedule scores too few periods for the arms
    to be compared at all (fewer than two per arm of the design)."""
    o = sparse_primary(protocol)
    if o is None:
        return None
    _asked, periods = scored_periods(protocol, calendar, o)
    arms = sum(1 for n in scheme_of(protocol).arm_counts().values() if n)
    if periods >= 2 * arms:
        return None
    return (
        f"the primary outcome {o.name} ({o.schedule}) is scored in only {periods} of "
        f"{calendar.n_periods} periods: too few to compare {arms} arms (at least {2 * arms} are "
        "needed); ask it more often or make a daily rating primary"
    )
