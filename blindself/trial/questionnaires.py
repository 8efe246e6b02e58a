"""When a trial asks its questionnaires, and what an answer to one must be
(docs/design.md#instruments).

Arm-free like the calendar: which days an instrument is due depends only on the protocol and
the start date, so prompts, refusals and ``status`` may name them before unblinding.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from blindself.errors import CheckinError
from blindself.protocol.instrument import band_of, score_answers
from blindself.protocol.model import WEEKDAYS, Instrument, Outcome, Protocol
from blindself.trial.schedule import Calendar, Day

SKIP = "-"  # an item left unanswered, on the command line and at the prompt


def checkin_day(protocol: Protocol, day: Day) -> bool:
    """Whether the protocol asks for a check-in on ``day`` at all."""
    return protocol.checkin.days == "all" or day.day_type in ("baseline", "dose")


def instrument_dates(protocol: Protocol, calendar: Calendar, outcome: Outcome) -> tuple[date, ...]:
    """The days ``outcome`` (an instrument) is asked, in order.

    ``every``: every check-in day.  ``weekly:DAY``: every such weekday.  ``fortnightly:DAY``:
    every other such weekday, from the first of the trial.  ``period-end``: the last check-in
    day of each period (its "day after" days included).  ``baseline-and-end``: the last
    check-in day before the first period (the first trial day without a run-in) and the
    trial's last check-in day.
    """
    days = [d for d in calendar.days if checkin_day(protocol, d)]
    kind, _, weekday = outcome.schedule.partition(":")
    if kind == "every":
        return tuple(d.date for d in days)
    if kind in ("weekly", "fortnightly"):
        wanted = WEEKDAYS.index(weekday)
        on_day = [d.date for d in days if d.date.weekday() == wanted]
        return tuple(on_day if kind == "weekly" else on_day[::2])
    if kind == "period-end":
        last: dict[int, date] = {}
        for d in days:
            if d.period is not None:
                last[d.period] = d.date
        return tuple(last[p] for p in sorted(last))
    # baseline-and-end
    before = [d.date for d in days if d.period is None and d.day_type == "baseline"]
    first = before[-1] if before else days[0].date
    return tuple(sorted({first, days[-1].date}))


def due_instruments(protocol: Protocol, calendar: Calendar, when: date) -> tuple[Outcome, ...]:
    """The instruments asked on ``when``, in protocol order."""
    return tuple(o for o in protocol.instruments if when in instrument_dates(protocol, calendar, o))


def next_due(protocol: Protocol, calendar: Calendar, outcome: Outcome, after: date) -> date | None:
    """The first day on or after ``after`` that ``outcome`` is asked (None: never again)."""
    return next((d for d in instrument_dates(protocol, calendar, outcome) if d >= after), None)


def not_due_message(protocol: Protocol, calendar: Calendar, outcome: Outcome, when: date) -> str:
    """Why ``--rate`` for an instrument is refused on ``when``, naming its next due day."""
    nxt = next_due(protocol, calendar, outcome, when)
    then = f"next due {nxt}" if nxt else "not asked again in this trial"
    return f"--rate {outcome.name}: {outcome.question} is not asked on {when} ({then})"


def parse_answers(outcome: Outcome, raw: Sequence[str]) -> tuple[int | None, ...]:
    """Item answers typed as option values in item order (``-`` skips an item)."""
    instrument = _instrument(outcome)
    n = len(instrument.items)
    lo, hi = instrument.item_range
    usage = (
        f"give {n} answers ({lo}-{hi}, {SKIP} to skip an item) in item order, e.g. "
        f"--rate {outcome.name}={','.join(str(lo) for _ in range(n))}"
    )
    if len(raw) != n:
        raise CheckinError(
            f"--rate {outcome.name}: {instrument.title} has {n} items and {len(raw)} answers "
            f"were given; {usage}",
            plain=f"{instrument.title} has {n} questions: answer each one",
        )
    out: list[int | None] = []
    for i, text in enumerate(raw, start=1):
        text = text.strip()
        if text == SKIP:
            out.append(None)
            continue
        if not (text.isascii() and text.lstrip("-").isdigit() and lo <= int(text) <= hi):
            shown = "".join(c if c.isprintable() else "?" for c in text[:10])
            raise CheckinError(
                f"--rate {outcome.name}: item {i} answer {shown!r} is not one of {lo}-{hi}; {usage}",
                plain=f"{instrument.title} question {i}: choose one of the answers {lo}-{hi}",
            )
        out.append(int(text))
    return tuple(out)


def unscored_notes(payload: dict[str, Any]) -> list[str]:
    """One line per questionnaire a check-in recorded without a score (too many items
    skipped), said once when it is recorded (adv3 F11: it was silent, and log then showed no
    score for the day)."""
    from blindself.protocol.instrument import instrument_for_rule

    out = []
    for record in (payload.get("answers") or {}).values():
        if record.get("score") is not None:
            continue
        try:
            instrument = instrument_for_rule(str(record.get("scoring")))
        except KeyError:
            continue
        skipped = sum(1 for a in record.get("items") or [] if a is None)
        allowed = instrument.max_missing
        out.append(
            f"{instrument.title} not scored: at most {allowed} "
            f"{'item' if allowed == 1 else 'items'} may be skipped and {skipped} "
            f"{'was' if skipped == 1 else 'were'}; the answers are kept (blindself checkin "
            "--replace can answer them)"
        )
    return out


def answers_record(outcome: Outcome, answers: tuple[int | None, ...]) -> dict[str, Any]:
    """What the log stores for one instrument: the item answers, the score and its rule."""
    instrument = _instrument(outcome)
    score = score_answers(instrument, answers)
    return {
        "items": list(answers),
        # Whole scores stay integers in the log's canonical JSON, as ratings do.
        "score": int(score) if score is not None and score.is_integer() else score,
        "scoring": instrument.scoring_version,
    }


def check_answers(
    protocol: Protocol,
    calendar: Calendar,
    due: tuple[Outcome, ...],
    when: date,
    ratings: dict[str, float],
    answers: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """The answers to the questionnaires ``due`` on ``when``, checked and scored.

    ``ratings`` are the day's single numbers (one given for a questionnaire is judged as a
    one-answer list); ``answers`` the lists given by instrument name.
    """
    given = dict(answers)
    for name, value in ratings.items():
        if name in given:
            raise CheckinError(
                f"{name!r} is given twice; give each rating once",
                plain=f"{name} is given twice; give it once",
            )
        if any(o.name == name for o in protocol.instruments):
            # A single number for a questionnaire: judged as one answer (wrong count).
            given[name] = (f"{value:g}",)
    out: dict[str, Any] = {}
    for name, raw in given.items():
        outcome = next((o for o in protocol.instruments if o.name == name), None)
        if outcome is None:
            shown = "".join(c if c.isprintable() else "?" for c in name[:20])
            if any(o.name == name for o in protocol.outcomes):
                raise CheckinError(
                    f"--rate {shown}: give one number, not a list of answers",
                    plain=f"{shown} takes one number",
                )
            raise CheckinError(
                f"--rate {shown}: no such outcome (outcomes: "
                f"{', '.join(o.name for o in protocol.outcomes)})",
                plain=f"{shown} is not an outcome of this trial",
            )
        if outcome not in due:
            message = not_due_message(protocol, calendar, outcome, when)
            raise CheckinError(message, plain=message.partition(": ")[2])
        out[name] = answers_record(outcome, parse_answers(outcome, raw))
    missing = [o for o in due if o.name not in out]
    if missing:
        raise CheckinError(
            "missing answers: "
            + ", ".join(o.name for o in missing)
            + f" (due on {when}; give --rate NAME=a1,a2,... with one answer per item, "
            f"{SKIP} to skip one)",
            plain=f"{', '.join(o.question for o in missing)} is due on {when}: answer its "
            "questions",
        )
    return {o.name: out[o.name] for o in due}


def severe_notice(o: Outcome) -> str:
    """What the check-in (terminal and web) says, once, when a score enters its "severe" band.

    One sentence for both front ends (docs/design.md#instruments): not a diagnosis, no
    medical advice, and talking to a professional is a good idea.
    """
    return (
        f"Your {o.question} score is in its published 'severe' range. This is not a "
        "diagnosis, and blindself gives no medical advice, but talking to a doctor or "
        "another health professional about how you feel is a good idea."
    )


def severe_crossings(
    protocol: Protocol, current: dict[str, Any], when: date
) -> tuple[Outcome, ...]:
    """Instruments whose score on ``when`` entered their published "severe" band.

    Said once per entry into the band (docs/design.md#instruments): when the day's score is
    severe and the instrument's latest score before that day was not (or there was none).
    ``current`` maps ISO dates to check-in payloads.
    """
    out = []
    for o in protocol.instruments:
        scores = {
            day: p["ratings"][o.name]
            for day, p in current.items()
            if isinstance(p.get("ratings"), dict) and p["ratings"].get(o.name) is not None
        }
        today = scores.get(when.isoformat())
        if today is None or not _severe(o, today):
            continue
        earlier = [d for d in scores if d < when.isoformat()]
        if not earlier or not _severe(o, scores[max(earlier)]):
            out.append(o)
    return tuple(out)


def _severe(o: Outcome, score: float) -> bool:
    band = band_of(_instrument(o), score)
    return band is not None and band.severe


def _instrument(o: Outcome) -> Instrument:
    if o.instrument is None:
        raise ValueError(f"outcome {o.name!r} is not a questionnaire")
    return o.instrument
