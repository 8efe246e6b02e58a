"""The blinding section of report.json: each period's last guess against its arm (docs/design.md#blinding).

The guess table, Bang's and James' indices, a randomization test that guesses are independent
of the arm under the design's own scheme, the Brier score and the correct rate by week; the
numerics are in :mod:`blindself.analysis.stats.blinding` and :mod:`blindself.analysis.stats.guesses`.
"""

from __future__ import annotations

from typing import Any

from blindself.analysis.dataset import DayRow, TrialData
from blindself.analysis.secondary import ReferenceLookup, as_float, as_pair, attempt
from blindself.analysis.stats import blinding
from blindself.analysis.stats.guesses import guess_independence_p
from blindself.wording import count


def blinding_section(
    data: TrialData,
    rows: list[DayRow],
    reference: ReferenceLookup,
    placebo: str,
    actives: list[str],
) -> dict[str, Any]:
    """The blinding section (docs/design.md#blinding): each period's last guess against its arm."""
    blinded = [a.name for a in data.arms if a.kind != "none"]
    answers = {*blinded, blinding.UNSURE}
    notes: list[str] = []
    last: dict[int, DayRow] = {}
    other = 0
    for r in rows:
        if r.day_type == "dose" and r.period is not None and r.guess and r.arm in blinded:
            if r.guess in answers:
                last[r.period] = r
            else:
                other += 1
    if other:
        # e.g. a CSV guess naming the open no-capsule arm on a blinded day
        notes.append(
            f"{count(other, 'guess', 'guesses')} naming no blinded arm "
            f"{'was' if other == 1 else 'were'} left out"
        )
    periods = sorted(last)
    actual = [last[p].arm or "" for p in periods]
    guesses = [last[p].guess or "" for p in periods]
    table = blinding.guess_table(actual, guesses, blinded)
    pair = [actives[0], placebo] if actives else None
    out: dict[str, Any] = {
        "level": "last guess of each period",
        "arms": blinded,
        "table": table,
        "n_periods": len(periods),
        "pair": pair,
        "bang": None,
        "james": None,
        "p_randomization": None,
        "randomization": None,
        "brier": None,
        "n_brier": 0,
        "by_week": [],
        "notes": notes,
    }
    if not periods:
        return out
    if pair is not None:
        sub = {g: {a: table[g][a] for a in pair} for g in [*pair, blinding.UNSURE]}
        bang = blinding.bang_index(sub, pair)
        out["bang"] = {
            a: {"bi": as_float(b.bi), "se": as_float(b.se), "limit95": as_float(b.limit95)}
            for a, b in bang.items()
        }
        j = blinding.james_index(sub, pair)
        out["james"] = {"bi": as_float(j.bi), "se": as_float(j.se), "ci95": as_pair(j.ci95)}
    # The none periods are unblinded (their guess would differ had they been blinded), so
    # they keep their arm: the set re-shuffles only the blinded arms.
    ref = reference(blinded)
    out["p_randomization"] = as_float(
        guess_independence_p({p: last[p].guess or "" for p in periods}, ref, data.scheme, blinded)
    )
    out["randomization"] = {
        "exact": ref.exact,
        "assignments": ref.total,
        "draws": ref.draws,
        "alternative": "greater (more correct guesses than chance)",
        # Perfect guessing on the periods actually guessed (the others were excluded or
        # never guessed): 1 / N of the whole set is out of reach once periods drop out
        # (adversary review F6: "smallest possible p 0.0625" above 6 of 6 right at p 0.125).
        "p_min": as_float(
            guess_independence_p(
                {p: a for p, a in zip(periods, actual, strict=True)}, ref, data.scheme, blinded
            )
        ),
    }
    sure = [
        i
        for i, g in enumerate(guesses)
        if g != blinding.UNSURE and last[periods[i]].confidence is not None
    ]
    if sure:
        brier = attempt(
            notes,
            "Brier score",
            blinding.brier_score,
            [guesses[i] == actual[i] for i in sure],
            [float(last[periods[i]].confidence or 0) / 100 for i in sure],
        )
        out["brier"] = as_float(brier)
        out["n_brier"] = len(sure) if brier is not None else 0
    daily = [r for r in rows if r.day_type == "dose" and r.guess in answers and r.arm in blinded]
    out["by_week"] = blinding.correct_rate_by_week(
        [r.day // 7 + 1 for r in daily],
        [None if r.guess == blinding.UNSURE else r.guess == r.arm for r in daily],
    )
    return out
