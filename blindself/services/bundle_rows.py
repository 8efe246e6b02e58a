"""Row checks of a ``blindself-share/1`` bundle before pooling (docs/design.md T-46)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from blindself.errors import DataError

if TYPE_CHECKING:
    from blindself.trial.allocation import AllocationDoc


def check_rows(name: str, b: dict[str, Any], doc: AllocationDoc) -> None:
    """Every row's arm from the committed allocation; every value finite and on its scale.

    Reliability fix (docs/design.md T-46): only helper-mode rows with a period were checked, so
    swapping every row's arm in a self-blinded bundle flipped the pooled effect, and a rating of
    1e308 silently dropped its measure from the model.
    """
    by_code = {c.code: c for c in doc.containers}
    scales: dict[str, tuple[float, float]] = {}
    for o in b["protocol"]["outcomes"]:
        lo, hi = o["scale"]
        scales[str(o["name"])] = (float(lo), float(hi))
    for i, r in enumerate(b["rows"], start=1):
        where = f"{name}: row {i} (day {r.get('day')})"
        arm = r.get("arm")
        if arm is not None:
            container = by_code.get(r.get("code"))
            if container is None:
                raise DataError(
                    f"{where} has an arm but no container code of its allocation; it was "
                    "edited or made by an older blindself: share the trial again"
                )
            period = r.get("period")
            if (
                container.arm != arm
                or (container.period is not None and container.period != period)
                or (container.block != r.get("block"))
            ):
                raise DataError(
                    f"{where}: its arm does not match the committed allocation; the bundle was "
                    "edited after unblinding and cannot be pooled"
                )
        ratings = r.get("ratings") or {}
        if not isinstance(ratings, dict):
            # Fix: a list here crashed pool with a traceback (issue 11 item 3).
            raise DataError(f"{where}: its ratings are not NAME: VALUE pairs")
        for measure, value in ratings.items():
            if value is None:
                continue
            if measure not in scales:
                raise DataError(f"{where} rates {str(measure)[:40]!r}, which is no outcome")
            lo, hi = scales[measure]
            if not _number(value) or not lo <= float(value) <= hi:
                raise DataError(
                    f"{where}: {measure} = {str(value)[:40]} is outside its scale "
                    f"{lo:g}-{hi:g}; the bundle was edited and cannot be pooled"
                )
        confidence = r.get("confidence")
        if confidence is not None and not (_number(confidence) and 0 <= confidence <= 100):
            raise DataError(f"{where}: confidence {str(confidence)[:40]} is outside 0-100")


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
