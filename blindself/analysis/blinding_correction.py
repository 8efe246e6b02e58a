"""The blinding-corrected effect of one contrast: report.json's ``cgrc`` object.

The Correct Guess Rate Curve (:mod:`blindself.analysis.stats.cgrc`) on the rated dose
days of the active arm and placebo, each day stratified by the arm and the guess made at
that day's check-in.  A guess naming any active arm counts as "guessed active"; "unsure" days are
left out and counted; days without a guess are left out and counted apart.  Periods are
the resampling units (resampled within arm, as randomized), so the days of one period
are never treated as independent.  A sensitivity analysis, not a randomized contrast:
the guess is measured after randomization.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from blindself.analysis.dataset import DayRow

#: Shown wherever the corrected estimate is: what it is and what it rests on.
LABEL = (
    "Sensitivity analysis (exploratory): it re-weights your days by arm and guess to "
    "mimic a perfect blind; the guess is measured after randomization, so this is not a "
    "randomized comparison and rests on its assumptions."
)


def cgrc_section(
    rows: Sequence[DayRow],
    y: np.ndarray,
    arm: np.ndarray,
    period: np.ndarray,
    act: str,
    placebo: str,
    actives: Sequence[str],
    seed_material: str,
) -> dict[str, Any] | None:
    """The ``cgrc`` object of the ``act`` - ``placebo`` contrast; None without any guess.

    ``y`` is NaN outside rated dose days, ``period`` the 0-based period per row.
    """
    from blindself.analysis.stats.cgrc import correct_guess_rate_curve

    guess = np.array([r.guess or "" for r in rows], dtype=object)
    two = ((arm == act) | (arm == placebo)) & ~np.isnan(y)
    if not np.any(two & (guess != "")):
        return None
    guessed = np.full(len(rows), np.nan)
    guessed[np.isin(guess, list(actives))] = 1.0
    guessed[guess == placebo] = 0.0
    # a guess naming a third, unblinded arm says nothing about active vs placebo
    other = two & (guess != "") & (guess != "unsure") & np.isnan(guessed)
    keep = two & (guess != "") & ~other
    digest = hashlib.sha256(f"{seed_material}|cgrc|{act}".encode()).digest()
    result = correct_guess_rate_curve(
        y[keep],
        (arm[keep] == act).astype(float),
        guessed[keep],
        cluster=period[keep],
        rng=np.random.default_rng(int.from_bytes(digest[:8], "big")),
    )
    return {
        **result.to_json(),
        "no_guess": int(np.sum(two & (guess == ""))),
        "other_guess": int(np.sum(other)),
        "unit": "period",
        "label": LABEL,
    }
