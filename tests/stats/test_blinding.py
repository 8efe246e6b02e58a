"""Blinding indices against R package BI 1.2.0 (tests/reference/blinding_bi.R / .Rout)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from blindself.analysis.stats.blinding import (
    bang_index,
    brier_score,
    correct_rate_by_week,
    guess_table,
    james_index,
)
from blindself.errors import DataError

ARMS = ["active", "placebo"]


def table(rows: list[list[int]]) -> dict[str, dict[str, int]]:
    """Rows guess active / placebo / unsure, columns actual active / placebo (BI's layout)."""
    return {
        g: {"active": r[0], "placebo": r[1]}
        for g, r in zip(["active", "placebo", "unsure"], rows, strict=True)
    }


# Each case: R input matrix (byrow), then BI(x) James estimate/SE/LCL/UCL (2-sided) and
# Bang estimate/SE per arm with the 1-sided limits of BI(x, alternative.B = "greater")
# (LCL) and "less" (UCL); all copied from tests/reference/blinding_bi.Rout.
CASES = {
    # CRISP, Bang et al. 2004 table 7: matrix(c(82, 27, 25, 29, 170, 83), 3, byrow = TRUE)
    "crisp": (
        [[82, 27], [25, 29], [170, 83]],
        (0.7479275375, 0.02173739813, 0.70532302, 0.7905320549),
        {
            "active": (0.20577617329, 0.03523709047, 0.14781631722, 0.2637360294),
            "placebo": (0.01438848921, 0.05382296247, -0.07414240583, 0.1029193842),
        },
    ),
    # Houweling et al. 2014 table 2, investigators
    "houweling_investigators": (
        [[48, 22], [4, 30], [330, 319]],
        (0.8964143426, 0.01091757701, 0.8750162849, 0.9178124004),
        {
            "active": (0.11518324607, 0.01793374034, 0.08568486823, 0.14468162392),
            "placebo": (0.02156334232, 0.01940466691, -0.01035449443, 0.05348117907),
        },
    ),
    # Houweling et al. 2014 table 2, research coordinators
    "houweling_coordinators": (
        [[94, 52], [11, 44], [289, 284]],
        (0.8233895957, 0.01328663061, 0.7973482782, 0.8494309132),
        {
            "active": (0.21065989848, 0.02374354676, 0.17160523947, 0.2497145575),
            "placebo": (-0.02105263158, 0.02576147499, -0.06342648716, 0.0213212240),
        },
    ),
    # Houweling et al. 2014 table 2, patients
    "houweling_patients": (
        [[143, 104], [14, 57], [188, 175]],
        (0.7051162892, 0.01594075041, 0.6738729925, 0.7363595859),
        {
            "active": (0.3739130435, 0.03022914899, 0.3241905181, 0.42363556883),
            "placebo": (-0.1398809524, 0.03698455219, -0.2007151272, -0.07904677757),
        },
    ),
    # self-experiment sized tables (made up for the test, run through BI())
    "self_unblinded": (
        [[8, 1], [1, 7], [1, 2]],
        (0.2503472222, 0.09695424026, 0.06032040316, 0.4403740413),
        {
            "active": (0.7, 0.2024845673, 0.3669425251, 1.0330574749),
            "placebo": (0.6, 0.2097617696, 0.2549725924, 0.9450274076),
        },
    ),
    "self_opposite": (
        [[2, 6], [5, 1], [3, 3]],
        (0.85, 0.0790868991, 0.6949925261, 1.005007474),
        {
            "active": (-0.3, 0.2469817807, -0.7062488778, 0.1062488778),
            "placebo": (-0.5, 0.2121320344, -0.8489261461, -0.1510738539),
        },
    ),
    "self_no_unsure": (
        [[6, 4], [4, 6], [0, 0]],
        (0.4, 0.1095445115, 0.1852967028, 0.6147032972),
        {
            "active": (0.2, 0.3098386677, -0.3096392563, 0.7096392563),
            "placebo": (0.2, 0.3098386677, -0.3096392563, 0.7096392563),
        },
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_james_matches_r_bi_package(name: str) -> None:
    rows, (est, se, lcl, ucl), _ = CASES[name]
    r = james_index(table(rows), ARMS)
    assert r.bi == pytest.approx(est, abs=1e-9)
    assert r.se == pytest.approx(se, abs=1e-10)
    assert r.ci95 == pytest.approx((lcl, ucl), abs=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bang_matches_r_bi_package(name: str) -> None:
    rows, _, expected = CASES[name]
    result = bang_index(table(rows), ARMS)
    for arm, (est, se, lower, upper) in expected.items():
        r = result[arm]
        assert r.bi == pytest.approx(est, abs=1e-10)
        assert r.se == pytest.approx(se, abs=1e-10)
        # the limit on the side of zero: BI's "greater" LCL for bi >= 0, "less" UCL otherwise
        assert r.limit95 == pytest.approx(lower if est >= 0 else upper, abs=1e-9)


def test_brief_validation_digits() -> None:
    # The figures quoted in the project brief (BI help page, CRISP and Houweling examples)
    crisp = table([[82, 27], [25, 29], [170, 83]])
    b = bang_index(crisp, ARMS)
    assert (round(b["active"].bi, 6), round(b["active"].se, 6)) == (0.205776, 0.035237)
    assert (round(b["placebo"].bi, 6), round(b["placebo"].se, 6)) == (0.014388, 0.053823)
    j = james_index(crisp, ARMS)
    assert (round(j.bi, 6), round(j.se, 6)) == (0.747928, 0.021737)
    assert (round(j.ci95[0], 6), round(j.ci95[1], 6)) == (0.705323, 0.790532)
    hw = table([[48, 22], [4, 30], [330, 319]])
    assert round(james_index(hw, ARMS).bi, 6) == 0.896414
    bh = bang_index(hw, ARMS)
    assert (round(bh["active"].bi, 6), round(bh["placebo"].bi, 6)) == (0.115183, 0.021563)


def test_all_unsure_edge_case() -> None:
    # BI(matrix(c(0, 0, 0, 0, 5, 5), 3, byrow = TRUE)): James 1 (SE 0), Bang NaN
    t = table([[0, 0], [0, 0], [5, 5]])
    j = james_index(t, ARMS)
    assert (j.bi, j.se, j.ci95) == (1.0, 0.0, (1.0, 1.0))
    assert all(math.isnan(r.bi) for r in bang_index(t, ARMS).values())


def test_undefined_james_is_nan() -> None:
    # unsure answers in one arm only and no definite guess: no kappa can be formed
    j = james_index(table([[0, 0], [0, 0], [3, 0]]), ARMS)
    assert math.isnan(j.bi) and math.isnan(j.se)


def test_bang_swapping_arm_order_swaps_roles() -> None:
    # guessing the placebo right is "correct" for the placebo arm whichever comes first
    t = table([[8, 1], [1, 7], [1, 2]])
    forward = bang_index(t, ["active", "placebo"])
    backward = bang_index(t, ["placebo", "active"])
    assert forward == backward


def test_guess_table_counts() -> None:
    actual = ["active", "placebo", "active", "placebo", "active"]
    guess = ["active", "active", "unsure", "placebo", "active"]
    assert guess_table(actual, guess, ARMS) == {
        "active": {"active": 2, "placebo": 1},
        "placebo": {"active": 0, "placebo": 1},
        "unsure": {"active": 1, "placebo": 0},
    }


def test_guess_table_with_three_arms_is_4x3() -> None:
    t = guess_table(["a", "b", "p"], ["b", "unsure", "p"], ["a", "b", "p"])
    assert list(t) == ["a", "b", "p", "unsure"]
    assert all(list(row) == ["a", "b", "p"] for row in t.values())
    assert sum(sum(row.values()) for row in t.values()) == 3


@pytest.mark.parametrize(
    ("actual", "guess", "arms", "message"),
    [
        (["x"], ["active"], ARMS, "unknown arm 'x'"),
        (["active"], ["maybe"], ARMS, "unknown guess 'maybe'"),
        (["unsure"], ["unsure"], ["unsure", "placebo"], "no arm may be named"),
    ],
)
def test_guess_table_rejects_bad_labels(
    actual: list[str], guess: list[str], arms: list[str], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        guess_table(actual, guess, arms)


def test_bang_needs_two_arms() -> None:
    t = guess_table(["a"], ["a"], ["a", "b", "p"])
    with pytest.raises(ValueError, match="exactly two arms"):
        bang_index(t, ["a", "b", "p"])


def test_brier_score_by_hand() -> None:
    # (0.9-1)^2 + (0.6-0)^2 + (0.5-1)^2 + (1-1)^2 = 0.01 + 0.36 + 0.25 + 0 = 0.62; / 4
    assert brier_score([True, False, True, True], [0.9, 0.6, 0.5, 1.0]) == pytest.approx(0.155)


def test_brier_score_of_coin_flipper_is_quarter() -> None:
    assert brier_score([True, False, False], [0.5, 0.5, 0.5]) == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [0.4, 1.2, math.nan])
def test_brier_score_rejects_confidence_outside_range(bad: float) -> None:
    with pytest.raises(DataError, match=r"between 0\.5 and 1"):
        brier_score([True, False], [0.7, bad])


def test_correct_rate_by_week() -> None:
    weeks = [1, 1, 1, 2, 2, 3, 3]
    correct = [True, True, None, False, True, None, None]
    assert correct_rate_by_week(weeks, correct) == [
        {"week": 1, "n": 2, "correct": 2, "rate": 1.0, "unsure": 1},
        {"week": 2, "n": 2, "correct": 1, "rate": 0.5, "unsure": 0},
        {"week": 3, "n": 0, "correct": 0, "rate": None, "unsure": 2},
    ]


def test_bang_se_matches_multinomial_simulation() -> None:
    # independent check of the variance formula: the empirical SD of the index over
    # multinomial draws (numpy, fixed seed) agrees with the analytic SE
    import numpy as np

    rng = np.random.default_rng(7)
    probs = [0.3, 0.1, 0.6]  # correct, incorrect, unsure
    n = 200
    draws = rng.multinomial(n, probs, size=40_000)
    sims = (draws[:, 0] - draws[:, 1]) / n
    t = table([[60, 0], [20, 0], [120, 0]])
    r = bang_index(t, ARMS)["active"]
    # relative precision of an SD from 40,000 draws is about 1/sqrt(2 * 40,000) = 0.35 %
    assert float(np.std(sims)) == pytest.approx(r.se, rel=0.015)
    assert stats.norm.ppf(0.95) == pytest.approx((r.bi - r.limit95) / r.se)


def test_james_negative_variance_gives_nan_not_a_crash() -> None:
    # Every definite guess names the first arm (2 right, 1 wrong): the delta-method variance
    # comes out negative; sqrt of it crashed the whole analysis.
    # BI() takes sqrt of the negative too, which R returns as NaN (with a warning).
    j = james_index(table([[2, 1], [0, 0], [0, 0]]), ARMS)
    assert j.bi == pytest.approx(0.5)  # kappa 0: P_o = P_e = 1/6
    assert math.isnan(j.se) and all(math.isnan(x) for x in j.ci95)
