"""Looking back: every past day of a trial as the person recorded it (``blindself log``).

Built from the protocol, the public schedule and the log only (docs/design.md#looking-back):
before unblinding nothing here reads the seal, so the view is the same whichever code is
active.  After unblinding each day also carries the arm its period is analysed under, from
the same derivation as ``export`` (``analysed_days``), checked against the commitment first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from blindself.services.context import Context
from blindself.services.daily import scheduled
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.log.store import Entry
from blindself.trial.progress import CHECKIN_KINDS

# A deviation recorded in a check-in's payload, in words (the payload keeps the short form).
DEVIATION_WORDS = {
    "wrong-bag": "wrong bag",
    "container-swapped": "other day's container",
    "clock-regression": "clock went back",
}
HISTORY_SCHEMA = "blindself-log/1"
# Day types that ask for a check-in (when the protocol rates them); any other type the
# schedule gives (a pause, issue 16 item 2) is listed with its own flag and is never missed.
ORDINARY = ("baseline", "dose", "off", "washout")
SPECIAL_FLAGS = {"pause": "paused"}


@dataclass(frozen=True)
class Version:
    """One recorded version of a day: the current one or one a correction superseded."""

    seq: int
    kind: str  # "checkin" | "correction"
    recorded_at: str | None
    code: str | None  # display form, e.g. K7M2-X
    taken: bool | None
    ratings: dict[str, float]
    guess: str | None
    confidence: int | None
    note: str
    reason: str | None  # why a correction was made (on the correcting version)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "recorded_at": self.recorded_at,
            "code": self.code,
            "taken": self.taken,
            "ratings": self.ratings,
            "guess": self.guess,
            "confidence": self.confidence,
            "note": self.note,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Imported:
    """An outcome value brought in with ``blindself import``, and where it came from."""

    seq: int
    outcome: str
    value: float
    source: dict[str, Any]  # file, sha256, column, rows, combine
    imported_at: str | None
    replaced: int  # how many earlier imported values of the day and outcome it supersedes

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "outcome": self.outcome,
            "value": self.value,
            "source": self.source,
            "imported_at": self.imported_at,
            "replaced": self.replaced,
        }


@dataclass(frozen=True)
class LoggedDay:
    """A past (or today's recorded) trial day: what was due, what was recorded, what went wrong.

    ``current`` is None on a day with no check-in; ``earlier`` holds the superseded versions,
    oldest first; ``flags`` name deviations in words; ``arm`` is None before unblinding.
    """

    date: date
    day_type: str
    period: int | None  # 1-based
    bag: int | None  # self mode: the bag to open (public); None in helper mode
    container: str | None  # helper mode: the container scheduled for the day (public)
    current: Version | None
    earlier: tuple[Version, ...]
    flags: tuple[str, ...]
    arm: str | None = None
    # values another app measured (docs/design.md#imported-outcomes), in the protocol's order
    imported: tuple[Imported, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date": self.date.isoformat(),
            "day_type": self.day_type,
            "period": self.period,
            "bag": self.bag,
            "container": self.container,
            "recorded": self.current.to_json() if self.current else None,
            "earlier": [v.to_json() for v in self.earlier],
            "flags": list(self.flags),
            "imported": [i.to_json() for i in self.imported],
        }
        if self.arm is not None:
            out["arm"] = self.arm
        return out


@dataclass(frozen=True)
class CodeBreak:
    """A logged code-break: the code opened and the codes it implies (never an arm)."""

    seq: int
    code: str
    implied: tuple[str, ...]
    reason: str
    time: str | None


@dataclass(frozen=True)
class LostRecord:
    """A container reported lost or damaged (``blindself lost``): a public log fact."""

    seq: int
    date: date
    code: str  # display form
    what: str  # "lost" | "damaged"
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "date": self.date.isoformat(),
            "code": self.code,
            "what": self.what,
            "note": self.note,
        }


@dataclass(frozen=True)
class History:
    trial_id: str
    title: str
    today: date
    unblinded: bool
    outcomes: tuple[str, ...]
    days: tuple[LoggedDay, ...]
    codebreaks: tuple[CodeBreak, ...]
    lost: tuple[LostRecord, ...] = ()  # listed whatever the range, as code-breaks (review F8)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": HISTORY_SCHEMA,
            "trial": self.trial_id,
            "title": self.title,
            "today": self.today.isoformat(),
            "unblinded": self.unblinded,
            "outcomes": list(self.outcomes),
            "days": [d.to_json() for d in self.days],
            "codebreaks": [
                {
                    "seq": c.seq,
                    "code": c.code,
                    "implied": list(c.implied),
                    "reason": c.reason,
                    "time": c.time,
                }
                for c in self.codebreaks
            ],
            "lost": [x.to_json() for x in self.lost],
        }


def trial_history(
    trial_dir: Path,
    ctx: Context,
    since: date | None = None,
    until: date | None = None,
    last: int | None = None,
) -> History:
    """The trial's days up to today (or the last day), oldest first, within ``since..until``;
    ``last`` keeps only the newest ``last`` of them."""
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        entries = trial.store.entries()
        arms = _arms_after_unblinding(trial)
        broken = _codebreaks(entries)
        opened = {c for b in broken for c in (b.code, *b.implied)}
        versions = _versions_by_day(entries)
        imported = _imported_by_day(entries, [o.name for o in trial.protocol.outcomes])
        days = []
        for d in trial.calendar.days:
            iso = d.date.isoformat()
            recorded = versions.get(iso, [])
            special = d.day_type not in ORDINARY
            if d.date > today or not (recorded or special or scheduled(trial, d.day_type)):
                continue
            if (since is not None and d.date < since) or (until is not None and d.date > until):
                continue
            current = recorded[-1] if recorded else None
            if current is None and d.date == today and not special and iso not in imported:
                continue  # today is not missed yet, and there is nothing to look back on
            day = _logged_day(trial, d, recorded, opened, arms)
            days.append(replace(day, imported=imported.get(iso, ())))
        if last is not None:
            days = days[-last:]
        return History(
            trial_id=trial.trial_id,
            title=trial.protocol.title,
            today=today,
            unblinded=arms is not None,
            outcomes=tuple(o.name for o in trial.protocol.outcomes),
            days=tuple(days),
            codebreaks=tuple(
                CodeBreak(b.seq, format_code(b.code), tuple(format_code(c) for c in b.implied),
                          b.reason, b.time)
                for b in broken
            ),
            lost=_lost(entries),
        )  # fmt: skip


def _logged_day(
    trial: Trial,
    d: Any,
    recorded: list[Entry],
    opened: set[str],
    arms: dict[str, str | None] | None,
) -> LoggedDay:
    schedule = trial.schedule
    container = bag = None
    if d.is_dose and d.period is not None:
        if schedule.period_code:
            container = format_code(schedule.period_code[d.period])
        elif d.block is not None:
            bag = d.block + 1
    order = [o.name for o in trial.protocol.outcomes]
    versions = [_version(e, order) for e in recorded]
    current = recorded[-1].payload if recorded else None
    flags: list[str] = []
    if d.day_type not in ORDINARY:
        flags.append(SPECIAL_FLAGS.get(d.day_type, d.day_type))
    if current is None:
        if d.day_type in ORDINARY:
            flags.append("missed")
    else:
        flags += [DEVIATION_WORDS.get(x, x) for x in current.get("deviation", [])]
        if d.is_dose and not current.get("taken"):
            flags.append("no capsule")
        code = current.get("code") or (None if container is None else _raw(trial, d.period))
        if code in opened:
            flags.append("code-break")
        flags += [DEVIATION_WORDS.get(x, x) for x in current.get("anomaly", [])]
        if len(recorded) > 1:
            flags.append("corrected")
    return LoggedDay(
        date=d.date,
        day_type=d.day_type,
        period=None if d.period is None else d.period + 1,
        bag=bag,
        container=container,
        current=versions[-1] if versions else None,
        earlier=tuple(versions[:-1]),
        flags=tuple(flags),
        arm=None if arms is None else arms.get(d.date.isoformat()),
    )


def _versions_by_day(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Every check-in and correction per day, in log order (the last is the current one)."""
    out: dict[str, list[Entry]] = {}
    for e in entries:
        if e.kind in CHECKIN_KINDS and e.day is not None:
            out.setdefault(e.day, []).append(e)
    return out


def _imported_by_day(entries: list[Entry], order: list[str]) -> dict[str, tuple[Imported, ...]]:
    """The current imported values per day (ISO date), each with how many it superseded."""
    from blindself.trial.measures import MEASURE_KIND, current_measures

    count: dict[tuple[str, str], int] = {}
    for e in entries:
        if e.kind == MEASURE_KIND and e.day is not None:
            key = (e.day, str(e.payload.get("outcome")))
            count[key] = count.get(key, 0) + 1
    out: dict[str, tuple[Imported, ...]] = {}
    for day, by_outcome in current_measures(entries).items():
        out[day] = tuple(
            Imported(
                seq=by_outcome[name].seq,
                outcome=name,
                value=by_outcome[name].payload["value"],
                source=dict(by_outcome[name].payload.get("source", {})),
                imported_at=by_outcome[name].payload.get("imported_at"),
                replaced=count[(day, name)] - 1,
            )
            for name in order
            if name in by_outcome
        )
    return out


def _raw(trial: Trial, period: int) -> str:
    return str(trial.schedule.period_code[period])


def _version(e: Entry, order: list[str]) -> Version:
    p = e.payload
    code = p.get("code")
    given = p.get("ratings", {})
    return Version(
        seq=e.seq,
        kind=e.kind,
        recorded_at=p.get("recorded_at"),
        code=format_code(code) if code else None,
        taken=p.get("taken"),
        # in the protocol's order (the log stores them sorted, as canonical JSON does)
        ratings={name: given[name] for name in order if name in given},
        guess=p.get("guess"),
        confidence=p.get("confidence"),
        note=str(p.get("note", "")),
        reason=p.get("reason"),
    )


@dataclass(frozen=True)
class _Break:
    seq: int
    code: str
    implied: tuple[str, ...]
    reason: str
    time: str | None


def _codebreaks(entries: list[Entry]) -> list[_Break]:
    return [
        _Break(
            e.seq,
            str(e.payload.get("code")),
            tuple(str(c) for c in e.payload.get("implied", [])),
            str(e.payload.get("reason", "")),
            e.payload.get("time"),
        )
        for e in entries
        if e.kind == "codebreak"
    ]


def _lost(entries: list[Entry]) -> tuple[LostRecord, ...]:
    from blindself.trial.interruptions import lost_of

    return tuple(
        LostRecord(x.seq, x.date, format_code(x.code), "damaged" if x.damaged else "lost", x.note)
        for x in lost_of(entries)
    )


def _arms_after_unblinding(trial: Trial) -> dict[str, str | None] | None:
    """The arm of each day (ISO date) after unblinding, as ``data.csv``'s ``arm``: that of the
    container taken (a day left out names no other container's arm, review F14); None while
    blinded.

    The allocation is checked against the commitment first (docs/design.md T-40), as for
    ``export``: no arm is shown from an edited allocation.
    """
    entry = trial.unblinding()
    if entry is None:
        return None
    from blindself.services.daily import analysed_days
    from blindself.services.revealed import checked_unblinding

    checked_unblinding(trial)
    payload = entry.payload
    code_arm = {c["code"]: c["arm"] for c in payload["allocation"]["containers"]}
    rows, _ = analysed_days(trial, code_arm, str(payload["unblinded_at"])[:10])
    from blindself.services.export import taken_arm

    return {str(r.date): taken_arm(r.code, r, code_arm) for r in rows}
