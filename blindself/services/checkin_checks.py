"""Checks made while a check-in is being typed, so a mistake is caught when it is made.

The CLI prompt (and a future web check-in page) calls these before asking for ratings: the
container code first (:func:`check_code`), then whether the day is already recorded
(:func:`recorded_checkin`).  Like the rest of the daily path they read the protocol, the
public schedule and the log only, never the seal: every verdict and message is the same
whichever code is active.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from blindself.errors import BlindselfError
from blindself.services.context import Context
from blindself.trial.checkins import (
    USED_TWICE,
    CheckinForm,
    CheckinRequest,
    check_container_code,
    checkin_form,
)
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.progress import current_checkins
from blindself.trial.questionnaires import SKIP


@dataclass(frozen=True)
class CodeVerdict:
    """What to do with a typed code: record it, ask the person to confirm, or refuse it.

    ``status`` is ``"ok"``, ``"confirm"`` (a code from another bag, another day's container,
    a container of several doses already used in another period: it may be a mix-up, or what
    was really taken) or ``"refused"`` (unknown, a one-dose container already used in another
    period, or not this period's code).  ``code`` is the code as
    printed on the label (None when refused); ``message`` is one plain sentence.
    """

    status: Literal["ok", "confirm", "refused"]
    code: str | None
    message: str
    plain: str = ""  # the message in a form's words (no command-line flags), if it differs


def check_code(trial_dir: Path, day: date, code: str, ctx: Context) -> CodeVerdict:
    """Judge a container code typed for ``day``, before anything else is asked."""
    with opened_trial(trial_dir, readonly=True) as trial:
        form = checkin_form(trial, day, trial.today(ctx.now()))
        return code_verdict(trial, form, code, trial.store.entries())


def code_verdict(trial: Trial, form: CheckinForm, code: str, entries: list[Entry]) -> CodeVerdict:
    """:func:`check_code` on an open trial: the same rule the check-in itself applies."""
    try:
        canonical, deviations = check_container_code(trial, form, code, entries)
    except BlindselfError as exc:
        return CodeVerdict("refused", None, _sentence(str(exc)), _sentence(exc.plain))
    shown = format_code(canonical)
    day = form.day
    if USED_TWICE in deviations:
        used_on = sorted(
            str(e.day)
            for e in current_checkins(entries).values()
            if e.payload.get("code") == canonical and e.day != day.date.isoformat()
        )
        return CodeVerdict(
            "confirm",
            shown,
            f"{shown} was already recorded on {', '.join(used_on)}, in another period. If you "
            f"really took {shown} today (a container opened a period early and used on), record "
            "it: the analysis leaves out the period where it does not belong. If that earlier "
            f"day's code was the mistake, correct {used_on[0]} instead; if not, type the code on "
            "today's container.",
        )
    if "wrong-bag" in deviations:
        bag = (trial.schedule.bag_of(canonical) or 0) + 1
        return CodeVerdict(
            "confirm",
            shown,
            f"{shown} is from bag {bag}, but {day.date} is a bag {form.bag} day. If you really "
            f"took it, record it: if bag {bag} is used up entirely in bag {form.bag}'s days the "
            "analysis counts it as taken, otherwise those days are left out of the comparison; "
            f"if not, type the code of an envelope from bag {form.bag}.",
        )
    if "container-swapped" in deviations:
        when = _scheduled_date(trial, canonical)
        return CodeVerdict(
            "confirm",
            shown,
            f"{shown} is the container for {when}, not for {day.date} (that is "
            f"{form.expected_code}). If you really took {shown}, record it (the analysis counts "
            "what you took); if not, type the code on today's container.",
        )
    return CodeVerdict("ok", shown, f"{shown} is a {day.date} container.")


def recorded_checkin(trial_dir: Path, day: date) -> Entry | None:
    """The check-in currently recorded for ``day`` (latest correction), if any."""
    with opened_trial(trial_dir, readonly=True) as trial:
        return current_checkins(trial.store.entries()).get(day.isoformat())


def kept_fields(req: CheckinRequest, old: dict[str, Any]) -> CheckinRequest:
    """A ``--replace`` request with every field it does not give taken from ``old``.

    Ratings merge per outcome; the guess keeps its confidence only when the guess itself is
    kept or repeated; the note is kept unless a new one (even an empty one) is given; the code
    and whether the container was taken are kept unless a code or --no-capsule is given.
    """
    # A questionnaire's score is kept through its answers (it is rescored), not as a rating.
    old_answers = old.get("answers") or {}
    answers = {
        name: tuple(SKIP if a is None else str(a) for a in record["items"])
        for name, record in old_answers.items()
    }
    answers.update(req.answers)
    kept = {k: v for k, v in old.get("ratings", {}).items() if k not in old_answers}
    ratings = {**kept, **req.ratings}
    for name in req.ratings:
        answers.pop(name, None)
    guess, confidence = req.guess, req.confidence
    if guess is None:
        guess = old.get("guess")
        if confidence is None:
            confidence = old.get("confidence")
    elif confidence is None and guess == old.get("guess"):
        confidence = old.get("confidence")
    code, no_capsule = req.code, req.no_capsule
    if code is None and not no_capsule:
        code = old.get("code")
        no_capsule = bool(old.get("period") and old.get("day_type") == "dose") and not old.get(
            "taken"
        )
        code = format_code(code) if code else None
    note = req.note if req.note is not None else old.get("note", "")
    return replace(
        req,
        code=code,
        ratings=ratings,
        answers=answers,
        guess=guess,
        confidence=confidence,
        note=note,
        no_capsule=no_capsule,
    )


def describe_checkin(payload: dict[str, Any]) -> str:
    """One line of what a check-in recorded, in the person's own terms (no arm)."""
    parts = []
    if payload.get("code"):
        taken = "" if payload.get("taken", True) else " (not taken)"
        parts.append(f"code {format_code(payload['code'])}{taken}")
    elif payload.get("day_type") == "dose":
        parts.append("no capsule")
    ratings = payload.get("ratings") or {}
    if ratings:
        parts.append(", ".join(f"{k} {v:g}" for k, v in ratings.items()))
    if payload.get("guess"):
        conf = payload.get("confidence")
        parts.append(f"guess {payload['guess']}" + (f" ({conf} % sure)" if conf else ""))
    if payload.get("note"):
        note = str(payload["note"])
        parts.append(f"note {note[:60]!r}" + ("..." if len(note) > 60 else ""))
    return "; ".join(parts) or "nothing"


def _scheduled_date(trial: Trial, code: str) -> str:
    """The first day of the period whose container ``code`` is (helper mode), as text."""
    period = trial.schedule.period_code.index(code)
    first = next(d.date for d in trial.calendar.days if d.period == period and d.is_dose)
    return first.isoformat()


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
