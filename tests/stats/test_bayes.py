"""Bayesian arm effect: identities with the t-test, R's fixed-rho GLS, brute-force quadrature."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from blindself.analysis.stats.bayes import DEFAULT_RHO_GRID, bayes_effect

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def load(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, arm, day) of one simulated data set written by ar1_gls.R."""
    text = (REFERENCE / "ar1_data.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.DictReader(text.splitlines()) if r["dataset"] == dataset]
    return (
        np.array([float(r["y"]) for r in rows]),
        np.array([int(r["arm"]) for r in rows]),
        np.array([int(r["day"]) for r in rows]),
    )


def ar1_sample(
    rng: np.random.Generator, n: int, rho: float, effect: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A short AR(1) series with alternating 3-day periods (test data, fixed seed)."""
    e = np.empty(n)
    e[0] = rng.normal()
    for i in range(1, n):
        e[i] = rho * e[i - 1] + np.sqrt(1 - rho**2) * rng.normal()
    arm = (np.arange(n) // 3) % 2
    return 5.0 + effect * arm + e, arm, np.arange(1, n + 1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_reference_prior_without_correlation_is_the_t_test(seed: int) -> None:
    # rho fixed at 0, no trend: P(effect > 0) = 1 - one-sided pooled t-test p (scipy), and
    # the 95 % interval is the classical t interval
    rng = np.random.default_rng(seed)
    n_active, n_placebo = 9 + seed, 12
    active = rng.normal(0.4, 1.0, n_active)
    placebo = rng.normal(0.0, 1.3, n_placebo)
    y = np.concatenate([active, placebo])
    arm = np.r_[np.ones(n_active), np.zeros(n_placebo)]
    day = rng.permutation(y.size) + 1
    r = bayes_effect(y, arm, day, better="higher", mcid=0.3, prior="reference", trend=False,
                     rho_grid=[0.0])  # fmt: skip
    t = stats.ttest_ind(active, placebo, alternative="greater")
    assert r.p_benefit == pytest.approx(1 - t.pvalue, abs=1e-10)
    ci = stats.ttest_ind(active, placebo).confidence_interval(0.95)
    assert r.ci95 == pytest.approx((ci.low, ci.high), abs=1e-10)
    assert r.mean == pytest.approx(active.mean() - placebo.mean(), abs=1e-12)
    # P(effect > 0.3) = 1 - p of the t-test of H0: effect = 0.3 against "greater"
    shifted = stats.ttest_ind(active - 0.3, placebo, alternative="greater")
    assert r.p_above_mcid == pytest.approx(1 - shifted.pvalue, abs=1e-10)
    lower = bayes_effect(y, arm, day, better="lower", mcid=0.3, prior="reference",
                         trend=False, rho_grid=[0.0])  # fmt: skip
    assert lower.p_benefit == pytest.approx(t.pvalue, abs=1e-10)
    shifted_lower = stats.ttest_ind(active + 0.3, placebo, alternative="less")
    assert lower.p_above_mcid == pytest.approx(1 - shifted_lower.pvalue, abs=1e-10)


# R 4.2.2, nlme 3.1-162 (tests/reference/ar1_gls.R, ar1_gls.Rout):
#   fit <- gls(y ~ arm + day, method = "REML", correlation = corAR1(0.4, form = ~ day,
#              fixed = TRUE)); est, se from summary(fit)$tTable; pt(t, n - p)
# With rho known, the reference posterior of the arm effect is t(n - p, est, se).
FIXED_RHO_R = {
    "A": (0.5499583789, 0.3231624946, 57, 0.952879175971),
    "B": (0.6908906180, 0.2992890234, 45, 0.987187418868),
    "C": (-0.2851598318, 0.7494557505, 27, 0.353279694896),
    "D": (0.3428767112, 0.1415048850, 362, 0.992060173953),
    "E": (0.8352413180, 0.2911758344, 45, 0.996871017221),
}


@pytest.mark.parametrize("dataset", sorted(FIXED_RHO_R))
def test_reference_prior_with_fixed_rho_matches_r_gls(dataset: str) -> None:
    est, se, df, p_positive = FIXED_RHO_R[dataset]
    y, arm, day = load(dataset)
    r = bayes_effect(y, arm, day, better="higher", mcid=None, prior="reference",
                     rho_grid=[0.4])  # fmt: skip
    assert r.mean == pytest.approx(est, abs=1e-9)
    assert r.p_benefit == pytest.approx(p_positive, abs=1e-11)
    half = stats.t.ppf(0.975, df) * se
    assert r.ci95 == pytest.approx((est - half, est + half), abs=1e-9)
    assert r.p_above_mcid is None


def brute_force(
    y: np.ndarray,
    arm: np.ndarray,
    day: np.ndarray,
    grid: np.ndarray,
    weak: bool,
    cuts: list[float],
) -> tuple[float, list[float]]:
    """Posterior mean of b_arm and P(b_arm > c) for each cut c, by quadrature.

    Independent of the closed form: dense correlation matrices and their inverses, the
    joint posterior density evaluated on a grid over (b0, b_arm, log sigma) with Simpson's
    rule in each direction (b_arm nodes split at every cut), rho a uniform discrete prior
    on `grid`, no trend.  p(b, sigma) ~ 1/sigma, times N(b_arm; 0, sigma^2) for the weak
    prior.
    """
    n = y.size
    ones = np.ones(n)
    x = np.column_stack([ones, arm])
    lag = np.abs(day[:, None] - day[None, :]).astype(float)
    results = []  # per rho: (log scale, evidence, mean, [mass above each cut])
    for rho in grid:
        corr = rho**lag
        inv = np.linalg.inv(corr)
        logdet = np.linalg.slogdet(corr)[1]
        xtx = x.T @ inv @ x
        beta = np.linalg.solve(xtx, x.T @ inv @ y)
        resid = y - x @ beta
        s2 = resid @ inv @ resid / (n - 2)
        se = np.sqrt(s2 * np.diag(np.linalg.inv(xtx)))
        # grids centred at the GLS fit, +-10 standard errors
        b0 = np.linspace(beta[0] - 10 * se[0], beta[0] + 10 * se[0], 61)
        ends = sorted([beta[1] - 10 * se[1], beta[1] + 10 * se[1], *cuts])
        segments = [np.linspace(a, b, 61) for a, b in itertools.pairwise(ends)]
        ls = np.linspace(0.5 * np.log(s2) - 1.2, 0.5 * np.log(s2) + 1.2, 41)
        yy, y1, ya = y @ inv @ y, ones @ inv @ y, arm @ inv @ y
        s11, s1a, saa = ones @ inv @ ones, ones @ inv @ arm, arm @ inv @ arm
        seg_mass, seg_first = [], []
        for ba in segments:
            B0, BA, LS = np.meshgrid(b0, ba, ls, indexing="ij")
            q = yy - 2 * B0 * y1 - 2 * BA * ya + B0**2 * s11 + 2 * B0 * BA * s1a + BA**2 * saa
            sig2 = np.exp(2 * LS)
            # density in (b0, b_arm, log sigma): sigma^-n from the likelihood; the 1/sigma
            # prior cancels the Jacobian of d sigma = sigma d log sigma
            logd = -0.5 * logdet - 0.5 * n * np.log(sig2) - q / (2 * sig2)
            if weak:
                logd += -0.5 * np.log(2 * np.pi * sig2) - BA**2 / (2 * sig2)
            d = np.exp(logd + 0.5 * n * np.log(s2) + 0.5 * (n - 2))  # rescaled against overflow
            marginal = integrate.simpson(integrate.simpson(d, x=ls, axis=2), x=b0, axis=0)
            seg_mass.append(integrate.simpson(marginal, x=ba))
            seg_first.append(integrate.simpson(ba * marginal, x=ba))
        scale = 0.5 * n * np.log(s2) + 0.5 * (n - 2)
        z = sum(seg_mass)
        above = [
            sum(m for m, a in zip(seg_mass, ends[:-1], strict=True) if a >= c) / z for c in cuts
        ]
        results.append((scale, z, sum(seg_first) / z, above))
    top = max(scale for scale, *_ in results)
    evidence = np.array([z * np.exp(top - scale) for scale, z, _, _ in results])
    w = evidence / evidence.sum()
    mean = float(sum(wi * m for wi, (_, _, m, _) in zip(w, results, strict=True)))
    above = [
        float(sum(wi * r[3][k] for wi, r in zip(w, results, strict=True))) for k in range(len(cuts))
    ]
    return mean, above


@pytest.mark.parametrize(("seed", "prior"), [(11, "reference"), (12, "weak"), (13, "weak")])
def test_rho_mixture_matches_brute_force_quadrature(prior: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, arm, day = ar1_sample(rng, 30, 0.5, 0.6)
    day = np.delete(day, [7, 19])  # gaps of two days
    y, arm = np.delete(y, [7, 19]), np.delete(arm, [7, 19])
    grid = np.linspace(-0.8, 0.8, 9)
    r = bayes_effect(y, arm, day, better="higher", mcid=0.5, prior=prior, trend=False,
                     rho_grid=grid)  # fmt: skip
    cuts = [0.0, 0.5, r.ci95[0], r.ci95[1]]
    mean, above = brute_force(y, arm, day, grid, prior == "weak", cuts)
    assert r.mean == pytest.approx(mean, abs=1e-6)
    assert r.p_benefit == pytest.approx(above[0], abs=1e-6)
    assert r.p_above_mcid == pytest.approx(above[1], abs=1e-6)
    # the reported interval holds 2.5 % of the brute-force posterior on each side
    assert above[2:] == pytest.approx([0.975, 0.025], abs=1e-6)


def test_default_grid_and_trend_run_on_a_year() -> None:
    y, arm, day = load("D")
    r = bayes_effect(y, arm, day, better="higher", mcid=0.5, scale_width=10.0)
    assert DEFAULT_RHO_GRID.size == 41 and 0.0 in DEFAULT_RHO_GRID
    assert r.ci95[0] < r.mean < r.ci95[1]
    assert r.p_above_mcid is not None
    assert 0 < r.p_above_mcid < r.p_benefit < 1
    assert "at most 5 points" in r.prior and "41 points" in r.prior


def test_weak_prior_shrinks_towards_zero() -> None:
    y, arm, day = load("A")
    ref = bayes_effect(y, arm, day, better="higher", mcid=None, prior="reference")
    weak = bayes_effect(y, arm, day, better="higher", mcid=None, prior="weak")
    assert 0 < weak.mean < ref.mean
    assert weak.ci95[1] - weak.ci95[0] < ref.ci95[1] - ref.ci95[0]


def test_sign_of_rho_does_not_matter_when_gaps_are_even() -> None:
    # every-other-day data set E: rho and -rho give identical likelihoods, so a grid
    # mirrored around 0 gives the same posterior as its non-negative half
    y, arm, day = load("E")
    half = np.linspace(0.0, 0.9, 10)
    both = np.r_[-half[:0:-1], half]
    a = bayes_effect(y, arm, day, better="higher", mcid=None, rho_grid=half[1:])
    b = bayes_effect(y, arm, day, better="higher", mcid=None, rho_grid=both[both != 0])
    assert a.mean == pytest.approx(b.mean, abs=1e-12)
    assert a.p_benefit == pytest.approx(b.p_benefit, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"better": "up"}, "better must be"),
        ({"prior": "flat"}, "prior must be"),
        ({"mcid": -1.0}, "mcid"),
        ({"rho_grid": [1.0]}, "rho_grid"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    y, arm, day = load("C")
    args: dict[str, Any] = {"better": "higher", "mcid": None} | kwargs
    with pytest.raises(ValueError, match=message):
        bayes_effect(y, arm, day, **args)


def test_ratings_near_two_to_the_53_give_the_same_standardised_posterior() -> None:
    """F23: at +-(2**53 - 1) the card's estimate had the other sign of the mean difference.
    Not a rounding error: the model is scale-invariant (same posterior / scale at 1 and at
    2**53 - 1); ratings alternating by day are explained by rho near -1 at any scale."""
    arm = np.array([0, 1, 1, 0, 1, 0, 1, 0])
    pattern = np.array([1.0, -1.0] * 4)
    big = float(2**53 - 1)
    small = bayes_effect(pattern, arm, np.arange(8), better="higher", mcid=1.0)
    huge = bayes_effect(pattern * big, arm, np.arange(8), better="higher", mcid=1.0)
    assert huge.mean / big == pytest.approx(small.mean, rel=1e-9)
    assert huge.p_benefit == pytest.approx(small.p_benefit, rel=1e-9)
    lo, hi = huge.ci95
    assert lo / big == pytest.approx(small.ci95[0], rel=1e-9)
    assert hi / big == pytest.approx(small.ci95[1], rel=1e-9)
