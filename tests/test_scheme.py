"""Tests for blindself.trial.scheme: the set of allocations a design can draw
(docs/design.md#randomization).

The reference for every set is exact enumeration with itertools, written here
independently of the module; uniformity is a chi-square test over that enumerated set.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from blindself.errors import ProtocolError
from blindself.randomness import GeneratorSource
from blindself.trial import scheme as scheme_module
from blindself.trial.scheme import Scheme, draw_allocation, longest_run

# -- independent references ------------------------------------------------------------


def ref_longest_run(seq: tuple[str, ...]) -> int:
    return max((len(list(g)) for _, g in itertools.groupby(seq)), default=0)


def ref_allocations(s: Scheme) -> set[tuple[str, ...]]:
    """Every allocation of the scheme, by brute-force enumeration."""
    if s.kind == "blocks":
        one_block = set(itertools.permutations(s.block))
        candidates = {
            tuple(a for blk in combo for a in blk)
            for combo in itertools.product(sorted(one_block), repeat=s.n_blocks)
        }
    else:
        pool = [a for a, n in s.counts for _ in range(n)]
        candidates = set(itertools.permutations(pool))
    if s.max_run is None:
        return candidates
    return {c for c in candidates if ref_longest_run(c) <= s.max_run}


def source(seed: int) -> GeneratorSource:
    return GeneratorSource(np.random.default_rng(seed))


def draw_counts(s: Scheme, n: int, src: object) -> Counter[tuple[str, ...]]:
    return Counter(draw_allocation(s, src) for _ in range(n))  # type: ignore[arg-type]


def uniformity_p(s: Scheme, per_cell: int, src: object) -> tuple[float, set[tuple[str, ...]]]:
    """Chi-square p-value of draws against the uniform law on the enumerated set."""
    support = ref_allocations(s)
    counts = draw_counts(s, per_cell * len(support), src)
    assert set(counts) <= support, "a draw outside the scheme's set"
    observed = [counts.get(a, 0) for a in sorted(support)]
    return float(chisquare(observed).pvalue), support


# -- basic properties ---------------------------------------------------------------------

AB_BLOCKS = Scheme(
    kind="blocks", arms=("active", "placebo"), block=("active", "placebo"), n_blocks=3
)
COMPLETE = Scheme(
    kind="complete",
    arms=("active", "placebo", "none"),
    counts=(("active", 3), ("placebo", 2), ("none", 0)),
)


def test_sizes_and_blocks() -> None:
    assert AB_BLOCKS.n_periods == 6
    assert AB_BLOCKS.block_size == 2
    assert [AB_BLOCKS.block_of(p) for p in range(6)] == [0, 0, 1, 1, 2, 2]
    assert COMPLETE.n_periods == 5
    # the whole trial is one block under "complete"
    assert COMPLETE.block_size == 5
    assert [COMPLETE.block_of(p) for p in range(5)] == [0] * 5


def test_arm_counts() -> None:
    assert AB_BLOCKS.arm_counts() == {"active": 3, "placebo": 3}
    three = Scheme(
        kind="blocks",
        arms=("none", "placebo", "active"),
        block=("active", "placebo", "active"),
        n_blocks=4,
    )
    # an arm of the protocol outside the block gets 0; a repeated arm counts twice
    assert three.arm_counts() == {"none": 0, "placebo": 4, "active": 8}
    assert COMPLETE.arm_counts() == {"active": 3, "placebo": 2, "none": 0}
    partial = Scheme(kind="complete", arms=("active", "placebo", "none"), counts=(("active", 2),))
    assert partial.arm_counts() == {"active": 2, "placebo": 0, "none": 0}


@pytest.mark.parametrize(
    ("allocation", "expected"),
    [
        (("active", "placebo", "placebo", "active", "active", "placebo"), True),
        (("placebo", "active", "placebo", "active", "placebo", "active"), True),
        # wrong length
        (("active", "placebo", "placebo", "active"), False),
        (("active", "placebo", "placebo", "active", "active", "placebo", "active"), False),
        # right totals, but block 0 holds two actives
        (("active", "active", "placebo", "placebo", "active", "placebo"), False),
        # an arm the block does not hold
        (("active", "none", "placebo", "active", "active", "placebo"), False),
    ],
)
def test_satisfies_blocks(allocation: tuple[str, ...], expected: bool) -> None:
    assert AB_BLOCKS.satisfies(allocation) is expected


def test_satisfies_complete_ignores_zero_counts() -> None:
    assert COMPLETE.satisfies(("active", "placebo", "active", "placebo", "active"))
    assert not COMPLETE.satisfies(("active", "placebo", "active", "placebo", "placebo"))
    assert not COMPLETE.satisfies(("active", "placebo", "active", "placebo", "none"))


def test_max_run_applies_across_block_boundaries() -> None:
    # docs/design.md#randomization: max_run applies across block boundaries.
    s = Scheme(
        kind="blocks",
        arms=("active", "placebo"),
        block=("active", "placebo"),
        n_blocks=2,
        max_run=1,
    )
    assert s.satisfies(("active", "placebo", "active", "placebo"))
    assert not s.satisfies(("active", "placebo", "placebo", "active"))
    assert s.satisfies(("placebo", "active", "placebo", "active"))
    assert not s.satisfies(("placebo", "active", "active", "placebo"))


SMALL_SCHEMES = [
    Scheme(kind="blocks", arms=("a", "b", "c"), block=("a", "b", "c"), n_blocks=2),
    Scheme(kind="blocks", arms=("a", "b"), block=("a", "a", "b"), n_blocks=2, max_run=2),
    Scheme(kind="complete", arms=("a", "b", "c"), counts=(("a", 2), ("b", 2), ("c", 1))),
    Scheme(kind="complete", arms=("a", "b"), counts=(("a", 3), ("b", 3)), max_run=2),
    Scheme(kind="blocks", arms=("a", "b"), block=("a", "b"), n_blocks=4, max_run=1),
]


@pytest.mark.parametrize("s", SMALL_SCHEMES, ids=lambda s: f"{s.kind}-{s.max_run}")
def test_satisfies_matches_enumeration_exhaustively(s: Scheme) -> None:
    # Every sequence over the arms of the right length: in the set iff satisfies().
    support = ref_allocations(s)
    for seq in itertools.product(s.arms, repeat=s.n_periods):
        assert s.satisfies(seq) is (seq in support), seq


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        ((), 0),
        (("a",), 1),
        (("a", "b"), 1),
        (("a", "a", "b"), 2),
        (("a", "b", "b", "b", "a", "a"), 3),
        (["b", "b", "b", "b"], 4),
    ],
)
def test_longest_run_examples(seq: tuple[str, ...], expected: int) -> None:
    assert longest_run(seq) == expected


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=30))
def test_longest_run_matches_groupby(seq: list[str]) -> None:
    assert longest_run(seq) == ref_longest_run(tuple(seq))


# -- JSON round trip ----------------------------------------------------------------------

ARM_NAMES = st.sampled_from(["active", "placebo", "none", "low", "high"])


@st.composite
def schemes(draw: st.DrawFn) -> Scheme:
    arms = tuple(draw(st.lists(ARM_NAMES, min_size=2, max_size=5, unique=True)))
    max_run = draw(st.none() | st.integers(1, 10))
    if draw(st.booleans()):
        block = tuple(draw(st.lists(st.sampled_from(arms), min_size=2, max_size=5)))
        return Scheme(
            kind="blocks",
            arms=arms,
            block=block,
            n_blocks=draw(st.integers(1, 50)),
            max_run=max_run,
        )
    counts = tuple((a, draw(st.integers(0, 30))) for a in arms)
    return Scheme(kind="complete", arms=arms, counts=counts, max_run=max_run)


@given(schemes())
def test_json_round_trip(s: Scheme) -> None:
    # through real JSON text, as the seal stores it
    back = Scheme.from_json(json.loads(json.dumps(s.to_json())))
    assert back == s


def test_to_json_shape() -> None:
    assert COMPLETE.to_json() == {
        "kind": "complete",
        "arms": ["active", "placebo", "none"],
        "block": [],
        "n_blocks": 1,
        "counts": {"active": 3, "placebo": 2, "none": 0},
        "max_run": None,
    }


def test_from_json_refuses_unknown_kind() -> None:
    data = AB_BLOCKS.to_json() | {"kind": "latin-square"}
    with pytest.raises(ProtocolError, match="unknown randomization scheme 'latin-square'"):
        Scheme.from_json(data)


# -- draws: membership and uniformity ----------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    kind=st.sampled_from(["blocks", "complete"]),
    sizes=st.lists(st.integers(0, 3), min_size=2, max_size=3),
    n_blocks=st.integers(1, 3),
    max_run=st.none() | st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_draw_always_satisfies(
    kind: str, sizes: list[int], n_blocks: int, max_run: int | None, seed: int
) -> None:
    arms = ("a", "b", "c")[: len(sizes)]
    if kind == "blocks":
        block = tuple(a for a, k in zip(arms, sizes, strict=False) for _ in range(k))
        assume(len(block) >= 2 and len(block) * n_blocks <= 8)
        s = Scheme(kind="blocks", arms=arms, block=block, n_blocks=n_blocks, max_run=max_run)
    else:
        counts = tuple(zip(arms, sizes, strict=False))
        assume(2 <= sum(sizes) <= 8)
        s = Scheme(kind="complete", arms=arms, counts=counts, max_run=max_run)
    support = ref_allocations(s)
    total = len(ref_allocations(s._replace(max_run=None)))
    # keep rejection sampling quick: at least 1 % of the unconstrained set is allowed
    assume(len(support) * 100 >= total)
    src = source(seed)
    for _ in range(5):
        drawn = draw_allocation(s, src)
        assert isinstance(drawn, tuple)
        assert s.satisfies(drawn)
        assert drawn in support


@pytest.mark.parametrize(
    ("s", "n_support"),
    [
        # 3!^2 = 36 orders of two blocks of three distinct arms
        (Scheme(kind="blocks", arms=("a", "b", "c"), block=("a", "b", "c"), n_blocks=2), 36),
        # a repeated arm: 3 distinct orders of (a, a, b) per block, 3^2 = 9
        (Scheme(kind="blocks", arms=("a", "b"), block=("a", "a", "b"), n_blocks=2), 9),
        # multinomial 5! / (2! 2! 1!) = 30
        (
            Scheme(kind="complete", arms=("a", "b", "c"), counts=(("a", 2), ("b", 2), ("c", 1))),
            30,
        ),
        # 6^3 = 216 orders of three abc blocks; with no repeats across a block boundary
        # each later block must not start with the previous block's last arm: 6 * 4 * 4
        (
            Scheme(
                kind="blocks", arms=("a", "b", "c"), block=("a", "b", "c"), n_blocks=3, max_run=1
            ),
            96,
        ),
        # C(7, 3) = 35 orders of aaaabbb; runs <= 2 leave 18 (see the hand count below)
        (
            Scheme(kind="complete", arms=("a", "b"), counts=(("a", 4), ("b", 3)), max_run=2),
            18,
        ),
    ],
    ids=["blocks", "blocks-repeat", "complete", "blocks-max_run", "complete-max_run"],
)
def test_draw_is_uniform(s: Scheme, n_support: int) -> None:
    p, support = uniformity_p(s, per_cell=100, src=source(20240601))
    assert len(support) == n_support
    # every allocation of the set is reachable and none is favoured
    assert p > 1e-3, p


def test_hand_count_complete_max_run() -> None:
    # aaaabbb with no run longer than 2, counted by hand from the run structure:
    # a-runs (2,2) | (1,1,2) (1,2,1) (2,1,1) | (1,1,1,1); b-runs (1,2) (2,1) | (1,1,1);
    # runs alternate, so 5 + 12 + 1 = 18 sequences:
    expected = {
        # two a-runs
        "aabaabb", "aabbaab", "baabbaa", "bbaabaa", "baabaab",
        # three a-runs, two b-runs
        "ababbaa", "abbabaa", "abaabba", "abbaaba", "aababba", "aabbaba",
        # three a-runs, three b-runs
        "ababaab", "abaabab", "aababab", "bababaa", "babaaba", "baababa",
        # four a-runs
        "abababa",
    }  # fmt: skip
    s = Scheme(kind="complete", arms=("a", "b"), counts=(("a", 4), ("b", 3)), max_run=2)
    assert {"".join(x) for x in ref_allocations(s)} == expected


class _BiasedSource:
    """randbelow(n) from n + 1 equally likely values folded mod n: 0 is favoured."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.default_rng(seed)

    def randbelow(self, n: int) -> int:
        return int(self._gen.integers(0, n + 1)) % n

    def token_bytes(self, n: int) -> bytes:
        return bytes(self._gen.bytes(n))


def test_uniformity_check_detects_a_biased_source() -> None:
    # The same chi-square check must fail for a sampler that is not uniform, or the
    # uniformity test above could not fail either.
    s = Scheme(kind="blocks", arms=("a", "b", "c"), block=("a", "b", "c"), n_blocks=2)
    p, _ = uniformity_p(s, per_cell=150, src=_BiasedSource(1))
    assert p < 1e-6


def test_draw_depends_only_on_the_source() -> None:
    s = Scheme(kind="complete", arms=("a", "b"), counts=(("a", 10), ("b", 10)), max_run=3)
    first = [draw_allocation(s, source(7)) for _ in range(3)]
    again = [draw_allocation(s, source(7)) for _ in range(3)]
    assert first == again
    assert draw_allocation(s, source(7)) != draw_allocation(s, source(8))


def test_impossible_max_run_is_a_protocol_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # aaab cannot avoid a run of two a's; fewer tries keep the test fast.
    monkeypatch.setattr(scheme_module, "MAX_REJECTIONS", 500)
    s = Scheme(kind="complete", arms=("a", "b"), counts=(("a", 3), ("b", 1)), max_run=1)
    assert ref_allocations(s) == set()
    with pytest.raises(ProtocolError) as info:
        draw_allocation(s, source(3))
    assert str(info.value) == (
        "design.max_run = 1 is too tight for this design: no allocation found; "
        "raise max_run or remove it"
    )


def test_impossible_max_run_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each block (a, a, b) has a run of two a's unless b sits in the middle, and then
    # the next block starts or the previous ends next to an a: max_run = 1 is impossible.
    monkeypatch.setattr(scheme_module, "MAX_REJECTIONS", 500)
    s = Scheme(kind="blocks", arms=("a", "b"), block=("a", "a", "b"), n_blocks=2, max_run=1)
    assert ref_allocations(s) == set()
    with pytest.raises(ProtocolError, match="too tight"):
        draw_allocation(s, source(4))
