"""Each person's own N-of-1 effect, pooled by a random-effects meta-analysis.

References: DerSimonian R, Laird N. Meta-analysis in clinical trials. *Control Clin Trials*
1986;7:177-188.  Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis.
*Stat Med* 2002;21:1539-1558.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from blindself.analysis.stats.mixed import Effect, Float, Int, _num
from blindself.errors import DataError


@dataclass(frozen=True)
class NOf1:
    """Each person's active - placebo mean difference with its pooled-variance SE."""

    participants: tuple[str, ...]
    estimate: Float
    se: Float
    n_active: Int
    n_placebo: Int
    n_both: int  # people with both arms
    n_excluded: int  # of those, left out: fewer than 3 ratings or no within-arm variation


def n_of_1_estimates(y: Float, arm: Float, groups: Int, labels: Sequence[str]) -> NOf1:
    """Per-person N-of-1 contrasts (OLS ``y ~ arm`` within each person), vectorised.

    ``se^2 = s^2 (1/n_a + 1/n_p)`` with ``s^2`` the pooled within-arm variance on
    ``n_a + n_p - 2`` degrees of freedom.  People without both arms are not counted; people
    with both arms but no residual degree of freedom or zero variance are excluded (counted).
    """
    G = len(labels)
    key = groups * 2 + arm.astype(np.intp)
    cnt = np.bincount(key, minlength=2 * G).reshape(G, 2)
    s1 = np.bincount(key, weights=y, minlength=2 * G).reshape(G, 2)
    s2 = np.bincount(key, weights=y * y, minlength=2 * G).reshape(G, 2)
    both = (cnt > 0).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        ss = s2 - s1 * mean  # within-arm sums of squares
        df = cnt.sum(axis=1) - 2
        s2_pooled = np.nansum(ss, axis=1) / df
        se = np.sqrt(s2_pooled * (1 / cnt[:, 1] + 1 / cnt[:, 0]))
        est = mean[:, 1] - mean[:, 0]
    usable = both & (df > 0) & (se > 1e-12 * (1 + np.abs(est)))
    idx = np.flatnonzero(usable)
    return NOf1(
        participants=tuple(labels[int(i)] for i in idx),
        estimate=est[idx],
        se=se[idx],
        n_active=cnt[idx, 1].astype(np.intp),
        n_placebo=cnt[idx, 0].astype(np.intp),
        n_both=int(both.sum()),
        n_excluded=int(both.sum() - usable.sum()),
    )


@dataclass(frozen=True)
class MetaResult:
    """Random-effects pooled estimate (DerSimonian-Laird) and heterogeneity."""

    effect: Effect
    tau2: float
    i2: float
    q: float
    q_p: float
    k: int
    method: str = "DerSimonian-Laird"

    def to_json(self) -> dict[str, Any]:
        return {**self.effect.to_json(), "tau2": _num(self.tau2), "i2": _num(self.i2),
                "q": _num(self.q), "q_p": _num(self.q_p), "k": self.k,
                "method": self.method}  # fmt: skip


def random_effects_meta(estimates: Float, se: Float) -> MetaResult:
    """DerSimonian-Laird random-effects meta-analysis [2]_ with Higgins' I^2 [3]_.

    Examples
    --------
    metafor 3.8-1, ``rma(yi, sei = sei, method = "DL")``, yi = (1, 2, 4), sei = (1, 1, 2):

    >>> r = random_effects_meta(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    >>> round(r.effect.estimate, 4), round(r.tau2, 4)
    (1.7778, 0.0)
    """
    k = len(estimates)
    if k == 0:
        raise DataError("no participant has both arms with usable data: nothing to meta-analyse")
    v = se**2
    w = 1.0 / v
    fixed = float(w @ estimates / w.sum())
    q = float(w @ (estimates - fixed) ** 2)
    c = float(w.sum() - (w @ w) / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 and c > 0 else 0.0
    ws = 1.0 / (v + tau2)
    est = float(ws @ estimates / ws.sum())
    i2 = max(0.0, (q - (k - 1)) / q) if k > 1 and q > 0 else 0.0
    # scipy.stats.chi2.sf calls this function (scipy.stats costs ~0.6 s to import).
    q_p = float(special.chdtrc(k - 1, q)) if k > 1 else math.nan
    return MetaResult(Effect.wald(est, math.sqrt(1.0 / ws.sum())), tau2, i2, q, q_p, k)
