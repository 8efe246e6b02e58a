"""Randomization test that guesses are independent of the arm.

Statistic: the number of periods whose (last) guess names the arm the period had.  Under
the null hypothesis that the guess does not depend on the arm, the guesses are fixed and
the arms re-drawn from the design's own scheme, so the p-value is exact (or Monte Carlo
with ``(c+1)/(B+1)``) and respects blocks.  One-sided: only *more* correct guesses than
chance suggest the blind leaked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from blindself.analysis.stats.assignments import AssignmentSet
from blindself.trial.scheme import Scheme


def guess_independence_p(
    guess_by_period: Mapping[int, str],
    assignments: AssignmentSet,
    scheme: Scheme,
    blinded: Sequence[str],
) -> float | None:
    """P(at least as many correct guesses as observed) over the scheme's allocations.

    Examples
    --------
    Two blocks of two periods; the person guessed every period right.  Of the 4
    allocations only the observed one gets all 4 right, so p = 1/4:

    >>> from blindself.trial.scheme import Scheme
    >>> from blindself.analysis.stats.assignments import AssignmentSet
    >>> s = Scheme("blocks", ("a", "p"), block=("a", "p"), n_blocks=2)
    >>> m = np.array([[0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0]], dtype=np.int8)
    >>> sets = AssignmentSet(matrix=m, exact=True, total=4, draws=None)
    >>> guess_independence_p({0: "a", 1: "p", 2: "a", 3: "p"}, sets, s, ["a", "p"])
    0.25
    """
    periods = [p for p, g in guess_by_period.items() if g in blinded]
    if not periods:
        return None
    index = {a: i for i, a in enumerate(scheme.arms)}
    cols = np.array(periods)
    guessed = np.array([index[guess_by_period[p]] for p in periods], dtype=np.int16)
    correct = (assignments.matrix[:, cols] == guessed).sum(axis=1)
    observed = correct[0]  # row 0 is always the observed allocation
    if assignments.exact:
        return float(np.mean(correct >= observed))
    return float((np.sum(correct[1:] >= observed) + 1) / (len(correct) - 1 + 1))
