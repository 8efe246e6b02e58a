"""Power at several sizes of one design with common random numbers (docs/design.md#power).

The search for the size with 80 % power (:mod:`blindself.analysis.stats.sizing`) compares
simulated power across sizes.  Drawn independently, each size's figure carries its own Monte
Carlo error, so two runs suggested 39 and then 36 blocks (issue 16).  Here simulated trial
``i`` of a larger design *extends* trial ``i`` of a smaller one: the same allocation keys and
the same noise on the periods both have, new draws only for the added periods.  Neighbouring
sizes then differ by the added periods, not by fresh noise, and a seed fixes every figure.

The draws are made period by period from one generator per batch of ``BATCH`` trials,
seeded ``[seed, batch]``, so what period ``p`` receives does not depend on how many periods
follow.  Each period draws ``1 + period_days`` standard normals per trial: a key (the
period's arm is given by the rank of its key within its block, or within the whole design
for a complete design: a uniform order of the arms' multiset) and the noise of its dose days,
turned into AR(1) ratings over calendar days as in :mod:`blindself.analysis.stats.simulation`.

The Monte Carlo reference sets are nested the same way (:func:`nested_setup`): row ``r`` of
a larger design's set extends row ``r`` of a smaller one's, so a trial's p-value changes
between sizes by what the added periods change, not by a fresh draw of the set.

Not nested: designs with ``max_run`` (its rejection draw does not extend a shorter draw).
There each size gets its own generator ``[seed, size]``: still reproducible, but with
independent Monte Carlo error between sizes.

References
----------
Glasserman P. (2004). *Monte Carlo Methods in Financial Engineering*, sec. 4.1
(common random numbers).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from blindself.analysis.stats.simulation import (
    _active_mask,
    _chunk,
    _pair_scheme,
    _Setup,
    _setup,
    _significant,
    _simulate,
)
from blindself.protocol.model import Protocol
from blindself.trial.schedule import Calendar
from blindself.trial.scheme import Scheme

# Trials per generator: fixed, so the streams do not depend on the design.
BATCH = 100
# Extra words of the seeds, so that no two uses share a stream.
_REFERENCE = 1
_UNNESTED = 2


def reference_rng(seed: int, size: int) -> np.random.Generator:
    """The generator of a size's Monte Carlo reference set (the same in every run)."""
    return np.random.default_rng([seed, _REFERENCE, size])


def nested_setup(protocol: Protocol, calendar: Calendar, *, seed: int, size: int) -> _Setup:
    """``simulation._setup`` with Monte Carlo reference sets that extend across sizes."""
    setup = _setup(protocol, calendar, reference_rng(seed, size))
    scheme = setup.scheme
    if scheme.max_run is not None:
        return setup
    contrasts = []
    for c in setup.contrasts:
        pair = _pair_scheme(scheme, c.active, c.placebo)
        if c.rows is not None and not c.exact and pair is not None:
            c = replace(c, rows=_nested_rows(pair, seed, c.rows.shape[0]))
        contrasts.append(c)
    return replace(setup, contrasts=tuple(contrasts))


def _nested_rows(pair: Scheme, seed: int, draws: int) -> np.ndarray:
    """``draws`` uniform allocations of a two-arm scheme as (rows x slots) "first arm on
    the slot", drawn slot by slot from one generator so that rows extend across sizes."""
    gen = np.random.default_rng([seed, _REFERENCE])
    keys = np.empty((draws, pair.n_periods))
    for j in range(pair.n_periods):
        keys[:, j] = gen.standard_normal(draws)
    first = pair.arms[0]
    if pair.kind == "blocks":
        is_first = np.array([a == first for a in pair.block])
        blocked = keys.reshape(draws, -1, is_first.size)
        ranks = np.argsort(np.argsort(blocked, axis=2, kind="stable"), axis=2, kind="stable")
        out: np.ndarray = is_first[ranks].reshape(draws, -1)
        return out
    counts = pair.arm_counts()
    is_first = np.repeat([True, False], [counts[first], counts[pair.arms[1]]])
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    out = is_first[ranks]
    return out


def nested_power(
    setup: _Setup, *, effect: float, sd: float, rho: float, sims: int, seed: int, size: int
) -> float:
    """Simulated power of the first contrast, with the streams of every other size.

    ``setup`` is the design at ``size`` (blocks, or the first active arm's periods), from
    :func:`nested_setup` with the same ``seed``.
    """
    if setup.scheme.max_run is not None:
        rng = np.random.default_rng([seed, _UNNESTED, size])
        first, _ = _simulate(setup, effect, sd, rho, sims, rng, None)
        return float(first.mean())
    n_periods, pd = setup.days.shape
    is_active = _active_mask(setup)
    unused = np.random.default_rng(0)  # only the slow path (max_run) draws here
    hits = 0
    for batch, start in enumerate(range(0, sims, BATCH)):
        n = min(BATCH, sims - start)
        obs, noise = trials(setup, sd=sd, rho=rho, seed=seed, batch=batch, n=n)
        y = noise.reshape(n, n_periods, pd) + effect * is_active[obs][:, :, None]
        step = _chunk(setup)
        for lo in range(0, n, step):
            first, _ = _significant(setup, obs[lo : lo + step], y[lo : lo + step], unused)
            hits += int(first.sum())
    return hits / sims


def trials(
    setup: _Setup, *, sd: float, rho: float, seed: int, batch: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Batch ``batch`` of ``n`` simulated trials: allocations (trials x periods) and AR(1)
    noise (trials x dose days).  A design's first periods get the same keys and noise
    whatever follows them, so a block design's first blocks get the same allocation."""
    n_periods, pd = setup.days.shape
    gen = np.random.default_rng([seed, batch])
    draws = np.empty((n, n_periods, 1 + pd))
    for p in range(n_periods):
        draws[:, p, :] = gen.standard_normal((n, 1 + pd))
    obs = _allocation(setup, draws[:, :, 0])
    noise = _ar1_from(draws[:, :, 1:].reshape(n, -1), setup.gaps, sd, rho)
    return obs, noise


def _allocation(setup: _Setup, keys: np.ndarray) -> np.ndarray:
    """Allocations (trials x periods, arm indices) from one key per period.

    Ranking i.i.d. keys orders the block's (or design's) arm multiset uniformly, as the
    scheme's own draw does, and a period keeps its key whatever follows it.
    """
    scheme = setup.scheme
    index = {a: i for i, a in enumerate(scheme.arms)}
    n = keys.shape[0]
    if scheme.kind == "blocks":
        arms = np.array([index[a] for a in scheme.block], dtype=np.int8)
        blocked = keys.reshape(n, -1, arms.size)
        ranks = np.argsort(np.argsort(blocked, axis=2, kind="stable"), axis=2, kind="stable")
        out: np.ndarray = arms[ranks].reshape(n, -1)
        return out
    counts = scheme.arm_counts()
    arms = np.repeat(np.arange(len(scheme.arms), dtype=np.int8), [counts[a] for a in scheme.arms])
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    out = arms[ranks]
    return out


def _ar1_from(z: np.ndarray, gaps: np.ndarray, sd: float, rho: float) -> np.ndarray:
    """AR(1) noise (marginal SD ``sd``) on days ``gaps`` apart from standard normals ``z``."""
    out = np.empty_like(z)
    out[:, 0] = z[:, 0] * sd
    phi = rho ** gaps.astype(np.float64)
    scale = sd * np.sqrt(1.0 - phi**2)
    for t in range(gaps.size):
        out[:, t + 1] = phi[t] * out[:, t] + scale[t] * z[:, t + 1]
    return out
