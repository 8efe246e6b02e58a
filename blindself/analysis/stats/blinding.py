"""Was the blind kept?  Guess tables, Bang's and James' blinding indices, Brier score.

A guess is an arm name or ``"unsure"`` (the "don't know" answer of the blinding
questionnaires).  Both indices follow R package BI 1.2.0 (``BI()``), which implements:

* Bang's index [1]_, per arm: (correct - incorrect guesses) / all answers of that arm,
  from -1 (all wrong) through 0 (chance or all unsure) to 1 (all right).
* James' index [2]_, overall: ``(1 + P_dk + (1 - P_dk) * kappa_d) / 2``, where ``P_dk`` is
  the share of "don't know" answers and ``kappa_d`` a weighted kappa of the definite
  guesses (weight 0 correct, 1/2 incorrect); 0 means complete unblinding, 1/2 random
  guessing, 1 complete blinding.

References
----------
.. [1] Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. *Control Clin
   Trials* 2004;25:143-156.
.. [2] James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing blindness
   in a multi-centre clinical trial: disulfiram for alcohol cessation. *Stat Med*
   1996;15:1421-1434.
.. [3] Brier GW. Verification of forecasts expressed in terms of probability. *Mon Weather
   Rev* 1950;78:1-3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from blindself.errors import DataError

__all__ = [
    "UNSURE",
    "BangResult",
    "JamesResult",
    "bang_index",
    "brier_score",
    "correct_rate_by_week",
    "guess_table",
    "james_index",
]

UNSURE = "unsure"

# one-sided and two-sided 95 % normal quantiles, as BI() computes them with qnorm()
_Z_ONE_SIDED = float(special.ndtri(0.95))
_Z_TWO_SIDED = float(special.ndtri(0.975))

Table = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class BangResult:
    """Bang's index for one arm.

    ``limit95`` is the one-sided 95 % limit on the side of zero: ``bi - 1.645 se`` (BI's
    lower limit for ``alternative.B = "greater"``) when ``bi >= 0``, else ``bi + 1.645 se``
    (the upper limit for ``"less"``).  It has the sign of ``bi`` exactly when the one-sided
    interval excludes 0, i.e. when unblinding (or opposite guessing) may be claimed.
    All three are NaN when the arm has no definite guess (BI returns NaN too).
    """

    bi: float
    se: float
    limit95: float


@dataclass(frozen=True)
class JamesResult:
    """James' index with its standard error and two-sided 95 % normal interval (unclipped)."""

    bi: float
    se: float
    ci95: tuple[float, float]


def guess_table(
    actual: Sequence[str], guess: Sequence[str], arms: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Count guesses by actual arm: ``{GUESS: {ARM: n}}`` with GUESS in arms + ["unsure"].

    Examples
    --------
    >>> guess_table(["a", "p", "p"], ["a", "unsure", "a"], ["a", "p"])
    {'a': {'a': 1, 'p': 1}, 'p': {'a': 0, 'p': 0}, 'unsure': {'a': 0, 'p': 1}}
    """
    if len(actual) != len(guess):
        raise ValueError("actual and guess must have the same length")
    if UNSURE in arms:
        raise DataError(f"no arm may be named {UNSURE!r}: rename it in the protocol")
    table = {g: dict.fromkeys(arms, 0) for g in [*arms, UNSURE]}
    for a, g in zip(actual, guess, strict=True):
        if a not in arms:
            raise DataError(f"unknown arm {a!r}: expected one of {', '.join(arms)}")
        if g not in table:
            raise DataError(f"unknown guess {g!r}: expected an arm name or {UNSURE!r}")
        table[g][a] += 1
    return table


def _matrix(table: Table, arms: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """3 x 2 counts: rows guess treatment / control / unsure, columns actual arm."""
    if len(arms) != 2:
        raise ValueError("the blinding indices compare exactly two arms")
    rows = [arms[0], arms[1], UNSURE]
    try:
        m = np.array([[table[g][a] for a in arms] for g in rows], dtype=float)
    except KeyError as exc:
        raise ValueError(f"the table lacks row or column {exc.args[0]!r}") from exc
    if (m < 0).any():
        raise ValueError("counts must be non-negative")
    return m


def bang_index(table: Table, arms: Sequence[str]) -> dict[str, BangResult]:
    """Bang's blinding index for each of two arms (treatment first, control second).

    ``bi = (correct - incorrect) / n`` over that arm's n answers (unsure included);
    ``se^2 = (p_c (1 - p_c) + p_i (1 - p_i) + 2 p_c p_i) / n`` with ``p_c, p_i`` the
    shares of correct and incorrect guesses (multinomial variance of ``p_c - p_i``).

    Examples
    --------
    CRISP, Bang et al. 2004, table 7:

    >>> t = {"T": {"T": 82, "P": 27}, "P": {"T": 25, "P": 29}, "unsure": {"T": 170, "P": 83}}
    >>> r = bang_index(t, ["T", "P"])
    >>> round(r["T"].bi, 6), round(r["T"].se, 6), round(r["P"].bi, 6)
    (0.205776, 0.035237, 0.014388)
    """
    m = _matrix(table, arms)
    out: dict[str, BangResult] = {}
    for j, arm in enumerate(arms):
        correct, incorrect = m[j, j], m[1 - j, j]
        n = m[:, j].sum()
        if correct + incorrect == 0:
            # BI() divides 0 by 0 here; all-unsure (or no answers) leaves the index undefined
            out[arm] = BangResult(bi=math.nan, se=math.nan, limit95=math.nan)
            continue
        pc, pi = correct / n, incorrect / n
        bi = float(pc - pi)
        se = math.sqrt((pc * (1 - pc) + pi * (1 - pi) + 2 * pc * pi) / n)
        limit = bi - _Z_ONE_SIDED * se if bi >= 0 else bi + _Z_ONE_SIDED * se
        out[arm] = BangResult(bi=bi, se=se, limit95=limit)
    return out


def james_index(table: Table, arms: Sequence[str]) -> JamesResult:
    """James' blinding index over both arms, with the large-sample variance of [2]_.

    With cell shares ``p_ij`` (guess i, actual j) among all N answers, ``P_dk`` the unsure
    share, row shares ``r_i`` of the definite guesses and column shares ``c_j`` of the
    definite guesses' arms (both over N), weights ``w`` (0 correct, 1/2 incorrect):
    ``P_o = sum w p / (1 - P_dk)``, ``P_e = sum w r c / (1 - P_dk)^2``,
    ``kappa = (P_o - P_e) / P_e`` and ``BI = (1 + P_dk + (1 - P_dk) kappa) / 2``.  When
    every answer is unsure, BI = 1 and SE = 0 (James 1996, p. 1425); with no definite
    guess otherwise BI is NaN.

    Examples
    --------
    Houweling et al. 2014, investigators:

    >>> t = {"T": {"T": 48, "P": 22}, "P": {"T": 4, "P": 30}, "unsure": {"T": 330, "P": 319}}
    >>> round(james_index(t, ["T", "P"]).bi, 6)
    0.896414
    """
    m = _matrix(table, arms)
    n = m.sum()
    definite = m[:2, :]
    if definite.sum() == 0 and (m[2, :] > 0).all():
        return JamesResult(bi=1.0, se=0.0, ci95=(1.0, 1.0))
    if n == 0 or definite.sum() == 0:
        return JamesResult(bi=math.nan, se=math.nan, ci95=(math.nan, math.nan))
    w = np.array([[0.0, 0.5], [0.5, 0.0]])
    p = definite / n
    p_dk = float(m[2, :].sum() / n)
    q = 1.0 - p_dk
    r = p.sum(axis=1)  # guess shares
    c = p.sum(axis=0)  # arm shares among definite guesses
    expected = float(np.sum(w * np.outer(r, c)))
    if expected == 0:
        return JamesResult(bi=math.nan, se=math.nan, ci95=(math.nan, math.nan))
    p_o = float(np.sum(w * p)) / q
    p_e = expected / q**2
    kappa = (p_o - p_e) / p_e
    bi = (1.0 + p_dk + q * kappa) / 2.0
    # delta-method variance (James et al. 1996, appendix): per-cell influence terms
    influence = (w.T @ r)[None, :] + (w @ c)[:, None]  # sum_s w_sj r_s + w_is c_s
    v1 = float(np.sum(p * q**2 * (q * w - (1.0 + kappa) * influence) ** 2)) / (4 * expected**2)
    v2 = p_dk * q - q * (1.0 + kappa) * (p_dk + q * (1.0 + kappa) / 4.0)
    variance = (v1 + v2) / n
    if variance < 0:
        # The large-sample formula can go negative on tiny or one-sided tables (e.g. every
        # definite guess naming one arm); BI() then takes sqrt of a negative (NaN, warning).
        return JamesResult(bi=bi, se=math.nan, ci95=(math.nan, math.nan))
    se = math.sqrt(variance)
    half = _Z_TWO_SIDED * se
    return JamesResult(bi=bi, se=se, ci95=(bi - half, bi + half))


def brier_score(correct: Sequence[bool], confidence: Sequence[float]) -> float:
    """Mean squared error of the stated confidence that each guess is right [3]_.

    0 is perfect; always answering with confidence 0.5 scores 0.25 whatever happens.

    Examples
    --------
    >>> brier_score([True, False], [1.0, 0.5])
    0.125
    """
    if len(correct) != len(confidence):
        raise ValueError("correct and confidence must have the same length")
    if not correct:
        raise DataError("no rated guesses: a Brier score needs guesses with a confidence")
    conf = np.asarray(confidence, dtype=float)
    if np.isnan(conf).any() or (conf < 0.5).any() or (conf > 1.0).any():
        raise DataError("guess confidence must lie between 0.5 and 1: fix the confidence column")
    hit = np.asarray(correct, dtype=float)
    return float(np.mean((conf - hit) ** 2))


def correct_rate_by_week(
    weeks: Sequence[int], correct: Sequence[bool | None]
) -> list[dict[str, Any]]:
    """Share of correct guesses per week, unsure answers (``None``) left out of the rate.

    Returns one dict per week present, in week order: ``week``, ``n`` (definite guesses),
    ``correct``, ``rate`` (None when ``n`` is 0) and ``unsure`` (answers left out).

    Examples
    --------
    >>> correct_rate_by_week([1, 1, 2, 1], [True, None, False, False])
    [{'week': 1, 'n': 2, 'correct': 1, 'rate': 0.5, 'unsure': 1}, {'week': 2, 'n': 1, \
'correct': 0, 'rate': 0.0, 'unsure': 0}]
    """
    if len(weeks) != len(correct):
        raise ValueError("weeks and correct must have the same length")
    counts: dict[int, list[int]] = {}
    for week, hit in zip(weeks, correct, strict=True):
        tally = counts.setdefault(int(week), [0, 0, 0])  # definite, correct, unsure
        if hit is None:
            tally[2] += 1
        else:
            tally[0] += 1
            tally[1] += int(bool(hit))
    return [
        {
            "week": week,
            "n": n,
            "correct": k,
            "rate": k / n if n else None,
            "unsure": unsure,
        }
        for week, (n, k, unsure) in sorted(counts.items())
    ]
