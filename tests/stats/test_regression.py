"""OLS and AR(1) GLS against R (tests/reference/ar1_gls.R, captured in ar1_gls.Rout)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from blindself.analysis.stats.regression import ar1_gls, ar1_whiten, classical, ols_term
from blindself.errors import DataError

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def load(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, arm, day) of one simulated data set written by ar1_gls.R."""
    text = (REFERENCE / "ar1_data.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.DictReader(text.splitlines()) if r["dataset"] == dataset]
    y = np.array([float(r["y"]) for r in rows])
    arm = np.array([int(r["arm"]) for r in rows])
    day = np.array([int(r["day"]) for r in rows])
    return y, arm, day


# nlme 3.1-162, R 4.2.2:
#   gls(y ~ arm + day, correlation = corAR1(phi0, form = ~ day), method = "ML") (best of
#   phi0 in -0.6, -0.2, 0.2, 0.6) and likewise y ~ arm; summary()$tTable["arm", ],
#   coef(corStruct, unconstrained = FALSE), intervals(fit)$coef["arm", ].
# (estimate, se, p, phi, df, ci_lo, ci_hi) copied from ar1_gls.Rout.
GLS_R = {
    ("A", True): (0.5489586917, 0.3371052498, 0.1089450545, 0.4951404503, 57,
                  -0.1260829272, 1.2240003107),
    ("A", False): (0.5489090916, 0.3345732267, 0.1062880447, 0.4967244215, 58,
                   -0.1208119860, 1.2186301692),
    ("B", True): (0.6066083241, 0.2691416987, 0.02912229181, 0.7499168886, 45,
                  0.0645291167, 1.1486875314),
    ("B", False): (0.5888510327, 0.2693131412, 0.03390413051, 0.7884223540, 46,
                   0.0467517961, 1.1309502693),
    ("C", True): (-0.1570063480, 0.3894158946, 0.689987753, -0.4293132094, 27,
                  -0.9560217642, 0.6420090681),
    ("C", False): (-0.1793230710, 0.3848504257, 0.6448520462, -0.4283645457, 28,
                   -0.9676534316, 0.6090072896),
    ("D", True): (0.3098466989, 0.1271178539, 0.01527094245, 0.2650229165, 362,
                  0.0598645053, 0.5598288924),
    ("D", False): (0.3119740314, 0.1278660149, 0.01517123513, 0.2710312857, 363,
                   0.0605228739, 0.5634251889),
    # every gap even: R reports phi = -0.704 / -0.740; only |phi| is identified
    ("E", True): (0.7512400799, 0.3322959886, 0.028658312, -0.7044774049, 45,
                  0.0819616031, 1.4205185568),
    ("E", False): (0.7515742013, 0.3417487448, 0.03292915961, -0.7401929774, 46,
                   0.0636696568, 1.4394787457),
}  # fmt: skip

# summary(lm(y ~ arm, data = d))$coefficients["arm", ]: (estimate, se, p), df = n - 2
OLS_R = {
    "A": (0.5306850667, 0.2788307347, 0.06197439269, 58),
    "B": (0.6028538333, 0.3399895491, 0.08282423405, 46),
    "C": (-0.1817462667, 0.5336655489, 0.7359752938, 28),
    "D": (0.2724907702, 0.1076462976, 0.01178375128, 363),
    "E": (0.8786148333, 0.2916669899, 0.004203130336, 46),
}


@pytest.mark.parametrize(("dataset", "trend"), sorted(GLS_R))
def test_ar1_gls_matches_nlme(dataset: str, trend: bool) -> None:
    est, se, p, phi, df, lo, hi = GLS_R[(dataset, trend)]
    y, arm, day = load(dataset)
    r = ar1_gls(y, arm, day, trend=trend)
    assert r.estimate == pytest.approx(est, abs=1e-6)
    assert r.se == pytest.approx(se, abs=1e-6)
    assert r.p == pytest.approx(p, abs=1e-6)
    assert r.rho == pytest.approx(abs(phi) if dataset == "E" else phi, abs=1e-5)
    assert r.df == df
    assert r.ci95 == pytest.approx((lo, hi), abs=1e-6)


def test_ar1_gls_ignores_row_order_and_nan_rows() -> None:
    y, arm, day = load("B")
    ref = ar1_gls(y, arm, day)
    order = np.random.default_rng(3).permutation(y.size)
    y2 = np.append(y[order], np.nan)
    shuffled = ar1_gls(y2, np.append(arm[order], 1), np.append(day[order], 999))
    assert shuffled.estimate == pytest.approx(ref.estimate, abs=1e-10)
    assert shuffled.rho == pytest.approx(ref.rho, abs=1e-8)


def test_ar1_gls_does_not_stall_at_zero_when_gaps_are_even() -> None:
    # every-other-day data set E: gls() from its default start phi = 0 stays there
    # (ar1_gls.Rout: "E default-start phi 0.0000000000 logLik -65.1092987371") because the
    # likelihood is even in phi; the maximum (logLik -60.1444855561) is at |phi| = 0.7045
    y, arm, day = load("E")
    assert ar1_gls(y, arm, day).rho == pytest.approx(0.7044774049, abs=1e-5)


def test_ar1_gls_365_days_five_outcomes_is_cheap() -> None:
    # timing guards count work, not seconds: one year x 5 outcomes must not call the O(n)
    # profile more than a few hundred times in total
    import blindself.analysis.stats.regression as reg

    y, arm, day = load("D")
    calls = 0
    original = reg._profile

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reg, "_profile", counting)
        for k in range(5):
            reg.ar1_gls(y + 0.1 * k * np.sin(day), arm, day)
    assert calls < 5 * 60


def test_whitening_matches_dense_cholesky() -> None:
    # L^-1 from the dense correlation matrix rho^|d_i - d_j| (numpy Cholesky) versus the
    # O(n) recursion, with gaps and a negative rho
    day = np.array([1, 2, 4, 5, 9, 10, 11, 15])
    x = np.random.default_rng(1).normal(size=day.size)
    for rho in (-0.6, 0.0, 0.35, 0.9):
        corr = rho ** np.abs(day[:, None] - day[None, :]).astype(float)
        chol = np.linalg.cholesky(corr)
        logdet, (w,) = ar1_whiten(np.array([rho]), np.diff(day), x)
        assert w[0] == pytest.approx(np.linalg.solve(chol, x), abs=1e-12)
        assert logdet[0] == pytest.approx(np.linalg.slogdet(corr)[1], abs=1e-12)


@pytest.mark.parametrize("dataset", sorted(OLS_R))
def test_classical_matches_lm(dataset: str) -> None:
    est, se, p, df = OLS_R[dataset]
    y, arm, _ = load(dataset)
    c = classical(y, arm)
    assert (c.estimate, c.se, c.p) == pytest.approx((est, se, p), abs=1e-9)
    assert c.df == df


def test_classical_equals_pooled_t_test() -> None:
    y, arm, _ = load("A")
    c = classical(y, arm == 1)
    t = stats.ttest_ind(y[arm == 1], y[arm == 0])
    ci = t.confidence_interval(0.95)
    assert c.p == pytest.approx(t.pvalue, rel=1e-12)
    assert c.ci95 == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_ols_term_drops_nan_rows_and_adjusts() -> None:
    # y = 1 + 2x + 3z exactly except one perturbed row; a NaN row must be dropped.
    # Hand check with numpy least squares on the complete rows.
    x = np.array([0.0, 1, 2, 3, 4, 5, np.nan])
    z = np.array([1.0, 0, 1, 0, 1, 1, 0])
    y = 1 + 2 * x + 3 * z
    y[2] += 0.5
    c = ols_term(y, {"x": x, "z": z}, "z")
    keep = ~np.isnan(x)
    design = np.column_stack([np.ones(keep.sum()), x[keep], z[keep]])
    beta, *_ = np.linalg.lstsq(design, y[keep], rcond=None)
    assert c.estimate == pytest.approx(beta[2], abs=1e-12)
    assert c.df == 3


def test_ols_term_refuses_collinear_and_short_data() -> None:
    with pytest.raises(DataError, match="cannot separate 'arm'"):
        ols_term([1.0, 2, 3, 4], {"arm": [1, 1, 1, 1]}, "arm")
    with pytest.raises(DataError, match="only 2 complete rows"):
        ols_term([1.0, 2, np.nan], {"arm": [0, 1, 1]}, "arm")


def test_ar1_gls_refuses_duplicate_days_and_one_arm() -> None:
    with pytest.raises(DataError, match="share a day"):
        ar1_gls([1.0, 2, 3, 4, 5, 6], [0, 1, 0, 1, 0, 1], [1, 2, 2, 3, 4, 5])
    with pytest.raises(DataError, match="both arms"):
        ar1_gls([1.0, 2, 3, 4, 5, 6], [1] * 6, [1, 2, 3, 4, 5, 6])


def test_exact_fit_is_refused_not_warned() -> None:
    # ratings that the model fits exactly leave no variance: a DataError, no RuntimeWarning
    arm = [0, 0, 0, 1, 1, 1]
    y = [2.0, 2.0, 2.0, 3.0, 3.0, 3.0]
    with pytest.raises(DataError, match="no variation"):
        classical(y, arm)
    with pytest.raises(DataError, match="no variation"):
        ar1_gls(y, arm, [1, 2, 3, 4, 5, 6], trend=False)


@pytest.mark.parametrize("seed", range(8))
def test_ols_term_equals_statsmodels_ols(seed: int) -> None:
    # ols_term computes statsmodels' OLS(...).fit() (pinv) without importing statsmodels;
    # statsmodels is the reference here.
    from statsmodels.regression.linear_model import OLS

    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 200))
    arm = rng.integers(0, 2, n).astype(float)
    day = np.arange(n, dtype=float)
    cov = rng.normal(size=n)
    y = 5 + 0.7 * arm + 0.01 * day + 0.3 * cov + rng.normal(size=n) * rng.choice([0.1, 1, 30])
    got = ols_term(y, {"arm": arm, "day": day, "x": cov}, "arm")
    fit = OLS(y, np.column_stack([np.ones(n), arm, day, cov])).fit()
    assert got.estimate == pytest.approx(float(fit.params[1]), rel=1e-12, abs=1e-12)
    assert got.se == pytest.approx(float(fit.bse[1]), rel=1e-10)
    assert got.df == float(fit.df_resid)
    assert got.p == pytest.approx(float(fit.pvalues[1]), rel=1e-9, abs=1e-300)
    lo, hi = fit.conf_int()[1]
    assert got.ci95 == pytest.approx((float(lo), float(hi)), rel=1e-10)
