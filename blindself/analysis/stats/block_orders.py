"""Allocations as one order per block: drawn in bulk, enumerated, summed by products.

In a blocked scheme (and a complete one: a single block) every block draws one of the
same distinct orders of its arms, so an allocation is a vector of order indices, one per
block.  A statistic that sums per-period values over the periods of one arm is then a
constant plus one term per block: for ``m`` allocations, one ``(m, blocks)`` matrix product
instead of ``(m, periods)``, and for the whole product set, partial sums extended block by
block (each block adds its orders to every partial sum).  The draws themselves are read
from the generator's raw output in bulk (``uniform_indices``), word for word the numbers
``Generator.integers`` returns, so a seed keeps its Monte Carlo set.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

# Raw 64-bit outputs read at a time by ``uniform_indices``.
_RAW_CHUNK = 2**15
# Cells of 0/1 indicators converted to float64 per batch before a matrix product: small
# enough to stay in the CPU cache until the product reads them (5x faster than batches
# of 2**21 cells on the benchmark machine).
CACHE_CELLS = 2**16


@dataclass(frozen=True)
class BlockChoices:
    """The allocations of a set as one order per block (the matmul form of its matrix).

    Row ``r`` of the matrix holds ``template`` at the fixed periods (``-1`` elsewhere) and
    ``table[o]`` at the periods ``free_pos[b]`` of block ``b``, where ``o`` is
    ``choice[b, r]`` (block-major, as drawn); every block draws from the same ``table``.
    ``choice`` None stands for the whole product in lexicographic order (block 0 most
    significant) with rows 0 and ``first`` swapped, so that row 0 is the observed one.
    """

    template: np.ndarray
    free_pos: np.ndarray
    table: np.ndarray
    choice: np.ndarray | None
    first: int = 0


def uniform_indices(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """``rng.integers(0, n, size=shape)``: the same numbers, ``rng`` left in the same state.

    For ``n`` a power of two up to 256 and numpy's default bit generator (PCG64), the draw
    is one bulk read of raw 64-bit outputs: ``integers`` takes each number from one 32-bit
    word (the low half of a raw output first, the high half kept for its next call) by
    Lemire's multiply-shift, which for ``n = 2^k`` is the word's top ``k`` bits and never
    rejects (Lemire 2019, *ACM TOMACS* 29(1):3).  Otherwise ``integers`` itself is called.
    ``tests/stats/test_kernels.py`` checks both numbers and state against ``integers``.
    """
    bitgen = rng.bit_generator
    size = math.prod(shape)
    if n == 1:
        return np.zeros(shape, dtype=np.uint8)  # integers(0, 1) consumes nothing
    if (
        type(bitgen) is not np.random.PCG64
        or n & (n - 1)
        or n > 256
        or size == 0
        or sys.byteorder != "little"
    ):
        out: np.ndarray = rng.integers(0, n, size=shape)
        return out
    shift = 9 - n.bit_length()  # top k bits of a word = its top byte >> (8 - k)
    state = bitgen.state
    bits = np.empty(size, dtype=np.uint8)
    done = 0
    if state["has_uint32"]:
        bits[0] = (int(state["uinteger"]) >> 24) >> shift
        state["has_uint32"] = 0
        done = 1
    rest = size - done
    # Outputs are read in cache-sized chunks: one large array costs more in page faults
    # than the generator does.
    raw = np.empty(0, dtype=np.uint64)
    for start in range(done, size, 2 * _RAW_CHUNK):
        stop = min(size, start + 2 * _RAW_CHUNK)
        raw = bitgen.random_raw((stop - start + 1) // 2)
        # Little-endian: each output is its low word then its high word, and a word's
        # top byte is its fourth.
        np.right_shift(raw.view(np.uint8)[3::4][: stop - start], shift, out=bits[start:stop])
    if rest:
        state = bitgen.state
        state["has_uint32"] = rest % 2
        state["uinteger"] = int(raw[-1] >> np.uint64(32))
    bitgen.state = state
    return bits.reshape(shape)


def _as_slice(idx: np.ndarray) -> slice | None:
    """``idx`` as a slice when it is an increasing arithmetic progression."""
    if idx.size == 0:
        return None
    step = int(idx[1] - idx[0]) if idx.size > 1 else 1
    if step <= 0 or np.any(np.diff(idx) != step):
        return None
    return slice(int(idx[0]), int(idx[-1]) + 1, step)


def fill_orders(
    template: np.ndarray, free_pos: np.ndarray, table: np.ndarray, pick: np.ndarray, out: np.ndarray
) -> None:
    """Write to ``out`` ``(n_periods, m)`` the allocations of order indices ``pick``
    ``(n_blocks, m)``: ``template`` at its fixed periods (``>= 0``), ``table[pick[b]]`` at
    the periods ``free_pos[b]``."""
    fixed_pos = np.flatnonzero(template >= 0)
    out[fixed_pos] = template[fixed_pos, None]
    for j in range(free_pos.shape[1]):
        arm = table[:, j]
        rows = _as_slice(free_pos[:, j])
        if arm.size == 2 and rows is not None:
            # Two orders: arithmetic on the 0/1 index, in place, instead of a gather.
            dst = out[rows]
            step = np.int8(int(arm[1]) - int(arm[0]))
            np.multiply(pick, step, out=dst, casting="unsafe")
            dst += arm[0]
        else:
            out[free_pos[:, j]] = arm[pick]


def observed_orders(free_pos: np.ndarray, table: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per block, the index in ``table`` of the order ``observed`` has there."""
    hit = (table[None, :, :] == observed[free_pos][:, None, :]).all(axis=2)
    out: np.ndarray = np.argmax(hit, axis=1)
    return out


def enumerate_orders(
    template: np.ndarray, free_pos: np.ndarray, table: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, BlockChoices]:
    """Every allocation of the product of blocks, block 0 most significant, with rows 0
    and ``observed``'s swapped; returns the matrix and its ``BlockChoices``."""
    n_blocks, n_periods = free_pos.shape[0], template.size
    n_o = table.shape[0]
    out = np.empty((n_o**n_blocks, n_periods), dtype=np.int8)
    fixed_pos = np.flatnonzero(template >= 0)
    out[:, fixed_pos] = template[fixed_pos]
    for b in range(n_blocks):
        view = out.reshape(n_o**b, n_o, n_o ** (n_blocks - 1 - b), n_periods)
        view[:, :, :, free_pos[b]] = table[None, :, None, :]
    choice = observed_orders(free_pos, table, observed)
    first = int(np.ravel_multi_index(tuple(choice), (n_o,) * n_blocks)) if n_blocks else 0
    out[[0, first]] = out[[first, 0]]
    return out, BlockChoices(template, free_pos, table, None, first)


def block_sums(blocks: BlockChoices, code: int, values: np.ndarray) -> np.ndarray:
    """``(m, k)`` sums of the per-period ``values`` over the periods of arm ``code``, per
    allocation of ``blocks`` (``sums_by_allocation`` on the matrix, by blocks)."""
    k = values.shape[1]
    hit = (blocks.table == code).astype(np.float64)
    # w[b, o]: the sum over block b's periods that order o gives the arm ``code``.
    w = np.einsum("oj,bjk->bok", hit, values[blocks.free_pos])
    const = values[blocks.template == code].sum(axis=0)
    if blocks.choice is None:
        sums: np.ndarray = const[None, :]
        for b in range(w.shape[0]):
            sums = (sums[:, None, :] + w[b][None, :, :]).reshape(-1, k)
        sums[[0, blocks.first]] = sums[[blocks.first, 0]]
        return sums
    choice = blocks.choice
    n_seg, m = choice.shape
    base = const + w[:, 0].sum(axis=0)
    steps = [(w[:, o] - w[:, 0]).T for o in range(1, w.shape[1])]
    out = np.empty((m, k), dtype=np.float64)
    out[:] = base
    size = max(1, CACHE_CELLS // max(1, n_seg))
    buf = np.empty((n_seg, size), dtype=np.float64)
    for start in range(0, m, size):
        part = choice[:, start : start + size]
        x = buf[:, : part.shape[1]]
        for o, step in enumerate(steps, start=1):
            if len(steps) == 1:
                np.copyto(x, part)
            else:
                np.equal(part, o, out=x, casting="unsafe")
            out[start : start + size] += (step @ x).T
    return out
