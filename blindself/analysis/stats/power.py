"""Power of a design's own primary analysis, by simulation (docs/design.md#power).

Each simulated trial draws its own allocation from the protocol's scheme (blocks,
counts, ``max_run``), rates the calendar's dose days with normal AR(1) noise
(correlation ``rho ** days apart``, marginal SD ``sd``) plus ``effect`` on the dose days
of every active arm, and runs the randomization test the analysis runs: the primary
contrast's statistic (mean difference or trend-adjusted), the protocol's alpha and
alternative, labels moved at the period level, periods of other arms held at their
observed arm.  ``effect`` is an improvement in the primary outcome's ``better``
direction; since the noise is symmetric, simulating ``+effect`` and testing
"greater" is the same as simulating ``-effect`` on a lower-is-better outcome and
testing "less" (docs/design.md#power).

Vectorization: the reference set of a contrast depends on the observed allocation
only through which periods hold the two compared arms (the *slots*); the arms on the
slots are uniform over the pair-only scheme.  So one matrix of that scheme serves
every simulated trial: the whole set when it is small (exact test), otherwise ``B``
uniform draws with each trial's own observed allocation as row 0 (valid Monte Carlo
test, ``p = (c + 1) / (B + 1)``; Phipson and Smyth 2010).  With several arms and
``max_run`` the conditional set is not a product of blocks; then each trial gets its
own set (slow path).

Below 80 % power, :mod:`blindself.analysis.stats.sizing` suggests a larger design, using
this module's simulation with common random numbers across sizes
(:mod:`blindself.analysis.stats.nested`).

References
----------
Edgington E.S., Onghena P. (2007). *Randomization Tests*, 4th ed., ch. 11.
Phipson B., Smyth G.K. (2010). Permutation p-values should never be zero.
*Stat Appl Genet Mol Biol* 9:39.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from blindself.analysis.stats.assignments import count_assignments
from blindself.analysis.stats.nested import nested_power, nested_setup
from blindself.analysis.stats.simulation import (
    EXACT_CELLS,
    MC_DRAWS,
    _p_floor,
    _Setup,
    _setup,
    _simulate,
)

# Re-exported: the suggestion search (sizing) owns these.
from blindself.analysis.stats.sizing import CHECK_SIMS as CHECK_SIMS
from blindself.analysis.stats.sizing import TARGET_POWER as TARGET_POWER
from blindself.analysis.stats.sizing import SizeSearch, no_size_text, search_size, size_text
from blindself.protocol.model import Protocol
from blindself.trial.schedule import Calendar, build_calendar


@dataclass(frozen=True)
class PowerEstimate:
    """Simulated power with its binomial Monte Carlo standard error.

    ``design`` describes what was simulated (JSON-ready); ``suggestion`` says how large
    the design must grow for 80 % power, None when power is already 80 % or more;
    ``target`` holds the same as JSON-ready numbers (None without a size to suggest).
    """

    power: float
    mc_se: float
    sims: int
    design: dict[str, Any]
    suggestion: str | None
    target: dict[str, Any] | None = None


def power_of_design(
    protocol: Protocol,
    calendar: Calendar,
    *,
    effect: float,
    sd: float,
    rho: float = 0.3,
    sims: int = 1000,
    progress: Callable[[int], None] | None = None,
    seed: int | None = None,
    suggest: bool = True,
    suggest_below: float = TARGET_POWER,
) -> PowerEstimate:
    """Power of the protocol's primary randomization test by simulation.

    Parameters
    ----------
    protocol, calendar : Protocol, Calendar
        The design; the calendar gives the dose days (``build_calendar``).
    effect : float
        True improvement on active dose days, in rating points, in the primary
        outcome's ``better`` direction (every active arm gets it).
    sd, rho : float
        Marginal SD and day-to-day AR(1) correlation of the ratings.
    sims : int
        Simulated trials.
    progress : callable, optional
        Called with the number of trials just finished, once per chunk.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` (None: fresh entropy).
    suggest : bool
        Below 80 % power (or ``suggest_below``), estimate the size that reaches 80 %.

    Returns
    -------
    PowerEstimate
        With several active arms, ``power`` is that of the first active arm listed
        against placebo after Holm's correction across the primary outcome's contrasts
        (as the analysis does); ``design["power_any"]`` is the chance that at least one
        contrast is significant.

    Examples
    --------
    >>> from datetime import date
    >>> from blindself.protocol.loading import parse_protocol
    >>> p = parse_protocol(b'''[trial]
    ... title = "t"
    ... question = "q"
    ... [[arms]]
    ... name = "a"
    ... kind = "active"
    ... [[arms]]
    ... name = "p"
    ... kind = "placebo"
    ... [design]
    ... block = ["a", "p"]
    ... blocks = 2
    ... [[outcomes]]
    ... name = "mood"
    ... question = "?"
    ... scale = [1, 10]
    ... better = "higher"
    ... primary = true
    ... ''')
    >>> cal = build_calendar(p, date(2000, 1, 3))
    >>> r = power_of_design(p, cal, effect=3.0, sd=1.0, sims=100, seed=1, suggest=False)
    >>> r.power, r.design["p_min"], r.design["reaches_alpha"]  # 4 allocations
    (0.0, 0.5, False)
    """
    for name, value in (("effect", effect), ("sd", sd), ("rho", rho)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number")
    if sd <= 0:
        raise ValueError("sd must be positive")
    if not -1 < rho < 1:
        raise ValueError("rho must lie strictly between -1 and 1")
    if sims < 1:
        raise ValueError("sims must be at least 1")
    rng = np.random.default_rng(seed)
    setup = _setup(protocol, calendar, rng)
    first, anyone = _simulate(setup, effect, sd, rho, sims, rng, progress)
    power = float(first.mean())
    design = _describe(protocol, calendar, setup, effect, sd, rho)
    if len(setup.contrasts) > 1:
        design["power_any"] = float(anyone.mean())
    suggestion, target = None, None
    if suggest and power < min(suggest_below, TARGET_POWER):
        # The search has its own streams (nested.py): with a seed, the same in every run.
        search_seed = seed if seed is not None else int(rng.integers(2**63))
        found = _search(protocol, calendar, setup, power, effect, sd, rho, sims, search_seed)
        suggestion, target = _suggestion(protocol, calendar, found, effect)
    return PowerEstimate(
        power=power,
        mc_se=math.sqrt(power * (1.0 - power) / sims),
        sims=sims,
        design=design,
        suggestion=suggestion,
        target=target,
    )


def _describe(
    protocol: Protocol,
    calendar: Calendar,
    setup: _Setup,
    effect: float,
    sd: float,
    rho: float,
) -> dict[str, Any]:
    arms = setup.scheme.arms
    first = setup.contrasts[0]
    outcome = protocol.primary
    alternative = setup.alternative
    total = count_assignments(setup.scheme)
    if first.rows is None:
        reference = (
            "each simulated trial's own conditional set (exact up to "
            f"{EXACT_CELLS:,} cells, else {MC_DRAWS} Monte Carlo draws)"
        )
    elif first.exact:
        reference = f"exact: all {first.size:,} allocations of the compared arms"
    else:
        reference = (
            f"Monte Carlo: the observed allocation and {MC_DRAWS} uniform draws "
            f"(the analysis uses an exact or larger set of the {total:,} allocations)"
        )
    size = first.size if first.rows is not None else None
    p_min = _p_floor(alternative, size) if size else None
    reaches = None if p_min is None else p_min * len(setup.contrasts) <= setup.alpha
    design: dict[str, Any] = {
        "protocol": protocol.title,
        "outcome": outcome.name,
        "better": outcome.better,
        "effect": effect,
        "effect_means": f"improvement in {outcome.name} ({outcome.better} is better) "
        "on every active arm's dose days",
        "sd": sd,
        "rho": rho,
        "noise": "normal, AR(1) over calendar days; no rounding or clipping to the scale",
        "active": arms[first.active],
        "placebo": arms[first.placebo],
        "contrasts": len(setup.contrasts),
        "multiplicity": "holm" if len(setup.contrasts) > 1 else None,
        "alpha": setup.alpha,
        "alternative": alternative,
        "statistic": setup.statistic,
        "kind": protocol.design.kind,
        "blocks": protocol.design.blocks if protocol.design.kind == "blocks" else None,
        "counts": dict(protocol.design.counts) or None,
        "max_run": protocol.design.max_run,
        "periods": setup.scheme.n_periods,
        "period_days": setup.period_days,
        "dose_days": int(setup.days.size),
        "calendar_days": len(calendar.days),
        "assignments": total,
        "reference": "exact" if first.exact else "monte-carlo",
        "reference_size": size,
        "reference_note": reference,
        "p_min": p_min,
        "reaches_alpha": reaches,
    }
    return design


def _search(
    protocol: Protocol,
    calendar: Calendar,
    setup: _Setup,
    power: float,
    effect: float,
    sd: float,
    rho: float,
    sims: int,
    seed: int,
) -> SizeSearch:
    """The size with 80 % power (``sizing.search_size``), common random numbers from ``seed``."""
    check_sims = min(sims, CHECK_SIMS)

    def power_at(bigger: Protocol, size: int) -> float:
        check = nested_setup(bigger, build_calendar(bigger, calendar.start), seed=seed, size=size)
        return nested_power(
            check, effect=effect, sd=sd, rho=rho, sims=check_sims, seed=seed, size=size
        )

    first = setup.contrasts[0]
    return search_size(
        protocol,
        power_at,
        power=power,
        effect=effect,
        sims=check_sims,
        alpha=setup.alpha,
        alternative=setup.alternative,
        contrasts=len(setup.contrasts),
        p_floor=_p_floor(setup.alternative, first.size) if first.rows is not None else 0.0,
    )


def _suggestion(
    protocol: Protocol, calendar: Calendar, found: SizeSearch, effect: float
) -> tuple[str, dict[str, Any] | None]:
    """The search's answer in words (with the calendar it takes) and as JSON."""
    if found.protocol is None or found.power is None or found.size is None:
        return no_size_text(protocol, found, effect), None
    bigger = build_calendar(found.protocol, calendar.start)
    days = len(bigger.days)
    dose_days = sum(1 for d in bigger.days if d.is_dose)
    key = "blocks" if protocol.design.kind == "blocks" else "counts"
    unit = "blocks" if key == "blocks" else "periods of the first active arm"
    below = ""
    if found.below is not None and found.below_power is not None:
        below = f"; at {found.below}: {found.below_power:.3f}"
    se = found.mc_se or 0.0
    text = found.note + (
        f"About {size_text(found.protocol)} (now {size_text(protocol)}) reach 80 % power: "
        f"{days} days ({weeks(days)}) including the baseline, {dose_days} dose days. "
        f"Simulated power at {found.size}: {found.power:.3f} (Monte Carlo SE {se:.3f}, "
        f"{found.sims} trials{below}); another seed may move the answer by about "
        f"{found.size_se or 0:.1f} {unit}. Change design.{key} and run power again."
    )
    target = {
        "size": found.size,
        key: found.protocol.design.blocks
        if key == "blocks"
        else dict(found.protocol.design.counts),
        "days": days,
        "weeks": round(days / 7, 1),
        "dose_days": dose_days,
        "power": found.power,
        "mc_se": se,
        "sims": found.sims,
        "below": found.below,
        "below_power": found.below_power,
        "size_se": found.size_se,
    }
    return text, target


def weeks(days: int) -> str:
    """A length in days as weeks people read ("about 32 weeks"; "3 weeks")."""
    if days % 7 == 0:
        n = days // 7
        return f"{n} week" + ("" if n == 1 else "s")
    n = max(1, round(days / 7))
    return f"about {n} week" + ("" if n == 1 else "s")
