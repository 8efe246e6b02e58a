"""A scheme as segments of periods shuffled independently; the count and the list of its allocations.

Blocks (or the whole trial, for a complete design) are segments; ``max_run`` ties them
together.  Counting is exact (multinomials, or a dynamic programme over runs under
``max_run``); enumeration lists every allocation when the set is small enough.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blindself.errors import ProtocolError
from blindself.trial.scheme import Scheme

# Refuse to enumerate beyond this many rows (int8 rows of up to a few hundred periods).
MAX_ENUMERATION = 2**24


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
