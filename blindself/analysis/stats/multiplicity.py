"""Adjusted p-values for several outcomes or contrasts (as R ``p.adjust``).

Holm (1979), *Scand J Statist* 6:65-70: step-down Bonferroni, strong control of the
family-wise error rate.  Benjamini and Hochberg (1995), *J R Statist Soc B* 57:289-300:
step-up control of the false discovery rate.  A hypothesis is rejected at level q when
its adjusted p is at most q.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _checked(p: Sequence[float]) -> list[float]:
    values = [float(x) for x in p]
    for x in values:
        if math.isnan(x) or not 0.0 <= x <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {x}")
    return values


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    values = _checked(p)
    m = len(values)
    order = sorted(range(m), key=lambda i: values[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values, in the input order.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03])
    [0.03, 0.04, 0.04]
    """
    values = _checked(p)
    m = len(values)
    order = sorted(range(m), key=lambda i: values[i], reverse=True)
    out = [0.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k
        running = min(running, m * values[i] / rank)
        out[i] = running
    return out
