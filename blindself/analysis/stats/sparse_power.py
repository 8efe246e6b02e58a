"""Power for an outcome measured only on its own schedule (a questionnaire asked weekly or
at each period's end), by simulation (docs/design.md#power-of-a-sparse-outcome).

Each simulated trial draws an allocation from the protocol's scheme, puts normal AR(1) noise
(marginal SD ``sd``, correlation ``rho ** days apart``) on the days the outcome is asked,
adds ``effect`` to the scores asked in periods of the active arm, averages each period's
scores (a period asked twice has a mean of smaller variance, ``sd**2 / 2`` without
correlation), and runs the randomization test the analysis runs on such an outcome: the
difference between the arms' means of period means, over the periods that have a score,
against the same reference set of allocations (exact or Monte Carlo, as in
:mod:`blindself.analysis.stats.power`).  A period without a score drops out of the comparison
and an allocation that leaves an arm without one is undefined, as in the analysis.

Assumptions, stated with the result: every due questionnaire is answered (a missed day
removes a score, lowering power), the score is normal (no rounding to the instrument's
steps or clipping to its bounds), the effect is the same in every active period, and the
first active arm is compared with placebo without Holm's correction across outcomes.

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

from blindself.analysis.stats.assignments import sample_assignments
from blindself.analysis.stats.simulation import _TIE, _ar1, _contrast, _p_floor
from blindself.protocol.model import Outcome, Protocol
from blindself.trial.questionnaires import instrument_dates
from blindself.trial.schedule import Calendar, scheme_of

_CHUNK = 50
COMPARED = ("dose", "off")  # a questionnaire is compared on any day of its period


@dataclass(frozen=True)
class SparseSchedule:
    """When the outcome is asked: calendar index and period of each compared day."""

    index: np.ndarray  # calendar day index of each asking day in a period, ascending
    period: np.ndarray  # its period (0-based)
    n_periods: int
    baseline: int  # asking days outside every period (not compared)

    def per_period(self) -> np.ndarray:
        return np.bincount(self.period, minlength=self.n_periods)


def sparse_schedule(protocol: Protocol, calendar: Calendar, outcome: Outcome) -> SparseSchedule:
    """The days ``outcome`` is asked (its schedule; every check-in day for a daily rating)."""
    if outcome.instrument is not None:
        asked = set(instrument_dates(protocol, calendar, outcome))
    else:
        asked = {d.date for d in calendar.days if d.is_dose}
    index, period, baseline = [], [], 0
    for i, d in enumerate(calendar.days):
        if d.date not in asked:
            continue
        if d.period is None or d.day_type not in COMPARED:
            baseline += 1
            continue
        index.append(i)
        period.append(d.period)
    return SparseSchedule(
        np.array(index, dtype=np.int64),
        np.array(period, dtype=np.int64),
        scheme_of(protocol).n_periods,
        baseline,
    )


@dataclass(frozen=True)
class SparsePower:
    power: float
    mc_se: float
    sims: int
    design: dict[str, Any]


def sparse_power(
    protocol: Protocol,
    calendar: Calendar,
    outcome: Outcome,
    *,
    effect: float,
    sd: float,
    rho: float = 0.3,
    sims: int = 1000,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SparsePower:
    """Simulated power of the randomization test of ``outcome`` measured on its schedule.

    ``effect`` is the true improvement of a score in an active period, in the outcome's
    ``better`` direction and its own points (a BRS mean, a GAD-7 sum); ``sd`` the SD of one
    score; ``rho`` the AR(1) correlation per day between scores.

    Examples
    --------
    >>> from datetime import date
    >>> from blindself.protocol.loading import parse_protocol
    >>> from blindself.trial.schedule import build_calendar
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
    >>> r = sparse_power(p, cal, p.primary, effect=3.0, sd=1.0, sims=100, seed=1)
    >>> r.power, r.design["p_min"]  # 4 allocations: never below alpha
    (0.0, 0.5)
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
    sched = sparse_schedule(protocol, calendar, outcome)
    if sched.index.size < 2:
        raise ValueError(f"{outcome.name} is asked on fewer than two days of the periods")
    rng = np.random.default_rng(seed)
    scheme = scheme_of(protocol)
    kinds = {a.name: a.kind for a in protocol.arms}
    arms = scheme.arms
    counts = scheme.arm_counts()
    placebo = next(arms.index(a) for a in arms if kinds[a] == "placebo")
    active = next(arms.index(a) for a in arms if kinds[a] == "active" and counts[a] > 0)
    c = _contrast(scheme, active, placebo, rng)
    if c.rows is None:
        raise ValueError("sparse power needs a design whose compared arms form their own scheme")
    alternative = protocol.analysis.alternative
    pvals = np.empty(sims)
    gaps = np.diff(sched.index)
    for start in range(0, sims, _CHUNK):
        n = min(_CHUNK, sims - start)
        obs = sample_assignments(scheme, rng, n)
        y = _ar1(n, gaps, sd, rho, rng)
        y += effect * (obs[:, sched.period] == active)
        pvals[start : start + n] = _p(c.rows, c.exact, obs, y, sched, active, placebo, alternative)
        if progress is not None:
            progress(n)
    hits = pvals <= protocol.analysis.alpha
    return _result(hits, protocol.analysis.alpha, sched, c, outcome, alternative, effect, sd, rho)


def _result(
    hits: np.ndarray,
    alpha: float,
    sched: SparseSchedule,
    c: Any,
    outcome: Outcome,
    alternative: str,
    effect: float,
    sd: float,
    rho: float,
) -> SparsePower:
    sims = int(hits.size)
    power = float(np.mean(hits))
    per = sched.per_period()
    design = {
        "outcome": outcome.name,
        "instrument": outcome.instrument.title if outcome.instrument else None,
        "schedule": outcome.schedule if outcome.instrument else "dose days",
        "effect": effect,
        "sd": sd,
        "rho": rho,
        "alpha": alpha,
        "alternative": alternative,
        "periods": sched.n_periods,
        "periods_measured": int(np.count_nonzero(per)),
        "scores": int(sched.index.size),
        "scores_per_period": sorted({int(k) for k in per if k}),
        "scores_outside_periods": sched.baseline,
        "reference": "exact" if c.exact else "monte-carlo",
        "reference_size": c.size,
        "p_min": _p_floor(alternative, c.size),
        "assumption": (
            "every due questionnaire answered; scores normal with this SD per score and "
            "AR(1) correlation rho per day apart, a period's scores averaged (period mean "
            "variance falls with more scores per period); periods without a score drop out; "
            "the same effect in every active period; first active arm vs placebo, no "
            "correction across outcomes"
        ),
    }
    return SparsePower(power, math.sqrt(power * (1.0 - power) / sims), sims, design)


def _p(
    rows: np.ndarray,
    exact: bool,
    obs: np.ndarray,
    y: np.ndarray,
    sched: SparseSchedule,
    active: int,
    placebo: int,
    alternative: str,
) -> np.ndarray:
    """The randomization p-value of each simulated trial (``rows``: R x slots, the pair's
    periods in order; ``y``: the scores on the asking days, trials by days)."""
    n = obs.shape[0]
    in_pair = (obs == active) | (obs == placebo)
    slots = np.nonzero(in_pair)[1].reshape(n, -1)
    # Period sums and counts of scores, then on the pair's slots.
    onehot = np.zeros((sched.period.size, sched.n_periods))
    onehot[np.arange(sched.period.size), sched.period] = 1.0
    total = y @ onehot
    count = onehot.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(count > 0, total / np.where(count > 0, count, 1.0), 0.0)
    m = np.take_along_axis(np.broadcast_to(count > 0, (n, sched.n_periods)), slots, axis=1)
    s = np.take_along_axis(means, slots, axis=1) * m
    mf = m.astype(np.float64)
    a = rows.astype(np.float64)
    b = 1.0 - a
    obs_a = (np.take_along_axis(obs, slots, axis=1) == active).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (a @ s.T) / (a @ mf.T) - (b @ s.T) / (b @ mf.T)
        t_obs = (obs_a * s).sum(1) / (obs_a * mf).sum(1) - ((1 - obs_a) * s).sum(1) / (
            (1 - obs_a) * mf
        ).sum(1)
    tol = _TIE * np.abs(s).sum(axis=1)
    u = t - t_obs[None, :]
    defined = np.isfinite(u)
    greater = np.count_nonzero(defined & (u >= -tol[None, :]), axis=0).astype(np.float64)
    less = np.count_nonzero(defined & (u <= tol[None, :]), axis=0).astype(np.float64)
    size = np.count_nonzero(defined, axis=0).astype(np.float64)
    if not exact:
        greater, less, size = greater + 1, less + 1, size + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        p = greater / size
        if alternative != "greater":
            p = np.minimum(1.0, 2.0 * np.minimum(greater / size, less / size))
    p[~np.isfinite(t_obs)] = 1.0
    return np.asarray(p)
