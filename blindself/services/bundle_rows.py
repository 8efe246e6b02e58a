"""Row checks of a ``blindself-share/2`` bundle before pooling (docs/design.md T-46)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from blindself.errors import DataError

if TYPE_CHECKING:
    from blindself.trial.allocation import AllocationDoc


def check_rows(name: str, b: dict[str, Any], doc: AllocationDoc) -> None:
    """Every row's arm from the committed allocation; every value finite and on its scale.

    Reliability fixes (docs/design.md T-46): only helper-mode rows with a period were checked,
    so swapping every row's arm in a self-blinded bundle flipped the pooled effect, and a
    rating of 1e308 silently dropped its measure from the model.  F24: a row names the code
    *taken* (a within-block swap, a container of another block), so the arm is checked by that
    code, not by the period's scheduled one.  F11: a row repeated gave its person double weight.
    """
    by_code = {c.code: c for c in doc.containers}
    scales: dict[str, tuple[float, float]] = {}
    for o in b["protocol"]["outcomes"]:
        lo, hi = o["scale"]
        scales[str(o["name"])] = (float(lo), float(hi))
    n_days = b.get("calendar_days")
    if not isinstance(n_days, int) or isinstance(n_days, bool) or n_days < 1:
        raise DataError(f"{name} has no calendar length; it was made by an older blindself: "
                        "share the trial again")  # fmt: skip
    seen_days: set[int] = set()
    code_of_period: dict[Any, str] = {}
    period_of_code: dict[str, Any] = {}
    bag_of_slot: dict[Any, Any] = {}
    for i, r in enumerate(b["rows"], start=1):
        where = f"{name}: row {i} (day {str(r.get('day'))[:20]})"
        day = r.get("day")
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day < n_days:
            raise DataError(f"{where} is not a day of its {n_days}-day trial calendar")
        if day in seen_days:
            raise DataError(f"{where} repeats a day; the bundle was edited and cannot be pooled")
        seen_days.add(day)
        excluded = r.get("excluded")
        if not isinstance(excluded, str):
            raise DataError(f"{where} has no exclusion field; it was made by an older "
                            "blindself: share the trial again")  # fmt: skip
        arm, code = r.get("arm"), r.get("code")
        if arm is not None or code is not None:
            container = by_code.get(code) if isinstance(code, str) else None
            if container is None:
                raise DataError(
                    f"{where} has an arm but no container code of its allocation; it was "
                    "edited or made by an older blindself: share the trial again"
                )
            if container.arm != arm or (
                not excluded
                and not _consistent(r, container, code_of_period, period_of_code, bag_of_slot)
            ):
                raise DataError(
                    f"{where}: its arm does not match the committed allocation; the bundle was "
                    "edited after unblinding and cannot be pooled"
                )
        _check_values(where, r, scales)


def _consistent(
    r: dict[str, Any],
    container: Any,
    code_of_period: dict[Any, str],
    period_of_code: dict[str, Any],
    bag_of_slot: dict[Any, Any],
) -> bool:
    """An analysed row fits the rule dataset.from_trial analyses by: one container a period,
    each container in one period, and the containers of one block's days from one block of
    the allocation (so moving codes between blocks, arms and all, is still caught)."""
    period, code = r.get("period"), container.code
    if code_of_period.setdefault(period, code) != code:
        return False
    if period_of_code.setdefault(code, period) != period:
        return False
    return bool(bag_of_slot.setdefault(r.get("block"), container.block) == container.block)


def _check_values(where: str, r: dict[str, Any], scales: dict[str, tuple[float, float]]) -> None:
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
