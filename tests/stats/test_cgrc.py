"""Correct Guess Rate Curve: exact enumeration, simulation, and the Szigeti et al. reanalysis.

References: the all_prop stratum sizes of Szigeti's CorrectGuessRateCurve (MIT),
``get_strata_sample_sizes``, worked by hand below; the closed-form expectation against
exact enumeration of every pseudo-trial; the trial's own estimate against the OLS of
:mod:`blindself.analysis.stats.regression` (itself checked against R's ``lm``).
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindself.analysis.stats import regression
from blindself.analysis.stats.cgrc import MIN_STRATUM, correct_guess_rate_curve
from blindself.analysis.stats.guess_strata import (
    STRATA,
    expected_contrast,
    pseudo_trial_sizes,
    pseudo_trials,
    strata_of,
)

DATA = Path(__file__).parent.parent / "data" / "szigeti2021-acutes.csv"


# --- the all_prop rule and the closed form ------------------------------------------------


def test_sizes_follow_all_prop_by_hand() -> None:
    # Szigeti PANAS strata (aa, ap, pp, pa) = 167, 172, 383, 125; N = 847, c = 0.5:
    # correct = round(423.5) = 424 (half to even), k_aa = round(424 * 167 / 550) =
    # round(128.74) = 129, k_pp = 295; incorrect = 423, k_ap = round(423 * 172 / 297) =
    # round(244.97) = 245, k_pa = 178.
    assert pseudo_trial_sizes([167, 172, 383, 125], 0.5).tolist() == [129, 245, 295, 178]
    # c = 0: only the incorrect strata, k_ap = round(847 * 172 / 297) = round(490.52);
    # c = 1: only the correct ones, k_aa = round(847 * 167 / 550) = round(257.17)
    assert pseudo_trial_sizes([167, 172, 383, 125], 0.0).tolist() == [0, 491, 0, 356]
    assert pseudo_trial_sizes([167, 172, 383, 125], 1.0).tolist() == [257, 0, 590, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=4, max_size=4))
def test_sizes_at_the_observed_rate_are_the_observed_strata(counts: list[int]) -> None:
    observed = (counts[0] + counts[2]) / sum(counts)
    assert pseudo_trial_sizes(counts, observed).tolist() == counts


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=4, max_size=4),
    st.floats(0.0, 1.0),
)
def test_sizes_keep_the_trial_size_and_the_rate(counts: list[int], c: float) -> None:
    k = pseudo_trial_sizes(counts, c)
    assert k.sum() == sum(counts)
    assert k[0] + k[2] == round(c * sum(counts))
    assert (k >= 0).all()


def test_closed_form_equals_exact_enumeration_of_every_pseudo_trial() -> None:
    # Tiny strata; empirical pseudo-trials draw k_s values with replacement from n_s, so the
    # n_s ** k_s equally likely draws of each stratum can all be listed.
    strata_values = [[5.0, 9.0], [2.0], [1.0, 4.0, 0.0], [3.0, 7.0]]
    counts = [len(v) for v in strata_values]
    c = 0.5
    k = pseudo_trial_sizes(counts, c).tolist()  # N = 8: correct 4 -> (2, 2), wrong 4 -> (1, 3)
    assert k == [2, 1, 2, 3]
    per_stratum = [
        list(itertools.product(v, repeat=n)) for v, n in zip(strata_values, k, strict=True)
    ]
    total, count = 0.0, 0
    for draw in itertools.product(*per_stratum):
        act = (sum(draw[0]) + sum(draw[1])) / (k[0] + k[1])
        pla = (sum(draw[2]) + sum(draw[3])) / (k[2] + k[3])
        total += act - pla
        count += 1
    means = [sum(v) / len(v) for v in strata_values]
    assert count == 2**2 * 1 * 3**2 * 2**3
    assert float(expected_contrast(means, k)) == pytest.approx(total / count, abs=1e-12)


@pytest.mark.parametrize("smoothing", ["kde", "empirical"])
@pytest.mark.parametrize("c", [0.0, 0.3, 0.5, 0.9])
def test_closed_form_equals_the_mean_of_many_pseudo_trials(smoothing: str, c: float) -> None:
    rng = np.random.default_rng(7)
    y, act, guess, _ = _trial(rng, periods=10, days=5, p_correct=0.7, beta=1.5, delta=0.4)
    s = strata_of(act, guess)
    counts = np.bincount(s[s >= 0], minlength=4)
    means = [y[s == i].mean() for i in range(4)]
    expected = float(expected_contrast(means, pseudo_trial_sizes(counts, c)))
    draws = pseudo_trials(y, s, c, draws=20000, rng=rng, smoothing=smoothing)
    mc_se = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(draws.mean() - expected) < 4 * mc_se


def test_curve_at_the_observed_rate_is_the_trials_own_estimate() -> None:
    rng = np.random.default_rng(11)
    y, act, guess, period = _trial(rng, periods=12, days=5, p_correct=0.75, beta=1.0, delta=0.3)
    guess[rng.random(guess.size) < 0.1] = np.nan  # some "unsure", left out of both
    r = correct_guess_rate_curve(y, act, guess, rng=rng, cluster=period, draws=200)
    sure = ~np.isnan(guess)
    own = regression.classical(y[sure], act[sure].astype(float))
    observed = next(p for p in r.curve if p.cgr == r.observed_cgr)
    assert observed.estimate == pytest.approx(own.estimate, abs=1e-12)
    assert r.unsure == int((~sure).sum())
    assert sum(r.strata) == int(sure.sum())


def test_bootstrap_interval_matches_welch_for_independent_observations() -> None:
    # No clusters: each observation is resampled within its arm, so at the observed rate the
    # standard error is the two-sample (Welch) one of the difference of means.
    rng = np.random.default_rng(3)
    n = 400
    act = np.repeat([1, 0], n // 2)
    guess = np.where(rng.random(n) < 0.6, act, 1 - act).astype(float)
    y = 0.5 * act + rng.normal(0, 1 + act, n)
    r = correct_guess_rate_curve(y, act, guess, rng=rng, draws=4000, target=r_obs(act, guess))
    a, p = y[act == 1], y[act == 0]
    welch = math.sqrt(a.var(ddof=1) / a.size + p.var(ddof=1) / p.size)
    assert r.se == pytest.approx(welch, rel=0.06)


def r_obs(act: np.ndarray, guess: np.ndarray) -> float:
    return float(np.mean(act == guess))


# --- simulation: activated expectancy, real effect, both ----------------------------------


def _trial(
    rng: np.random.Generator,
    *,
    periods: int,
    days: int,
    p_correct: float,
    beta: float,
    delta: float,
    tau: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One person's trial: ``periods`` per arm in random order, ``days`` rated dose days each.

    Each day's guess names the right arm with probability ``p_correct``; the outcome is
    ``delta * active + beta * guessed_active`` plus a period effect (sd ``tau``) and daily
    noise (sd 1): ``beta`` is activated expectancy, ``delta`` the drug.
    """
    arm = rng.permutation(np.repeat([1, 0], periods))
    act = np.repeat(arm, days)
    guess = np.where(rng.random(act.size) < p_correct, act, 1 - act).astype(float)
    period = np.repeat(np.arange(arm.size), days)
    noise = np.repeat(rng.normal(0, tau, arm.size), days) + rng.normal(0, 1, act.size)
    return delta * act + beta * guess + noise, act, guess, period


def _simulate(seed: int, runs: int, **world: float) -> tuple[float, float, float, float, float]:
    """(naive mean, naive share with p < 0.05, corrected mean, coverage of delta, defined)."""
    rng = np.random.default_rng(seed)
    naive, naive_sig, corrected, covered = [], 0, [], 0
    for _ in range(runs):
        y, act, guess, period = _trial(rng, periods=20, days=5, **world)  # type: ignore[arg-type]
        own = regression.classical(y, act.astype(float))
        naive.append(own.estimate)
        naive_sig += own.p < 0.05
        r = correct_guess_rate_curve(y, act, guess, rng=rng, cluster=period, draws=400, grid=(0.5,))
        if r.ci95 is None:
            continue
        corrected.append(r.estimate)
        covered += r.ci95[0] <= world["delta"] <= r.ci95[1]
    n = len(corrected)
    return (
        float(np.mean(naive)),
        naive_sig / runs,
        float(np.mean(corrected)),
        covered / n,
        n / runs,
    )


RUNS = 200


@pytest.mark.slow
def test_a_activated_expectancy_without_drug_effect() -> None:
    naive, naive_sig, corrected, coverage, defined = _simulate(
        1, RUNS, p_correct=0.8, beta=1.0, delta=0.0
    )
    # expected naive difference: beta * (0.8 - 0.2) = 0.6, significant nearly always
    assert naive == pytest.approx(0.6, abs=0.05)
    assert naive_sig > 0.8
    # corrected: near zero, interval covering zero at close to the nominal rate
    assert abs(corrected) < 0.06
    assert coverage >= 0.91  # 0.95 - 3 binomial SEs at 200 runs
    assert defined == 1.0


@pytest.mark.slow
def test_b_real_effect_with_guesses_independent_of_the_arm() -> None:
    naive, _, corrected, coverage, _ = _simulate(2, RUNS, p_correct=0.5, beta=0.0, delta=0.5)
    assert naive == pytest.approx(0.5, abs=0.05)
    assert corrected == pytest.approx(naive, abs=0.05)
    assert coverage >= 0.91


@pytest.mark.slow
def test_c_drug_effect_and_activated_expectancy() -> None:
    naive, _, corrected, coverage, _ = _simulate(3, RUNS, p_correct=0.8, beta=1.0, delta=0.5)
    assert naive == pytest.approx(0.5 + 0.6, abs=0.05)  # inflated by expectancy
    assert corrected == pytest.approx(0.5, abs=0.06)  # the drug effect recovered
    assert coverage >= 0.91


@pytest.mark.slow
def test_threshold_and_method_by_simulation() -> None:
    # One guess per period (the strata are whole periods), strong period effects (sd 1),
    # 12 periods per arm, 75 % right: the wrong-guess strata hold about 0-6 periods.  The t
    # interval of the cluster bootstrap keeps its coverage from MIN_STRATUM periods per
    # stratum up; the paper's spread of pseudo-trials (mean +- 1.96 sd) does not, because
    # it ignores how uncertain the up-weighted small strata are.  Longer runs of this
    # world (tests/stats/test_cgrc.py helpers, 2250 trials) gave coverage 0.921 at 1
    # period in the smallest stratum, 0.939 at 2, 0.944 at 3, 0.957 at 4, 0.95-0.97 above.
    rng = np.random.default_rng(15)
    ours, paper, small = [], [], 0
    for _ in range(400):
        arm = rng.permutation(np.repeat([1, 0], 12))
        guess_p = np.where(rng.random(24) < 0.75, arm, 1 - arm)
        act, guess = np.repeat(arm, 5), np.repeat(guess_p, 5).astype(float)
        period = np.repeat(np.arange(24), 5)
        y = 0.5 * act + guess + np.repeat(rng.normal(0, 1, 24), 5) + rng.normal(0, 1, 120)
        r = correct_guess_rate_curve(y, act, guess, rng=rng, cluster=period, draws=400)
        if r.ci95 is None or r.estimate is None:
            continue
        if r.small_strata:
            small += 1
            continue
        ours.append(r.ci95[0] <= 0.5 <= r.ci95[1])
        spread = pseudo_trials(y, strata_of(act, guess), 0.5, draws=200, rng=rng).std()
        paper.append(abs(r.estimate - 0.5) <= 1.96 * spread)
    # measured: 138 trials at or above the threshold, coverage 0.935 (ours) vs 0.703
    assert len(ours) > 120 and small > 100
    assert np.mean(ours) >= 0.92
    assert np.mean(paper) < 0.85


# --- edges --------------------------------------------------------------------------------


def test_an_empty_stratum_gives_a_reason_not_a_number() -> None:
    act = np.repeat([1, 0], 20)
    guess = act.astype(float)  # always right: no incorrect strata at all
    y = np.arange(40.0)
    r = correct_guess_rate_curve(y, act, guess, rng=np.random.default_rng(0), draws=50)
    assert r.estimate is None and r.ci95 is None and r.p is None
    assert r.reason == ("no observation active guessed placebo, placebo guessed active")
    assert all(p.estimate is None for p in r.curve)
    assert r.observed_cgr == 1.0


def test_only_unsure_guesses() -> None:
    r = correct_guess_rate_curve(
        [1.0, 2.0], [1, 0], [math.nan, math.nan], rng=np.random.default_rng(0), draws=10
    )
    assert r.reason == "no observation with a definite guess"
    assert r.unsure == 2 and r.observed_cgr is None and r.estimate is None


def test_one_period_per_arm_has_an_estimate_but_no_interval() -> None:
    act = np.repeat([1, 0], 4)
    guess = np.array([1, 0, 1, 0, 0, 1, 0, 1], dtype=float)
    y = np.arange(8.0)
    r = correct_guess_rate_curve(
        y, act, guess, rng=np.random.default_rng(0), cluster=np.repeat([0, 1], 4), draws=50
    )
    assert r.estimate is not None and r.ci95 is None
    assert r.reason == "too few resampling units for an interval"
    assert r.small_strata


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 1.5}, "target"),
        ({"draws": 1}, "draws"),
        ({"cluster": [1, 2]}, "cluster"),
        ({"guessed_active": [1, 0, 2]}, "guessed_active"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"guessed_active": [1, 0, 0], **kwargs}
    with pytest.raises(ValueError, match=message):
        correct_guess_rate_curve(
            [1.0, 2.0, 3.0],
            [1, 0, 1],
            rng=np.random.default_rng(0),
            **args,  # type: ignore[arg-type]
        )


def test_json_object_has_the_documented_fields() -> None:
    rng = np.random.default_rng(5)
    y, act, guess, period = _trial(rng, periods=8, days=4, p_correct=0.7, beta=1.0, delta=0.0)
    j = correct_guess_rate_curve(y, act, guess, rng=rng, cluster=period, draws=100).to_json()
    assert set(j) >= {
        "observed_cgr", "target_cgr", "estimate", "ci95", "p", "curve", "strata", "draws",
        "method", "unsure", "small_strata", "reason",
    }  # fmt: skip
    assert list(j["strata"]) == list(STRATA)
    rates = [p["cgr"] for p in j["curve"]]
    assert rates == sorted(rates) and {0.0, 0.5, 1.0, j["observed_cgr"]} <= set(rates)
    assert j["small_strata"] == (min(j["strata_units"].values()) < MIN_STRATUM)


# --- the published reanalysis -------------------------------------------------------------

# Szigeti et al. 2021 (tests/data/szigeti2021-acutes.csv, acute rows tp = wN s1), per
# measure the microdose - placebo difference of means and the CGRC value at 50 % correct
# guesses, participants resampled (2000 draws, seed 2023).  Szigeti et al. 2023 report
# that the naive acute differences shrink towards zero once the correct-guess rate is set
# to 50 %; 2021 Table 2 (guess as a covariate) shrinks PANAS 2.2 -> 0.9, mood 4.6 -> 1.5,
# intensity 12.5 -> 3.4 likewise.  The values (naive, corrected at 50 %) are also worked
# out by plain Python in the test (strata means, all_prop sizes with round()).
REANALYSIS = {
    "PANAS": (1.875, 0.316),
    "mood": (4.048, 0.392),
    "energy": (5.239, 2.036),
    "creativity": (4.732, 1.459),
    "intensity": (12.901, 2.365),
}


def _szigeti(measure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with DATA.open() as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["test_name"] == measure and r["tp"].endswith("s1") and r["value"] != "NA"
        ]
    y = np.array([float(r["value"]) for r in rows])
    act = np.array([r["condition"] == "MD" for r in rows], dtype=int)
    guess = np.array([{"MD": 1.0, "PL": 0.0}.get(r["guess"], math.nan) for r in rows])
    return y, act, guess, np.array([r["trial_id"] for r in rows])


def _by_hand(y: list[float], act: list[int], guess: list[float]) -> float:
    """The CGRC expectation at 50 %, written out without numpy."""
    key = {(1, 1.0): "aa", (1, 0.0): "ap", (0, 0.0): "pp", (0, 1.0): "pa"}
    groups: dict[str, list[float]] = {"aa": [], "ap": [], "pp": [], "pa": []}
    for v, a, g in zip(y, act, guess, strict=True):
        if g == g:  # not NaN (unsure)
            groups[key[(a, g)]].append(v)
    n = {k: len(v) for k, v in groups.items()}
    m = {k: sum(v) / len(v) for k, v in groups.items()}
    total = sum(n.values())
    correct = round(0.5 * total)
    k_aa = round(correct * n["aa"] / (n["aa"] + n["pp"]))
    k_ap = round((total - correct) * n["ap"] / (n["ap"] + n["pa"]))
    k_pp, k_pa = correct - k_aa, total - correct - k_ap
    active = (k_aa * m["aa"] + k_ap * m["ap"]) / (k_aa + k_ap)
    placebo = (k_pp * m["pp"] + k_pa * m["pa"]) / (k_pp + k_pa)
    return active - placebo


@pytest.mark.parametrize("measure", sorted(REANALYSIS))
def test_szigeti_reanalysis_shrinks_the_acute_differences(measure: str) -> None:
    y, act, guess, person = _szigeti(measure)
    r = correct_guess_rate_curve(
        y, act, guess, rng=np.random.default_rng(2023), cluster=person, draws=2000
    )
    naive = y[act == 1].mean() - y[act == 0].mean()
    want_naive, want_corrected = REANALYSIS[measure]
    assert naive == pytest.approx(want_naive, abs=5e-4)
    assert _by_hand(y.tolist(), act.tolist(), guess.tolist()) == pytest.approx(
        want_corrected, abs=5e-4
    )
    observed = next(p for p in r.curve if p.cgr == r.observed_cgr)
    assert observed.estimate == pytest.approx(naive, abs=1e-9)
    assert r.estimate == pytest.approx(want_corrected, abs=5e-4)
    # the paper's finding: same sign, less than half the naive difference
    assert 0 < r.estimate < naive / 2
    assert r.observed_cgr == pytest.approx(0.65, abs=0.005)
    assert not r.small_strata and r.clusters == 239
