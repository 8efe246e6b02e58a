"""Between HTML forms and the services: field names, controls, and parsing into a request.

Parsing only turns text into the values the command line would pass (a number, a date, a
flag); whether they are acceptable is decided by the services, exactly as for ``checkin``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from blindself.errors import CheckinError
from blindself.services.diary import (
    SKIP,
    CheckinForm,
    CheckinRequest,
    RecordedDay,
    collect_ratings,
    parse_day,
)

RADIO_MAX_POINTS = 11  # 0-10 is the widest scale shown as one tap per point
CONFIDENCE_STEPS = (50, 60, 70, 80, 90, 100)


@dataclass(frozen=True)
class Control:
    """How one outcome is asked on the page."""

    field: str
    name: str
    question: str
    lo: float
    hi: float
    better: str
    points: tuple[int, ...]  # radio buttons; empty: a number box
    value: str  # what the form shows (the person's last entry on a re-shown form)

    @property
    def lo_text(self) -> str:
        return f"{self.lo:g}"

    @property
    def hi_text(self) -> str:
        return f"{self.hi:g}"


def controls(form: CheckinForm, values: Mapping[str, str]) -> tuple[Control, ...]:
    """One control per outcome: a row of buttons for short whole-number scales, else a box."""
    out = []
    for o in form.outcomes:
        lo, hi = o.scale
        whole = float(lo).is_integer() and float(hi).is_integer()
        points = tuple(range(int(lo), int(hi) + 1)) if whole else ()
        field = f"rate-{o.name}"
        out.append(
            Control(
                field=field,
                name=o.name,
                question=o.question,
                lo=lo,
                hi=hi,
                better=o.better,
                points=points if 0 < len(points) <= RADIO_MAX_POINTS else (),
                value=values.get(field, ""),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Question:
    """One item of a questionnaire on the page: a radio group of the instrument's options."""

    field: str  # answer-NAME-N (N from 1)
    number: int
    text: str
    value: str  # the option value shown chosen ("" for none)


@dataclass(frozen=True)
class Questionnaire:
    """A questionnaire due on the day: one fieldset, its items in published order."""

    name: str
    title: str
    instructions: str
    count_field: str  # items-NAME: how many items the page asked (see checkin_request)
    options: tuple[tuple[int, str], ...]  # (published value, label)
    questions: tuple[Question, ...]


def questionnaires(form: CheckinForm, values: Mapping[str, str]) -> tuple[Questionnaire, ...]:
    """The questionnaires due on the form's day (docs/design.md#instruments), as the terminal
    prompt asks them: the published stem, each item's text, the options by their values."""
    out = []
    for o in form.instruments:
        instrument = o.instrument
        if instrument is None:  # form.instruments holds questionnaires only
            continue
        questions = tuple(
            Question(
                field=f"answer-{o.name}-{i}",
                number=i,
                text=item.text,
                value=values.get(f"answer-{o.name}-{i}", ""),
            )
            for i, item in enumerate(instrument.items, start=1)
        )
        out.append(
            Questionnaire(
                name=o.name,
                title=instrument.title,
                instructions=instrument.instructions,
                count_field=f"items-{o.name}",
                options=tuple((c.value, c.label) for c in instrument.options),
                questions=questions,
            )
        )
    return tuple(out)


def parse_date(text: str | None) -> date | None:
    """An ISO date from a form or query, or a :class:`CheckinError` naming the bad text."""
    if text is None or text == "":
        return None
    try:
        return parse_day(text)  # the command line's rule: YYYY-MM-DD only (review F4)
    except ValueError:
        raise CheckinError(f"{text[:20]!r} is not a date (YYYY-MM-DD)") from None


def checkin_request(
    when: date, data: Mapping[str, str], *, replace: bool = False
) -> CheckinRequest:
    """The request a submitted check-in (or correction) form stands for.

    Every ``rate-NAME`` field becomes a rating; the services refuse unknown names and name
    every missing one, as for ``--rate``.
    """
    # Every submitted value, not the first of each name: a repeated rating field is refused by
    # the same rule as a repeated --rate (review F4).
    pairs = list(data.items(multi=True) if isinstance(data, MultiDict) else data.items())
    numbers: list[tuple[str, float]] = []
    for field, value in pairs:
        if not field.startswith("rate-"):
            continue
        name, text = field.removeprefix("rate-"), str(value).strip()
        if not text:
            continue
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise CheckinError(f"{name[:20]}: {text[:20]!r} is not a number") from None
        if not math.isfinite(number):
            raise CheckinError(f"{name[:20]}: {text[:20]!r} is not a number")
        numbers.append((name, number))
    ratings = collect_ratings(numbers)
    answers = _answers(pairs, data)
    no_capsule = data.get("no_capsule") == "1"
    guess = data.get("guess") or None
    confidence = None
    if guess not in (None, "unsure"):
        # Confidence belongs to a named guess; with "unsure" the question does not apply.
        conf_text = data.get("confidence", "").strip()
        if conf_text:
            if not conf_text.isdigit() or len(conf_text) > 3:
                raise CheckinError(f"confidence {conf_text[:20]!r} must be 50-100 (%)")
            confidence = int(conf_text)
    reason = data.get("reason", "").strip() or None
    if replace and reason is None:
        raise CheckinError("say why you correct this day (the reason is kept in the log)")
    code = data.get("code", "").strip() or None
    return CheckinRequest(
        date=when,
        code=code,
        ratings=ratings,
        guess=guess,
        confidence=confidence,
        note=data.get("note", "").replace("\r\n", "\n"),
        no_capsule=no_capsule,
        replace=replace,
        reason=reason,
        answers=answers,
    )


def _answers(pairs: list[tuple[str, Any]], data: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Questionnaire answers as ``checkin --rate NAME=a1,a2,...`` gives them.

    Fields ``answer-NAME-N`` hold the chosen option's value of item N; ``items-NAME`` says how
    many items the page asked.  An item sent without an answer is the command line's ``-``
    (skipped; the instrument's missing-item rule decides), so the services see the same list
    either way; a questionnaire with no answer at all is not given, and the services name it
    as missing.  The count and every value are judged by the services, as for ``--rate``.
    """
    given: dict[str, dict[int, str]] = {}
    for field, value in pairs:
        if not field.startswith("answer-"):
            continue
        name, _, number = field.removeprefix("answer-").rpartition("-")
        if not (number.isdigit() and len(number) <= 3 and name):
            raise CheckinError(f"{field[:40]!r} is not a question of this form")
        items = given.setdefault(name, {})
        if int(number) in items:
            raise CheckinError(f"{name[:20]} question {int(number)} is answered twice")
        items[int(number)] = str(value).strip()
    out: dict[str, tuple[str, ...]] = {}
    for name, items in given.items():
        if not any(items.values()):
            continue
        count_text = str(data.get(f"items-{name}", ""))
        count = int(count_text) if count_text.isdigit() and len(count_text) <= 3 else 0
        count = max(count, *items)
        out[name] = tuple(items.get(i) or SKIP for i in range(1, count + 1))
    return out


def recorded_values(day: RecordedDay) -> dict[str, str]:
    """A recorded day as form values, to start a correction from."""
    values: dict[str, str] = {f"rate-{k}": f"{v:g}" for k, v in day.ratings.items()}
    values["code"] = day.code or ""
    values["no_capsule"] = "1" if day.day_type == "dose" and not day.taken else ""
    values["guess"] = day.guess or ""
    values["confidence"] = "" if day.confidence is None else str(day.confidence)
    values["note"] = day.note
    for name, items in day.answers.items():
        for i, answer in enumerate(items, start=1):
            values[f"answer-{name}-{i}"] = "" if answer is None else str(answer)
    return values


def form_values(data: Mapping[str, Any]) -> dict[str, str]:
    """Submitted values to show again beside an error (bounded, text only)."""
    return {str(k): str(v)[:2000] for k, v in data.items() if k != "csrf"}
