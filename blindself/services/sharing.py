"""``blindself share``: an unblinded trial as an anonymized bundle (schema ``blindself-share/2``).

The bundle holds the dose-day data with day numbers counted from the start (no dates or notes),
each row's container code and its committed arm, the exclusion ``unblind`` applied, the
protocol's public parts, the commitment and the revealed allocation document, so that ``pool``
(:mod:`blindself.services.pooling`) can re-check every row (docs/design.md#share-bundle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blindself import __version__
from blindself.errors import TrialStateError
from blindself.trial.folder import opened_trial

# /2 since F24 (rows name the container taken and the exclusion unblind applied); a /1 bundle
# lacks both, so pool refuses it (docs/design.md#share-bundle).
SHARE_SCHEMA = "blindself-share/2"
OLD_SHARE_SCHEMAS = ("blindself-share/1",)


def share_trial(trial_dir: Path) -> dict[str, Any]:
    """The anonymized ``blindself-share/2`` bundle of an unblinded trial."""
    from blindself.services.daily import exclusion
    from blindself.services.unblinding import trial_data

    with opened_trial(trial_dir, readonly=True) as trial:
        unblind = trial.unblinding()
        if unblind is None:
            raise TrialStateError(
                "the trial is still blinded: run blindself unblind first, then share"
            )
        data = trial_data(trial)  # checks the allocation against the commitment first
        code_arm = {c["code"]: c["arm"] for c in unblind.payload["allocation"]["containers"]}
        p = trial.protocol
        d = p.design
        rows = [_bundle_row(r, code_arm, exclusion(r)) for r in data.rows
                if r.ratings or r.guess is not None]  # fmt: skip
        expectation = trial.genesis.get("expectation")
        return {
            "schema": SHARE_SCHEMA,
            "made_by": f"blindself {__version__}",
            "trial": {"title": p.title, "question": p.question},
            "protocol": {
                "arms": [
                    {"name": a.name, "kind": a.kind, "label": a.label, "dose": a.dose,
                     "unit": a.unit}
                    for a in p.arms
                ],
                "outcomes": [
                    {"name": o.name, "question": o.question, "scale": list(o.scale),
                     "better": o.better, "primary": o.primary, "mcid": o.mcid,
                     # pool compares a questionnaire by period (docs/design.md#pool-questionnaires)
                     "instrument": o.instrument.name if o.instrument is not None else None}
                    for o in p.outcomes
                ],
                "design": {
                    "kind": d.kind, "block": list(d.block), "blocks": d.blocks,
                    "counts": {a: n for a, n in d.counts}, "period_days": d.period_days,
                    "dosing": d.dosing, "baseline_days": d.baseline_days,
                    "washout_days": d.washout_days, "blinding": d.blinding,
                    "max_run": d.max_run,
                },
                "analysis": {
                    "alpha": p.analysis.alpha, "alternative": p.analysis.alternative,
                    "correction": p.analysis.correction, "missing": p.analysis.missing,
                    "statistic": p.analysis.statistic,
                },
            },
            "early": bool(unblind.payload.get("early", False)),
            "commitment": unblind.payload["commitment"],
            "allocation": unblind.payload["allocation"],
            "covariates": {"expectation": expectation},
            "calendar_days": (trial.calendar.end - trial.calendar.start).days + 1,
            "rows": rows,
        }  # fmt: skip


def _bundle_row(r: Any, code_arm: dict[str, str], excluded: str) -> dict[str, Any]:
    """One bundle row: what was taken, that container's committed arm, and whether (and why)
    the person's own analysis leaves the day out (docs/design.md#share-bundle).

    Reliability fix (F24): rows carried the period's *scheduled* code with the *analysis* arm
    and no exclusion, so pool called honest bundles with an accepted mix-up edited, or pooled
    a block taken in another block's days under the scheduled arms.  Now an analysed day names
    the code its period is analysed under (the code taken: dataset.from_trial), an excluded day
    the code typed that day (if any), and the arm is always that code's committed arm.
    """
    code = r.code if r.excluded else r.analysed_code
    if code not in code_arm:
        code = None
    return {
        "day": r.day,
        "day_type": r.day_type,
        "period": None if r.period is None else r.period + 1,
        "block": None if r.block is None else r.block + 1,
        "code": code,
        "arm": None if code is None else code_arm[code],
        "excluded": excluded,
        "guess": r.guess,
        "confidence": r.confidence,
        "ratings": dict(r.ratings),
        "taken": r.taken,
        "deviation": list(r.deviation),
        "codebroken": r.codebroken,
    }
