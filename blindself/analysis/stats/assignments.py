"""The allocation set of a randomization scheme: count, enumerate, sample.

A randomization test compares the observed allocation with the allocations the scheme
could have drawn (docs/design.md#randomization): the same blocks, the same counts, the same
``max_run``.  This module builds that reference set, either completely (exact test) or as a uniform
Monte Carlo sample with the observed allocation first (``p = (c + 1) / (B + 1)``).

Allocations are ``int8`` rows of indices into ``scheme.arms``, one column per period.

A contrast of two arms in a scheme with more arms (``["none", "placebo", "active"]``)
is tested conditionally: the periods of every other arm keep their observed arm and
only the two compared arms are re-shuffled within each block.  Under the sharp null
"these two arms do not differ" the outcomes are then fixed in every allocation of the
set, which the unconditional set does not give when ``none`` differs from ``placebo``.
Conditioning on an event of the design keeps the draw uniform over the subset, so the
test stays exact (Rosenbaum 2002, *Observational Studies*, 2nd ed., sec. 2.4).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.block_orders import (
    BlockChoices,
    enumerate_orders,
    fill_orders,
    observed_orders,
    uniform_indices,
)
from blindself.errors import DataError, ProtocolError
from blindself.trial.scheme import Scheme

# Refuse to enumerate beyond this many rows (int8 rows of up to a few hundred periods).
MAX_ENUMERATION = 2**24
# Rejection sampling works on batches of at most this many cells.
_BATCH_CELLS = 2**23

_Key = tuple[tuple[int, ...], int, int]


@dataclass(frozen=True)
class _Segment:
    """One block: per position the fixed arm index or -1, and the free arms' counts."""

    fixed: tuple[int, ...]
    free: tuple[int, ...]


@dataclass(frozen=True)
class _Layout:
    n_arms: int
    segments: tuple[_Segment, ...]
    max_run: int | None

    @property
    def n_periods(self) -> int:
        return sum(len(s.fixed) for s in self.segments)

    def unconstrained(self) -> _Layout:
        return _Layout(self.n_arms, self.segments, None)


@dataclass(frozen=True)
class AssignmentSet:
    """The reference set of a randomization test.

    ``matrix`` holds one allocation per row (indices into ``scheme.arms``); row 0 is
    always the observed allocation.  ``exact``: the rows are the whole set (``total``
    rows, each once); otherwise row 0 is followed by ``draws`` uniform draws from a
    set of ``total`` allocations.  ``compare`` names the two arms whose periods were
    re-shuffled when the other arms were held at their observed periods, else None.
    ``blocks``: the same rows as block choices when the set is a product of blocks
    (statistics then take one matrix product per batch, see ``allocation_sums``).
    """

    matrix: np.ndarray
    exact: bool
    total: int
    draws: int | None
    compare: tuple[str, ...] | None = None
    blocks: BlockChoices | None = None


def _arm_index(scheme: Scheme) -> dict[str, int]:
    if len(scheme.arms) > 127:
        raise ValueError("at most 127 arms fit an int8 allocation matrix")
    return {a: i for i, a in enumerate(scheme.arms)}


def _counts(arms: Sequence[str], index: dict[str, int]) -> tuple[int, ...]:
    c = [0] * len(index)
    for a in arms:
        c[index[a]] += 1
    return tuple(c)


def _max_run(scheme: Scheme) -> int | None:
    # A bound at or above the number of periods constrains nothing.
    if scheme.max_run is None or scheme.max_run >= scheme.n_periods:
        return None
    if scheme.max_run < 1:
        raise ProtocolError("design.max_run must be at least 1; raise it or remove it")
    return int(scheme.max_run)


def _layout(scheme: Scheme) -> _Layout:
    index = _arm_index(scheme)
    if scheme.kind == "blocks":
        seg = _Segment((-1,) * len(scheme.block), _counts(scheme.block, index))
        segments = (seg,) * scheme.n_blocks
    else:
        expanded = [a for a, n in scheme.counts for _ in range(n)]
        segments = (_Segment((-1,) * len(expanded), _counts(expanded, index)),)
    return _Layout(len(index), segments, _max_run(scheme))


def _conditional_layout(scheme: Scheme, observed: np.ndarray, keep: set[int]) -> _Layout:
    """The layout that holds every period of an arm outside ``keep`` at its observed arm."""
    full = _layout(scheme)
    segments = []
    start = 0
    for seg in full.segments:
        part = observed[start : start + len(seg.fixed)]
        start += len(seg.fixed)
        fixed = tuple(-1 if int(a) in keep else int(a) for a in part)
        free = [0] * full.n_arms
        for a in part:
            if int(a) in keep:
                free[int(a)] += 1
        segments.append(_Segment(fixed, tuple(free)))
    return _Layout(full.n_arms, tuple(segments), full.max_run)


def _multinomial(counts: Sequence[int]) -> int:
    out, total = 1, 0
    for c in counts:
        total += c
        out *= math.comb(total, c)
    return out


def _count(layout: _Layout) -> int:
    if layout.max_run is None:
        return math.prod(_multinomial(s.free) for s in layout.segments)
    k = layout.max_run
    # Dynamic programme over periods; state = (free arms left in the block, last arm, run).
    ends: dict[tuple[int, int], int] = {(-1, 0): 1}
    for seg in layout.segments:
        layer: dict[_Key, int] = {(seg.free, last, run): c for (last, run), c in ends.items()}
        for f in seg.fixed:
            nxt: dict[_Key, int] = defaultdict(int)
            for (rem, last, run), c in layer.items():
                choices = (f,) if f >= 0 else tuple(a for a, r in enumerate(rem) if r > 0)
                for a in choices:
                    r = run + 1 if a == last else 1
                    if r > k:
                        continue
                    left = rem
                    if f < 0:
                        left = (*rem[:a], rem[a] - 1, *rem[a + 1 :])
                    nxt[(left, a, r)] += c
            layer = nxt
        ends = defaultdict(int)
        for (_rem, last, run), c in layer.items():
            ends[(last, run)] += c
    return sum(ends.values())


def _enumerate(layout: _Layout) -> np.ndarray:
    n_arms, k = layout.n_arms, layout.max_run
    # Breadth-first over periods, keeping parent pointers; rows are rebuilt at the end.
    last = np.full(1, -1, dtype=np.int16)
    run = np.zeros(1, dtype=np.int32)
    parents: list[np.ndarray] = []
    arms: list[np.ndarray] = []
    for seg in layout.segments:
        rem = np.tile(np.asarray(seg.free, dtype=np.int32), (last.size, 1))
        for f in seg.fixed:
            choices = [f] if f >= 0 else [a for a in range(n_arms) if seg.free[a] > 0]
            p_parts, a_parts, r_parts, rem_parts = [], [], [], []
            for a in choices:
                new_run = np.where(last == a, run + 1, 1)
                ok = np.ones(last.size, dtype=bool) if f >= 0 else rem[:, a] > 0
                if k is not None:
                    ok &= new_run <= k
                idx = np.flatnonzero(ok)
                left = rem[idx]
                if f < 0:
                    left[:, a] -= 1
                p_parts.append(idx)
                a_parts.append(np.full(idx.size, a, dtype=np.int8))
                r_parts.append(new_run[idx])
                rem_parts.append(left)
            parent = np.concatenate(p_parts)
            arm = np.concatenate(a_parts)
            parents.append(parent)
            arms.append(arm)
            last = arm.astype(np.int16)
            run = np.concatenate(r_parts)
            rem = np.concatenate(rem_parts)
    n_rows = last.size
    out = np.empty((n_rows, len(arms)), dtype=np.int8)
    idx = np.arange(n_rows)
    for t in range(len(arms) - 1, -1, -1):
        out[:, t] = arms[t][idx]
        idx = parents[t][idx]
    return out


def _runs_ok(cols: np.ndarray, k: int) -> np.ndarray:
    """Allocations (columns of a period-major array) whose longest run is at most ``k``."""
    eq = cols[1:] == cols[:-1]
    width = eq.shape[0] - k + 1
    if width <= 0:
        return np.ones(cols.shape[1], dtype=bool)
    bad = eq[:width].copy()
    for j in range(1, k):
        bad &= eq[j : j + width]
    ok: np.ndarray = ~bad.any(axis=0)
    return ok


def _block_moves(
    layout: _Layout, seg: _Segment, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A block's full orders, and per entry state (last arm, run) which are allowed
    and the state each one leaves behind."""
    k = layout.max_run if layout.max_run is not None else len(seg.fixed)
    orders = np.tile(np.asarray(seg.fixed, dtype=np.int8), (table.shape[0], 1))
    orders[:, np.asarray(seg.fixed) < 0] = table
    n_states = (layout.n_arms + 1) * (k + 1)
    valid = np.zeros((n_states, orders.shape[0]), dtype=bool)
    exits = np.zeros((n_states, orders.shape[0]), dtype=np.intp)
    for last in range(-1, layout.n_arms):
        for run in range(k + 1):
            cur = np.full(orders.shape[0], last, dtype=np.int16)
            length = np.full(orders.shape[0], run, dtype=np.intp)
            ok = np.ones(orders.shape[0], dtype=bool)
            for t in range(orders.shape[1]):
                length = np.where(orders[:, t] == cur, length + 1, 1)
                ok &= length <= k
                cur = orders[:, t].astype(np.int16)
            state = (last + 1) * (k + 1) + run
            valid[state] = ok
            exits[state] = (cur + 1) * (k + 1) + np.minimum(length, k)
    return orders, valid, exits


def _sample_sequential(
    layout: _Layout, table: np.ndarray, rng: np.random.Generator, n: int
) -> np.ndarray:
    """Uniform draws under ``max_run`` without rejection, block by block.

    Each block's order is drawn with probability proportional to the number of ways
    the remaining blocks can be completed from the state it leaves (last arm, run), so
    every allocation of the constrained set has the same probability.
    """
    moves = {seg: _block_moves(layout, seg, table) for seg in set(layout.segments)}
    n_states = next(iter(moves.values()))[1].shape[0]
    # completions[b][s]: allocations of blocks b.. entered in state s (exact integers).
    completions: list[list[int]] = [[1] * n_states]
    for seg in reversed(layout.segments):
        _, valid, exits = moves[seg]
        after = completions[-1]
        completions.append(
            [
                sum(after[e] for e, ok in zip(exits[s], valid[s], strict=True) if ok)
                for s in range(n_states)
            ]
        )
    completions.reverse()
    cols = np.empty((layout.n_periods, n), dtype=np.int8)
    state = np.zeros(n, dtype=np.intp)  # (last = -1, run = 0)
    start = 0
    for b, seg in enumerate(layout.segments):
        orders, valid, exits = moves[seg]
        after, here = completions[b + 1], completions[b]
        prob = np.zeros(valid.shape)
        for s in range(n_states):
            if here[s]:
                for o in np.flatnonzero(valid[s]):
                    prob[s, o] = after[exits[s, o]] / here[s]
        cum = np.cumsum(prob, axis=1)
        u = rng.random(n) * cum[state, -1]
        choice = np.minimum((cum[state] <= u[:, None]).sum(axis=1), orders.shape[0] - 1)
        cols[start : start + orders.shape[1]] = orders[choice].T
        state = exits[state, choice]
        start += orders.shape[1]
    return cols


@dataclass(frozen=True)
class _Product:
    """A layout whose blocks all draw from one table of orders (no ``max_run`` binding)."""

    template: np.ndarray
    free_pos: np.ndarray
    fixed_pos: np.ndarray
    table: np.ndarray | None  # None: too many orders to list (the i.i.d.-key draw)
    n_orders: int
    base: np.ndarray


def _product(layout: _Layout) -> _Product:
    template = np.concatenate([np.asarray(s.fixed, dtype=np.int8) for s in layout.segments])
    frees = {s.free for s in layout.segments}
    if len(frees) != 1:
        raise ValueError("every block must have the same free arms")
    free = next(iter(frees))
    n_seg, width = len(layout.segments), sum(free)
    single = _Layout(layout.n_arms, (_Segment((-1,) * width, free),), None)
    n_orders = _multinomial(free)
    return _Product(
        template=template,
        free_pos=np.flatnonzero(template < 0).reshape(n_seg, width),
        fixed_pos=np.flatnonzero(template >= 0),
        # Small blocks: pick one of the block's distinct orders uniformly by index.
        table=_enumerate(single) if n_orders <= 40320 else None,
        n_orders=n_orders,
        base=np.repeat(np.arange(layout.n_arms, dtype=np.int8), free),
    )


def _raw(
    prod: _Product, rng: np.random.Generator, m: int, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``m`` unconstrained draws, period-major (in ``out`` when given), and their order
    indices when listed."""
    n_seg, width = prod.free_pos.shape
    cols = np.empty((prod.template.size, m), dtype=np.int8) if out is None else out
    if prod.table is not None:
        pick = uniform_indices(rng, prod.n_orders, (n_seg, m))
        fill_orders(prod.template, prod.free_pos, prod.table, pick, cols)
        return cols, pick
    cols[prod.fixed_pos] = prod.template[prod.fixed_pos, None]
    # argsort of i.i.d. keys: a uniform permutation of the block's arms.
    perm = np.argsort(rng.random((n_seg, width, m)), axis=1)
    cols[prod.free_pos.reshape(-1)] = prod.base[perm].reshape(n_seg * width, m)
    return cols, None


def _binds(layout: _Layout) -> bool:
    """Whether ``max_run`` removes allocations (it never does for AB/BA pairs with 2)."""
    if layout.max_run is None:
        return False
    allowed = _count(layout)
    if allowed == 0:
        raise ProtocolError(
            f"design.max_run = {layout.max_run} admits no allocation; raise it or remove it"
        )
    return allowed != _count(layout.unconstrained())


def _sample(
    layout: _Layout, rng: np.random.Generator, n: int, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` uniform draws as a period-major ``(n_periods, n)`` array (``out`` if given),
    and their ``(n_seg, n)`` order indices when every block drew one from the table."""
    prod = _product(layout)
    k = layout.max_run
    if k is None or not _binds(layout):
        return _raw(prod, rng, n, out)
    if prod.table is not None:
        drawn = _sample_sequential(layout, prod.table, rng, n)
        if out is None:
            return drawn, None
        out[:] = drawn
        return out, None
    rate = _count(layout) / _count(layout.unconstrained())
    cap = max(1, _BATCH_CELLS // max(1, prod.template.size))
    parts: list[np.ndarray] = []
    got = 0
    while got < n:
        need = n - got
        batch = _raw(prod, rng, min(cap, int(need / rate * 1.1) + 16))[0]
        batch = batch[:, _runs_ok(batch, k)][:, :need]
        parts.append(batch)
        got += batch.shape[1]
    if not parts:
        parts.append(np.empty((prod.template.size, 0), dtype=np.int8))
    return np.concatenate(parts, axis=1, out=out), None


def _sample_columns(layout: _Layout, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform draws as a period-major ``(n_periods, n)`` array."""
    return _sample(layout, rng, n)[0]


def count_assignments(scheme: Scheme) -> int:
    """Number of distinct allocations the scheme can draw, ``max_run`` respected.

    Exact integer arithmetic: a product of multinomial coefficients without ``max_run``,
    otherwise a dynamic programme over periods (state: arms left in the block, last
    arm, current run length).

    Examples
    --------
    >>> count_assignments(Scheme("blocks", ("a", "p"), ("a", "p"), n_blocks=10))
    1024
    >>> count_assignments(Scheme("blocks", ("a", "p"), ("a", "p"), n_blocks=10, max_run=1))
    2
    """
    return _count(_layout(scheme))


def enumerate_assignments(scheme: Scheme) -> np.ndarray:
    """All distinct allocations of the scheme, one ``int8`` row each.

    A block with a repeated arm (``["placebo", "active", "active"]``) yields each
    distinct order once.  Raises ``ValueError`` above ``MAX_ENUMERATION`` rows.
    """
    layout = _layout(scheme)
    if _count(layout) > MAX_ENUMERATION:
        raise ValueError("too many allocations to enumerate; sample them instead")
    return _enumerate(layout)


def sample_assignments(scheme: Scheme, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` allocations drawn independently and uniformly from the scheme's set.

    Each block's arms are put in the order of i.i.d. uniform keys; ``max_run`` is
    enforced by rejecting whole rows, which keeps the draw uniform over the
    constrained set.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    return _sample_columns(_layout(scheme), rng, n).T


def assignment_set(
    scheme: Scheme,
    observed: Sequence[str],
    rng: np.random.Generator,
    *,
    max_exact: int = 2**20,
    draws: int = 9999,
    compare: tuple[str, ...] | None = None,
) -> AssignmentSet:
    """The reference set for a randomization test of the observed allocation.

    Parameters
    ----------
    scheme : Scheme
        The randomization scheme the allocation was drawn from.
    observed : sequence of str
        The arm of each period, as drawn.
    rng : numpy.random.Generator
        Used only for Monte Carlo sets.
    max_exact : int
        Enumerate the whole set when it has at most this many allocations.
    draws : int
        Monte Carlo draws ``B`` otherwise (the observed allocation is added as row 0).
    compare : (str, str), optional
        Hold the periods of every other arm at their observed arm and re-shuffle only
        these two arms (the conditional test of a pairwise contrast).

    Returns
    -------
    AssignmentSet
        Row 0 is the observed allocation.
    """
    index = _arm_index(scheme)
    obs_names = tuple(observed)
    unknown = sorted({a for a in obs_names if a not in index})
    if unknown:
        raise DataError(
            f"arm {unknown[0]!r} is not in the randomization scheme; check the arm column"
        )
    if not scheme.satisfies(obs_names):
        raise DataError(
            "the arms by period do not fit the randomization scheme (blocks, counts or "
            "max_run); check the period and arm columns"
        )
    if draws < 1 or max_exact < 1:
        raise ValueError("draws and max_exact must be positive")
    obs = np.fromiter((index[a] for a in obs_names), dtype=np.int8, count=len(obs_names))
    if compare is None:
        layout = _layout(scheme)
    else:
        missing = [a for a in compare if a not in index]
        if missing or compare[0] == compare[1]:
            raise ValueError(f"compare must name two different arms of the scheme: {compare}")
        layout = _conditional_layout(scheme, obs, {index[a] for a in compare})
    total = _count(layout)
    product = len({seg.free for seg in layout.segments}) == 1 and not _binds(layout)
    if total <= min(max_exact, MAX_ENUMERATION):
        prod = _product(layout) if product else None
        if prod is not None and prod.table is not None:
            matrix, blocks = enumerate_orders(prod.template, prod.free_pos, prod.table, obs)
            return AssignmentSet(matrix, True, total, None, compare, blocks)
        matrix = _enumerate(layout)
        pos = int(np.flatnonzero((matrix == obs).all(axis=1))[0])
        matrix[[0, pos]] = matrix[[pos, 0]]
        return AssignmentSet(matrix, True, total, None, compare)
    cols = np.empty((obs.size, draws + 1), dtype=np.int8)
    cols[:, 0] = obs
    pick = _sample(layout, rng, draws, cols[:, 1:])[1]
    choices = None
    prod = _product(layout)
    if pick is not None and prod.table is not None:
        first = observed_orders(prod.free_pos, prod.table, obs).astype(pick.dtype)
        choice = np.concatenate([first[:, None], pick], axis=1)
        choices = BlockChoices(prod.template, prod.free_pos, prod.table, choice)
    return AssignmentSet(cols.T, False, total, draws, compare, choices)
