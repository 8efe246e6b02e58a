"""Daily use cases: the check-in and the status (export, calendar, verify and backup have
modules of their own).

None of these reads the seal's contents, so none can leak the allocation: they see the
protocol, the public schedule and the log only.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from blindself.errors import BlindselfError, CheckinError
from blindself.services.context import Context
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, TrialPaths, opened_trial
from blindself.trial.interruptions import LOST_KIND, current_calendar, lost_of
from blindself.trial.progress import CHECKIN_KINDS, current_checkins, unblinding_open

if TYPE_CHECKING:
    from blindself.trial.checkins import CheckinForm, CheckinOutcome, CheckinRequest


def form_for(trial_dir: Path, when: date | None, ctx: Context) -> CheckinForm:
    # The check-in records and their validation are imported where a check-in is made:
    # status, and the web pages that only read the trial, do not load them.
    from blindself.trial.checkins import checkin_form

    """What the check-in of ``when`` (default today) needs, for prompting."""
    with opened_trial(trial_dir) as trial:
        today = trial.today(ctx.now())
        return checkin_form(trial, when or today, today)


def record_checkin(trial_dir: Path, req: CheckinRequest, ctx: Context) -> CheckinOutcome:
    from blindself.trial.checkins import (
        CheckinOutcome,
        build_payload,
        checkin_form,
        same_checkin,
        stop_rules_met,
    )
    from blindself.trial.questionnaires import severe_crossings

    """Validate and append one day's check-in; returns only after the commit."""
    with opened_trial(trial_dir) as trial:
        today = trial.today(ctx.now())
        form = checkin_form(trial, req.date, today)
        with trial.store.transaction() as tx:
            entries = tx.entries()
            if any(e.kind == "unblind" for e in entries):
                raise CheckinError("the trial is unblinded; check-ins for trial days are closed")
            fresh = current_calendar(trial.protocol, trial.calendar, entries)
            if fresh is not trial.calendar:
                # a pause was recorded since the trial was opened: judge the day again
                trial = trial._replace(calendar=fresh)  # the same opened store
                form = checkin_form(trial, req.date, today)
            existing = current_checkins(entries).get(req.date.isoformat())
            if existing is not None and req.replace:
                # --replace corrects what it is given and keeps every other recorded field
                from blindself.services.checkin_checks import kept_fields

                req = kept_fields(req, existing.payload)
            payload, deviations = build_payload(trial, form, req, entries, ctx.now().isoformat())
            if _clock_went_back(entries, ctx.now()):
                # docs/design.md T-30: accepted (entries are ordered by seq), but flagged for the
                # report.
                payload["anomaly"] = ["clock-regression"]
            existing = current_checkins(entries).get(payload["date"])
            if existing is not None and same_checkin(existing.payload, payload):
                return CheckinOutcome("already recorded", existing, tuple(deviations), ())
            if existing is not None and not req.replace:
                raise CheckinError(
                    f"{payload['date']} is already recorded with other values; "
                    "add --replace (and --reason TEXT) to correct it",
                    plain=f"{payload['date']} is already recorded with other values; open "
                    "that day to correct it, with a reason",
                )
            if existing is None and req.replace:
                raise CheckinError(
                    f"nothing recorded on {payload['date']} to replace; drop --replace",
                    plain=f"nothing is recorded on {payload['date']} to correct; check in "
                    "for that day first",
                )
            if existing is None:
                entry = tx.append("checkin", payload["date"], payload)
            else:
                entry = tx.append("correction", payload["date"], payload, supersedes=existing.seq)
            current = current_checkins([*entries, entry])
        status = "replaced" if existing is not None else "recorded"
        hits = stop_rules_met(trial.protocol.stop_rules, trial.protocol.outcomes, current)
        severe = severe_crossings(
            trial.protocol, {d: e.payload for d, e in current.items()}, req.date
        )
        return CheckinOutcome(status, entry, tuple(deviations), hits, existing, severe)


def _clock_went_back(entries: list[Any], now: Any) -> bool:
    from datetime import datetime

    stamps = [e.payload.get("recorded_at") for e in entries if e.kind in ("checkin", "correction")]
    latest = max((datetime.fromisoformat(s) for s in stamps if s), default=None)
    return latest is not None and now < latest


class Status(NamedTuple):
    trial_id: str
    title: str
    today: date
    day: int | None
    days_total: int
    start: date
    end: date
    checked_in: int
    missed: int
    due: int
    unblinded: bool
    next_instruction: dict[str, Any]
    head: str
    unblinding_open: bool = False
    missed_dates: tuple[date, ...] = ()
    # Outcomes another app measures (blindself import) and the latest day holding any
    # imported value (docs/design.md#imported-outcomes).
    imported_outcomes: tuple[str, ...] = ()
    imported_until: date | None = None
    # Each questionnaire's next due day from today (None: not asked again).
    instruments: tuple[tuple[str, str, date | None], ...] = ()
    # Pauses (from, to, days, reason) and lost or damaged containers (date, code, what,
    # note): public log facts (docs/design.md#pauses).
    pauses: tuple[dict[str, Any], ...] = ()
    lost: tuple[dict[str, Any], ...] = ()
    # Imported outcomes unblind would refuse for (name, what they have): the next step is to
    # import, not to unblind (adv3 F9, services.import_tail).
    import_first: tuple[tuple[str, str], ...] = ()

    @property
    def pause_now(self) -> dict[str, Any] | None:
        """The pause today falls in, if any."""
        today = self.today.isoformat()
        return next((p for p in self.pauses if p["from"] <= today <= p["to"]), None)

    @property
    def pauses_ahead(self) -> tuple[dict[str, Any], ...]:
        return tuple(p for p in self.pauses if p["from"] > self.today.isoformat())

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.imported_outcomes:
            extra["imported"] = {
                "outcomes": list(self.imported_outcomes),
                "until": self.imported_until.isoformat() if self.imported_until else None,
            }
            extra["import_first"] = [name for name, _ in self.import_first]
        instruments: dict[str, Any] = {}
        if self.instruments:
            instruments["instruments"] = {
                name: {"title": title, "next_due": when and when.isoformat()}
                for name, title, when in self.instruments
            }
        return {
            **extra,
            "trial": self.trial_id,
            "title": self.title,
            "today": self.today.isoformat(),
            "day": self.day,
            "days_total": self.days_total,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "checked_in": self.checked_in,
            "missed": self.missed,
            "missed_dates": [d.isoformat() for d in self.missed_dates],
            "next": self.next_instruction,
            "unblinded": self.unblinded,
            "head": self.head,
            **instruments,
            "pauses": list(self.pauses),
            "lost": list(self.lost),
        }


def _import_first(trial: Trial, log: list[tuple[str, str | None]]) -> tuple[tuple[str, str], ...]:
    if any(kind == "unblind" for kind, _ in log):
        return ()
    from blindself.services.import_tail import short_imports

    return tuple((s.name, s.have) for s in short_imports(trial)[0])


def trial_status(trial_dir: Path, ctx: Context) -> Status:
    """Progress and today's instruction; nothing that depends on the allocation."""
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        # Kinds and days only: decoding every payload of a year-long log is most of the
        # work status would otherwise do, for counts that need none of it.
        log = trial.store.kinds_and_days()
        current = {day for kind, day in log if kind in CHECKIN_KINDS and day is not None}
        cal = trial.calendar
        due_days = [d for d in cal.days if d.date <= today and scheduled(trial, d.day_type)]
        checked = sum(1 for d in due_days if d.date.isoformat() in current)
        missed = tuple(
            d.date for d in due_days if d.date < today and d.date.isoformat() not in current
        )
        day = (today - cal.start).days + 1
        head = trial.store.head()
        imported = tuple(o.name for o in trial.protocol.outcomes if o.source == "import")
        measured = [d for kind, d in log if kind == "measure" and d is not None]
        return Status(
            imported_outcomes=imported,
            imported_until=date.fromisoformat(max(measured)) if measured else None,
            trial_id=trial.trial_id,
            title=trial.protocol.title,
            today=today,
            day=day if 1 <= day <= len(cal.days) else None,
            days_total=len(cal.days),
            start=cal.start,
            end=cal.end,
            checked_in=checked,
            missed=len(missed),
            missed_dates=missed,
            due=len(due_days),
            unblinded=any(kind == "unblind" for kind, _ in log),
            next_instruction=_next_instruction(trial, today, current),
            head=f"{head.seq}:{head.hash}",
            unblinding_open=(is_open := unblinding_open(trial, today, current)),
            import_first=_import_first(trial, log) if is_open and imported else (),
            instruments=_instruments_due(trial, today, current),
            pauses=tuple(
                {
                    "from": p.start.isoformat(),
                    "to": p.last.isoformat(),
                    "days": p.days,
                    "reason": p.reason,
                }
                for p in cal.pauses
            ),
            lost=_lost(trial) if any(kind == LOST_KIND for kind, _ in log) else (),
        )


def _instruments_due(
    trial: Trial, today: date, current: Container[str]
) -> tuple[tuple[str, str, date | None], ...]:
    """Each questionnaire's next due day: today unless today is already checked in."""
    if not trial.protocol.instruments:
        return ()
    from blindself.trial.questionnaires import instrument_dates

    out = []
    for o in trial.protocol.instruments:
        dates = instrument_dates(trial.protocol, trial.calendar, o)
        nxt = next(
            (d for d in dates if d > today or (d == today and d.isoformat() not in current)),
            None,
        )
        out.append((o.name, o.question, nxt))
    return tuple(out)


def _lost(trial: Trial) -> tuple[dict[str, Any], ...]:
    """Lost or damaged containers as status shows them (read only when the log has any)."""
    return tuple(
        {
            "date": x.date.isoformat(),
            "code": format_code(x.code),
            "what": "damaged" if x.damaged else "lost",
            "note": x.note,
        }
        for x in lost_of(trial.store.entries(LOST_KIND))
    )


def seal_warnings(trial_dir: Path, trial_id: str) -> tuple[str, ...]:
    """A test-strength seal (docs/design.md T-47), for ``status``; a seal that does not parse is
    verify's.

    Reads only the seal's public header; kept out of ``trial_status`` because the web server
    uses that and never opens the seal file.  ``trial_id`` is the one ``trial_status`` just
    read, and the seal is bound to the protocol file's hash, which ``trial_status`` checked
    against the log: the log is not opened a second time (docs/design.md#start-up).
    """
    # The header's checks live in seal.format, which needs no cryptography (status stays off
    # the crypto imports).
    from hashlib import sha256

    from blindself.trial.seal.format import parse_seal, weak_kdf_warning

    paths = TrialPaths(trial_dir)
    try:
        protocol_hash = sha256(paths.protocol.read_bytes()).hexdigest()
        kdf = parse_seal(paths.seal.read_bytes(), trial_id, protocol_hash).kdf
    except (OSError, BlindselfError):
        return ()
    weak = weak_kdf_warning(kdf)
    return (weak,) if weak else ()


def scheduled(trial: Trial, day_type: str) -> bool:
    """Whether a day of this type asks for a check-in (a paused day never does)."""
    if day_type == "pause":
        return False
    return trial.protocol.checkin.days == "all" or day_type in ("baseline", "dose")


def _next_instruction(trial: Trial, today: date, current: Container[str]) -> dict[str, Any]:
    cal = trial.calendar
    for d in cal.days:
        if d.date < today or not scheduled(trial, d.day_type):
            continue
        out: dict[str, Any] = {
            "date": d.date.isoformat(),
            "day_type": d.day_type,
            "checked_in": d.date.isoformat() in current,
        }
        if d.is_dose and d.period is not None:
            if trial.schedule.period_code:
                out["container"] = format_code(trial.schedule.period_code[d.period])
            elif d.block is not None:
                out["bag"] = d.block + 1
        if d.date == today and out["checked_in"]:
            continue
        return out
    return {"date": None, "day_type": "finished", "checked_in": False}


AFTER_UNBLINDING = "after-unblinding"


def analysed_days(
    trial: Trial, code_arm: dict[str, str], until: str
) -> tuple[list[Any], tuple[str, ...]]:
    """The DayRows and observed allocation of an unblinded trial (``dataset.from_trial``).

    One derivation for the analysis and for the export, so ``analyze report/data.csv`` sees
    the same arms and the same exclusions as ``unblind``.  Rows are the scheduled days (and
    any day with a check-in); days after an early unblinding (``until``, ISO date) stay in,
    so every period keeps its arm, but are marked ``after-unblinding``: not missed, not
    analysed.
    """
    from dataclasses import replace

    # Only after unblinding: kept off the import path of the daily commands.
    from blindself.analysis.dataset import from_trial
    from blindself.trial.measures import merged_checkins
    from blindself.trial.schedule import scheme_of

    entries = trial.store.entries()
    # Imported values (blindself import) count as the day's ratings; a day with imported
    # values but no check-in is a row too (docs/design.md#imported-outcomes).
    current = merged_checkins(entries)
    broken: set[str] = set()
    for e in entries:
        if e.kind == "codebreak":
            broken.add(str(e.payload.get("code")))
            broken.update(str(c) for c in e.payload.get("implied", []))
    schedule = trial.schedule
    size = scheme_of(trial.protocol).block_size
    blocks = schedule.bags or tuple(
        schedule.period_code[i : i + size] for i in range(0, len(schedule.period_code), size)
    )
    days = [
        d
        for d in trial.calendar.days
        if scheduled(trial, d.day_type) or d.date.isoformat() in current
    ]
    rows, observed = from_trial(days, current, code_arm, blocks, schedule.period_code, broken)
    from blindself.services.interruptions import lost_container_days

    rows = lost_container_days(rows, lost_of(trial.store.entries(LOST_KIND)))
    rows = [
        replace(r, excluded=AFTER_UNBLINDING) if str(r.date) > until and not r.ratings else r
        for r in rows
    ]
    return rows, observed


def exclusion(row: Any) -> str:
    """Why a day is left out of the comparison ("" when it is analysed)."""
    if row.excluded == AFTER_UNBLINDING or not row.codebroken:
        return str(row.excluded)
    return "codebreak"


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would execute, as OWASP recommends (docs/design.md T-45).

    A text cell starting with ``= + - @``, tab or CR gets a leading ``'``; numbers are
    written as they are (a rating of -2 stays a number).  See README, "Exports".
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
