"""The scipy.special calls that replace scipy.stats distribution methods give its numbers.

blindself computes t, normal and chi-square tails and quantiles with ``scipy.special``
(``stdtr``, ``stdtrit``, ``ndtr``, ``ndtri``, ``chdtrc``), the functions the
``scipy.stats`` distributions call, so that an analysis does not import ``scipy.stats``
(~0.6 s).  Here ``scipy.stats`` is the reference, over the whole range the code uses.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from blindself.analysis.stats import blinding, meta, mixed
from blindself.analysis.stats.bayes import _mixture_quantile
from blindself.analysis.stats.cgrc import _t_p, _t_quantile
from blindself.analysis.stats.ordinal import mid_ranks
from blindself.analysis.stats.regression import _t_summary

DF = [1, 2, 3, 5, 9.5, 30, 364, 10_000]


@pytest.mark.parametrize("df", DF)
@pytest.mark.parametrize("t", [0.0, 0.3, 1.96, 4.0, 40.0])
def test_t_summary_is_scipy_stats_t(df: float, t: float) -> None:
    se = 0.7
    p, (lo, hi) = _t_summary(t * se, se, df)
    assert p == stats.t.sf(t, df) * 2
    half = stats.t.ppf(0.975, df) * se
    assert (lo, hi) == (t * se - half, t * se + half)


@pytest.mark.parametrize("df", [1, 4, 37])
def test_cgrc_t_is_scipy_stats_t(df: int) -> None:
    assert _t_quantile(df) == stats.t.ppf(0.975, df)
    assert _t_p(1.3, 0.5, df) == 2.0 * stats.t.sf(2.6, df)


def test_normal_and_chi_square_constants_are_scipy_stats() -> None:
    assert blinding._Z_ONE_SIDED == stats.norm.ppf(0.95)
    assert blinding._Z_TWO_SIDED == stats.norm.ppf(0.975)
    assert mixed._Z975 == stats.norm.ppf(0.975)
    effect = mixed.Effect.wald(0.8, 0.3)
    assert effect.p == 2 * stats.norm.sf(0.8 / 0.3)


def test_mixture_quantile_of_one_component_is_the_t_quantile() -> None:
    one = np.ones(1)
    for q in (0.025, 0.5, 0.975):
        got = _mixture_quantile(q, one, np.array([0.4]), np.array([1.3]), 11.0)
        assert got == pytest.approx(0.4 + 1.3 * stats.t.ppf(q, 11.0), rel=1e-12, abs=1e-12)


@given(st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=60))
def test_mid_ranks_are_scipy_rankdata(values: list[int]) -> None:
    a = np.asarray(values, dtype=np.float64)
    np.testing.assert_array_equal(mid_ranks(a), stats.rankdata(a))


def test_heterogeneity_p_is_scipy_stats_chi2() -> None:
    est = np.array([0.2, 0.9, -0.1, 0.5])
    se = np.array([0.3, 0.25, 0.4, 0.2])
    result = meta.random_effects_meta(est, se)
    assert result.q_p == stats.chi2.sf(result.q, 3)
