"""The randomization scheme: the set of allocations a design can draw.

A scheme assigns one arm to each *period* (numbered from 0 here, from 1 in output).
``blocks``: periods come in consecutive blocks of ``len(block)``; each block holds the
arms of ``block`` in a uniformly random order.  ``complete``: all periods are shuffled
at once with fixed counts per arm.  ``max_run`` (optional) forbids more than k
consecutive periods of one arm, across block boundaries; the draw stays uniform over
the constrained set (rejection sampling).

The scheme is stored with the trial so that the analysis re-draws from exactly the
same set of allocations.  This module is pure Python: daily commands import it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal, NamedTuple

from blindself.errors import ProtocolError
from blindself.randomness import RandomSource, shuffle

# Rejection sampling under max_run gives up after this many tries; ``plan`` warns long
# before a protocol gets near it.
MAX_REJECTIONS = 100_000


class Scheme(NamedTuple):
    """A randomization scheme over periods.

    ``arms`` lists the arm names in protocol order; ``block`` the arms of one block
    (an arm may repeat) for ``kind == "blocks"``; ``counts`` the number of periods per
    arm for ``kind == "complete"``.
    """

    kind: Literal["blocks", "complete"]
    arms: tuple[str, ...]
    block: tuple[str, ...] = ()
    n_blocks: int = 1
    counts: tuple[tuple[str, int], ...] = ()
    max_run: int | None = None

    @property
    def n_periods(self) -> int:
        if self.kind == "blocks":
            return len(self.block) * self.n_blocks
        return sum(n for _, n in self.counts)

    @property
    def block_size(self) -> int:
        """Periods per block (the whole trial is one block under ``complete``)."""
        return len(self.block) if self.kind == "blocks" else self.n_periods

    def block_of(self, period: int) -> int:
        """The 0-based block of a 0-based period."""
        return period // self.block_size

    def arm_counts(self) -> dict[str, int]:
        """How many periods each arm gets (the same in every allocation)."""
        if self.kind == "blocks":
            per_block = Counter(self.block)
            return {a: per_block.get(a, 0) * self.n_blocks for a in self.arms}
        c = dict(self.counts)
        return {a: c.get(a, 0) for a in self.arms}

    def satisfies(self, allocation: tuple[str, ...]) -> bool:
        """Whether ``allocation`` (arm per period) is in the scheme's set."""
        if len(allocation) != self.n_periods:
            return False
        if self.kind == "blocks":
            size = len(self.block)
            target = Counter(self.block)
            for b in range(self.n_blocks):
                if Counter(allocation[b * size : (b + 1) * size]) != target:
                    return False
        elif Counter(allocation) != Counter(dict(self.counts)):
            return False
        return self.max_run is None or longest_run(allocation) <= self.max_run

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": list(self.arms),
            "block": list(self.block),
            "n_blocks": self.n_blocks,
            "counts": {a: n for a, n in self.counts},
            "max_run": self.max_run,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scheme:
        kind = data["kind"]
        if kind not in ("blocks", "complete"):
            raise ProtocolError(f"unknown randomization scheme {kind!r}")
        return cls(
            kind=kind,
            arms=tuple(data["arms"]),
            block=tuple(data.get("block", ())),
            n_blocks=int(data.get("n_blocks", 1)),
            counts=tuple((str(a), int(n)) for a, n in dict(data.get("counts", {})).items()),
            max_run=data.get("max_run"),
        )


def longest_run(allocation: tuple[str, ...] | list[str]) -> int:
    """Length of the longest run of one arm."""
    best = run = 0
    prev: str | None = None
    for arm in allocation:
        run = run + 1 if arm == prev else 1
        prev = arm
        best = max(best, run)
    return best


def draw_allocation(scheme: Scheme, source: RandomSource) -> tuple[str, ...]:
    """Draw one allocation (arm per period) uniformly from the scheme's set."""
    for _ in range(MAX_REJECTIONS):
        if scheme.kind == "blocks":
            periods: list[str] = []
            for _b in range(scheme.n_blocks):
                one = list(scheme.block)
                shuffle(one, source)
                periods.extend(one)
        else:
            periods = [a for a, n in scheme.counts for _ in range(n)]
            shuffle(periods, source)
        if scheme.max_run is None or longest_run(periods) <= scheme.max_run:
            return tuple(periods)
    raise ProtocolError(
        f"design.max_run = {scheme.max_run} is too tight for this design: "
        "no allocation found; raise max_run or remove it"
    )
