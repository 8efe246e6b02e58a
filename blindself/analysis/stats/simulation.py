"""Simulated trials of a design and their randomization p-values, many trials at once.

The machinery behind :mod:`blindself.analysis.stats.power`: the reference set of each
contrast, AR(1) ratings, and the vectorized p-values of every simulated trial (Edgington and
Onghena 2007, *Randomization Tests*, 4th ed., ch. 11; Phipson and Smyth 2010).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.assignments import (
    assignment_set,
    count_assignments,
    enumerate_assignments,
    sample_assignments,
)
from blindself.protocol.model import Protocol
from blindself.trial.schedule import Calendar, scheme_of
from blindself.trial.scheme import Scheme

# Enumerate the reference set when rows x slots stays below this; else Monte Carlo.
EXACT_CELLS = 2**18


# Monte Carlo reference draws per contrast (the observed allocation makes B + 1 rows).
MC_DRAWS = 1999


# Reference rows x simulated trials per chunk (the float64 statistic matrix).
_CHUNK_CELLS = 2**22


_MAX_CHUNK = 100


_TIE = 1e-9


@dataclass(frozen=True)
class _Contrast:
    active: int
    placebo: int
    rows: np.ndarray | None  # (R, J) bool: active on the slot; None on the slow path
    exact: bool
    size: int  # rows of the reference set, the observed one included


@dataclass(frozen=True)
class _Setup:
    scheme: Scheme
    period_days: int
    days: np.ndarray  # (P, period_days) calendar day index of each dose day
    gaps: np.ndarray  # days between consecutive dose days
    actives: tuple[int, ...]
    contrasts: tuple[_Contrast, ...]
    alternative: str
    statistic: str
    alpha: float


def _setup(protocol: Protocol, calendar: Calendar, rng: np.random.Generator) -> _Setup:
    scheme = scheme_of(protocol)
    pd = protocol.design.period_days
    dose = [(i, d.period) for i, d in enumerate(calendar.days) if d.is_dose]
    index = np.array([i for i, _ in dose], dtype=np.int64)
    period = np.array([p for _, p in dose], dtype=np.int64)
    n_periods = scheme.n_periods
    # Periods follow one another in time, period_days dose days each (schedule.py).
    if index.size != n_periods * pd or np.any(period != np.repeat(np.arange(n_periods), pd)):
        raise ValueError("the calendar does not match the protocol's periods")
    arms = scheme.arms
    kinds = {a.name: a.kind for a in protocol.arms}
    counts = scheme.arm_counts()
    placebo = next(arms.index(a) for a in arms if kinds[a] == "placebo")
    actives = tuple(arms.index(a) for a in arms if kinds[a] == "active" and counts[a] > 0)
    contrasts = tuple(_contrast(scheme, a, placebo, rng) for a in actives)
    plan = protocol.analysis
    return _Setup(
        scheme=scheme,
        period_days=pd,
        days=index.reshape(n_periods, pd),
        gaps=np.diff(index),
        actives=actives,
        contrasts=contrasts,
        alternative=plan.alternative,
        statistic=plan.statistic,
        alpha=plan.alpha,
    )


def _pair_scheme(scheme: Scheme, active: int, placebo: int) -> Scheme | None:
    """The scheme of the two arms on their slots; None when it is not a product."""
    pair = (scheme.arms[active], scheme.arms[placebo])
    counts = scheme.arm_counts()
    others = any(n > 0 for a, n in counts.items() if a not in pair)
    if others and scheme.max_run is not None:
        return None
    if scheme.kind == "blocks":
        block = tuple(a for a in scheme.block if a in pair)
        return Scheme("blocks", pair, block, n_blocks=scheme.n_blocks, max_run=scheme.max_run)
    return Scheme(
        "complete", pair, counts=tuple((a, counts[a]) for a in pair), max_run=scheme.max_run
    )


def _contrast(scheme: Scheme, active: int, placebo: int, rng: np.random.Generator) -> _Contrast:
    pair = _pair_scheme(scheme, active, placebo)
    if pair is None:
        return _Contrast(active, placebo, None, False, 0)
    total = count_assignments(pair)
    if total * pair.n_periods <= EXACT_CELLS:
        return _Contrast(active, placebo, enumerate_assignments(pair) == 0, True, total)
    rows = sample_assignments(pair, rng, MC_DRAWS) == 0
    return _Contrast(active, placebo, rows, False, MC_DRAWS + 1)


def _ar1(n: int, gaps: np.ndarray, sd: float, rho: float, rng: np.random.Generator) -> np.ndarray:
    """``(n, len(gaps) + 1)`` AR(1) noise on days ``gaps`` apart (marginal SD ``sd``)."""
    out = np.empty((n, gaps.size + 1))
    out[:, 0] = rng.standard_normal(n) * sd
    phi = rho ** gaps.astype(np.float64)
    scale = sd * np.sqrt(1.0 - phi**2)
    z = rng.standard_normal((n, gaps.size))
    for t in range(gaps.size):
        out[:, t + 1] = phi[t] * out[:, t] + scale[t] * z[:, t]
    return out


def _simulate(
    setup: _Setup,
    effect: float,
    sd: float,
    rho: float,
    sims: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per simulated trial: first contrast significant, any contrast significant."""
    chunk = _chunk(setup)
    first = np.empty(sims, dtype=bool)
    anyone = np.empty(sims, dtype=bool)
    is_active = _active_mask(setup)
    n_periods, pd = setup.days.shape
    for start in range(0, sims, chunk):
        n = min(chunk, sims - start)
        obs = sample_assignments(setup.scheme, rng, n)
        y = _ar1(n, setup.gaps, sd, rho, rng).reshape(n, n_periods, pd)
        y += effect * is_active[obs][:, :, None]
        first[start : start + n], anyone[start : start + n] = _significant(setup, obs, y, rng)
        if progress is not None:
            progress(n)
    return first, anyone


def _chunk(setup: _Setup) -> int:
    """Simulated trials per batch, so the statistic matrix stays near ``_CHUNK_CELLS``."""
    biggest = max((c.size for c in setup.contrasts if c.rows is not None), default=1)
    return int(min(_MAX_CHUNK, max(1, _CHUNK_CELLS // biggest)))


def _active_mask(setup: _Setup) -> np.ndarray:
    is_active = np.zeros(len(setup.scheme.arms), dtype=bool)
    is_active[list(setup.actives)] = True
    return is_active


def _significant(
    setup: _Setup, obs: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per trial (rows of ``obs``, ``y``): first contrast significant, any significant."""
    p = np.column_stack([_p_values(setup, c, obs, y, rng) for c in setup.contrasts])
    adjusted = _holm(p)
    return adjusted[:, 0] <= setup.alpha, adjusted.min(axis=1) <= setup.alpha


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along axis 1 (rows: trials)."""
    m = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1) * np.arange(m, 0, -1)
    ranked = np.minimum(1.0, np.maximum.accumulate(ranked, axis=1))
    out = np.empty_like(p)
    np.put_along_axis(out, order, ranked, axis=1)
    return out


def _p_values(
    setup: _Setup, c: _Contrast, obs: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The contrast's p-value in each simulated trial (rows of ``obs`` and ``y``)."""
    n = obs.shape[0]
    in_pair = (obs == c.active) | (obs == c.placebo)
    slots = np.nonzero(in_pair)[1].reshape(n, -1)  # row-major: sorted within each trial
    obs_active = np.take_along_axis(obs, slots, axis=1) == c.active
    y_slots = np.take_along_axis(y, slots[:, :, None], axis=1)
    days = setup.days[slots].astype(np.float64)
    if c.rows is not None:
        return _p_from_rows(setup, c.rows, c.exact, obs_active, y_slots, days)
    # Slow path: each trial's own conditional set (several arms under max_run).
    names = setup.scheme.arms
    pair = (names[c.active], names[c.placebo])
    out = np.empty(n)
    for i in range(n):
        ref = assignment_set(
            setup.scheme,
            [names[a] for a in obs[i]],
            rng,
            max_exact=max(1, EXACT_CELLS // slots.shape[1]),
            draws=MC_DRAWS,
            compare=pair,
        )
        rows = ref.matrix[:, slots[i]] == c.active
        out[i : i + 1] = _p_from_rows(
            setup, rows, ref.exact, obs_active[i : i + 1], y_slots[i : i + 1], days[i : i + 1]
        )
    return out


def _p_from_rows(
    setup: _Setup,
    rows: np.ndarray,
    exact: bool,
    obs_active: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
) -> np.ndarray:
    """P-values of ``n`` trials against one reference matrix (``rows``: R x slots).

    ``y`` and ``days`` are ``(n, slots, period_days)``.  Exact sets hold the observed
    allocation among their rows; Monte Carlo sets get it added as row 0.
    """
    a = rows.astype(np.float64)
    o = obs_active.astype(np.float64)
    if setup.statistic == "mean-difference":
        # Every allocation has the same number of active days, so the mean difference
        # is increasing in the active days' sum: compare sums.
        s = y.sum(axis=2)
        t = a @ s.T
        t_obs = np.einsum("ij,ij->i", o, s)
        tol = _TIE * np.abs(s).sum(axis=1)
        u = t - t_obs[None, :]
        # Sums of finite ratings are finite: every row counts, and two passes over the
        # (rows x trials) matrix instead of six (the exact sets have up to 2^22 cells).
        greater = np.count_nonzero(u >= -tol[None, :], axis=0).astype(np.float64)
        less = np.count_nonzero(u <= tol[None, :], axis=0).astype(np.float64)
        size = np.full(u.shape[1], float(u.shape[0]))
    else:
        t, t_obs, tol = _trend_adjusted(a, o, y, days)
        u = t - t_obs[None, :]
        defined = np.isfinite(u)
        greater = np.count_nonzero(defined & (u >= -tol[None, :]), axis=0).astype(np.float64)
        less = np.count_nonzero(defined & (u <= tol[None, :]), axis=0).astype(np.float64)
        size = np.count_nonzero(defined, axis=0).astype(np.float64)
    if not exact:
        greater, less, size = greater + 1, less + 1, size + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        p_greater, p_less = greater / size, less / size
    p: np.ndarray = p_greater
    if setup.alternative != "greater":
        p = np.minimum(1.0, 2.0 * np.minimum(p_greater, p_less))
    # The analysis cannot test a trial whose own statistic is undefined: not significant.
    p[~np.isfinite(t_obs)] = 1.0
    return p


def _trend_adjusted(
    a: np.ndarray, o: np.ndarray, y: np.ndarray, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``active`` coefficient of ``y ~ active + day`` for every row and trial.

    Frisch-Waugh-Lovell as in ``randomization._statistics``: residualize ``y`` on
    ``(1, day)``, then divide its active-day sum by the residual sum of squares of the
    active indicator, ``n_a - n_a^2 / n - (sum of centred days over active days)^2 / Sdd``.
    """
    n_trials, n_slots, pd = y.shape
    flat_y = y.reshape(n_trials, -1)
    d = days.reshape(n_trials, -1)
    d = d - d.mean(axis=1, keepdims=True)
    sdd = np.einsum("ij,ij->i", d, d)
    beta = np.einsum("ij,ij->i", d, flat_y) / sdd
    resid = flat_y - flat_y.mean(axis=1, keepdims=True) - d * beta[:, None]
    r_slot = resid.reshape(n_trials, n_slots, pd).sum(axis=2)
    d_slot = d.reshape(n_trials, n_slots, pd).sum(axis=2)
    n = float(n_slots * pd)
    n_a = float(a[0].sum() * pd)
    base = n_a - n_a**2 / n

    def stat(num: np.ndarray, cross: np.ndarray) -> np.ndarray:
        den = base - cross**2 / sdd
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = num / den
        out[den <= _TIE * n] = np.nan
        return out

    t = stat(a @ r_slot.T, a @ d_slot.T)
    t_obs = stat(np.einsum("ij,ij->i", o, r_slot), np.einsum("ij,ij->i", o, d_slot))
    tol = _TIE * np.abs(flat_y).max(axis=1)
    return t, t_obs, tol


def _p_floor(alternative: str, size: int) -> float:
    """The smallest p a reference set of ``size`` rows can give."""
    return 1.0 / size if alternative == "greater" else min(1.0, 2.0 / size)
