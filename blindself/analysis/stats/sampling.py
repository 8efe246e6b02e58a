"""Uniform draws from a scheme's allocation set, many at once.

Without ``max_run`` each block is an independent uniform permutation, drawn in bulk from
PCG64's raw output (word for word what ``Generator.integers`` draws); under ``max_run`` the
periods are drawn one by one with probabilities proportional to their numbers of completions,
so the draw stays uniform over the constrained set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blindself.analysis.stats.block_orders import fill_orders, uniform_indices
from blindself.analysis.stats.layout import (
    _count,
    _enumerate,
    _Layout,
    _multinomial,
    _runs_ok,
    _Segment,
)
from blindself.errors import ProtocolError

# Rejection sampling works on batches of at most this many cells.
_BATCH_CELLS = 2**23


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
