"""Daily use cases: check in, status, calendar, export, verify, backup.

None of these reads the seal's contents, so none can leak the allocation: they see the
protocol, the public schedule and the log only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from blindself.errors import BlindselfError, CheckinError, TrialStateError
from blindself.services.context import Context
from blindself.trial.checkins import (
    CheckinForm,
    CheckinOutcome,
    CheckinRequest,
    build_payload,
    checkin_form,
    current_checkins,
    same_checkin,
    stop_rules_met,
    unblinding_open,
)
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, open_trial
from blindself.trial.log.chain import parse_head


def form_for(trial_dir: Path, when: date | None, ctx: Context) -> CheckinForm:
    """What the check-in of ``when`` (default today) needs, for prompting."""
    with opened_trial(trial_dir) as trial:
        today = trial.today(ctx.now())
        return checkin_form(trial, when or today, today)


def record_checkin(trial_dir: Path, req: CheckinRequest, ctx: Context) -> CheckinOutcome:
    """Validate and append one day's check-in; returns only after the commit."""
    with opened_trial(trial_dir) as trial:
        today = trial.today(ctx.now())
        form = checkin_form(trial, req.date, today)
        with trial.store.transaction() as tx:
            entries = tx.entries()
            if any(e.kind == "unblind" for e in entries):
                raise CheckinError("the trial is unblinded; check-ins for trial days are closed")
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
                    "add --replace (and --reason TEXT) to correct it"
                )
            if existing is None and req.replace:
                raise CheckinError(
                    f"nothing recorded on {payload['date']} to replace; drop --replace"
                )
            if existing is None:
                entry = tx.append("checkin", payload["date"], payload)
            else:
                entry = tx.append("correction", payload["date"], payload, supersedes=existing.seq)
            current = current_checkins([*entries, entry])
        status = "replaced" if existing is not None else "recorded"
        hits = stop_rules_met(trial.protocol.stop_rules, trial.protocol.outcomes, current)
        return CheckinOutcome(status, entry, tuple(deviations), hits, existing)


def _clock_went_back(entries: list[Any], now: Any) -> bool:
    from datetime import datetime

    stamps = [e.payload.get("recorded_at") for e in entries if e.kind in ("checkin", "correction")]
    latest = max((datetime.fromisoformat(s) for s in stamps if s), default=None)
    return latest is not None and now < latest


@dataclass(frozen=True)
class Status:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "trial": self.trial_id,
            "title": self.title,
            "today": self.today.isoformat(),
            "day": self.day,
            "days_total": self.days_total,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "checked_in": self.checked_in,
            "missed": self.missed,
            "next": self.next_instruction,
            "unblinded": self.unblinded,
            "head": self.head,
        }


def trial_status(trial_dir: Path, ctx: Context) -> Status:
    """Progress and today's instruction; nothing that depends on the allocation."""
    with opened_trial(trial_dir, readonly=True) as trial:
        today = trial.today(ctx.now())
        entries = trial.store.entries()
        current = current_checkins(entries)
        cal = trial.calendar
        due_days = [d for d in cal.days if d.date <= today and scheduled(trial, d.day_type)]
        checked = sum(1 for d in due_days if d.date.isoformat() in current)
        missed = sum(1 for d in due_days if d.date < today and d.date.isoformat() not in current)
        day = (today - cal.start).days + 1
        head = entries[-1]
        return Status(
            trial_id=trial.trial_id,
            title=trial.protocol.title,
            today=today,
            day=day if 1 <= day <= len(cal.days) else None,
            days_total=len(cal.days),
            start=cal.start,
            end=cal.end,
            checked_in=checked,
            missed=missed,
            due=len(due_days),
            unblinded=any(e.kind == "unblind" for e in entries),
            next_instruction=_next_instruction(trial, today, current),
            head=f"{head.seq}:{head.hash}",
            unblinding_open=unblinding_open(trial, today, current),
        )


def seal_warnings(trial_dir: Path) -> tuple[str, ...]:
    """A test-strength seal (docs/design.md T-47), for ``status``; a seal that does not parse is
    verify's.

    Reads only the seal's public header; kept out of ``trial_status`` because the web server
    uses that and never opens the seal file.
    """
    from blindself.trial.seal.crypto import check_seal_structure
    from blindself.trial.seal.format import weak_kdf_warning

    with opened_trial(trial_dir, readonly=True) as trial:
        try:
            kdf = check_seal_structure(
                trial.paths.seal.read_bytes(),
                trial_id=trial.trial_id,
                protocol_hash=trial.protocol.sha256,
            )
        except (OSError, BlindselfError):
            return ()
    weak = weak_kdf_warning(kdf)
    return (weak,) if weak else ()


def scheduled(trial: Trial, day_type: str) -> bool:
    return trial.protocol.checkin.days == "all" or day_type in ("baseline", "dose")


def _next_instruction(trial: Trial, today: date, current: dict[str, Any]) -> dict[str, Any]:
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
EXPORT_COLUMNS_BASE = ["date", "day_type", "block", "period", "code", "arm", "guess", "confidence"]


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
    from blindself.trial.schedule import scheme_of

    entries = trial.store.entries()
    current = {d: e.payload for d, e in current_checkins(entries).items()}
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


def export_rows(
    trial: Trial, include_all: bool, days: dict[str, Any] | None, until: str = "9999-12-31"
) -> list[dict[str, Any]]:
    """Tidy rows, one per check-in (or per entry with ``include_all``), in date order.

    ``days`` (after unblinding only) maps an ISO date to its analysed DayRow.
    """
    entries = trial.store.entries()
    if include_all:
        chosen = [e for e in entries if e.kind in ("checkin", "correction")]
        superseded = {e.supersedes for e in chosen if e.supersedes}
    else:
        chosen = sorted(current_checkins(entries).values(), key=lambda e: e.day or "")
        superseded = set()
    rows = []
    for e in chosen:
        p = e.payload
        code = p.get("code")
        known = (days or {}).get(p["date"])
        row: dict[str, Any] = {
            "date": p["date"],
            "day_type": p["day_type"],
            # Helper mode shows no block structure before unblinding (a block partner is
            # implied by it); in self mode the block is the bag the participant holds.
            "block": p["block"] if days is not None or not trial.schedule.period_code else None,
            "period": p["period"],
            "code": format_code(code) if code else None,
            # The analysis arm of the day's period (see dataset.from_trial).
            "arm": known.arm if known else None,
            "guess": p.get("guess"),
            "confidence": p.get("confidence"),
        }
        for o in trial.protocol.outcomes:
            row[o.name] = p["ratings"].get(o.name)
        row["taken"] = p.get("taken")
        row["deviation"] = ";".join(p.get("deviation", []))
        row["note"] = p.get("note", "")
        if days is not None:
            row["excluded"] = exclusion(known) if known else ""
        if include_all:
            row["seq"] = e.seq
            row["kind"] = e.kind
            row["supersedes"] = e.supersedes
            row["superseded"] = e.seq in superseded
        rows.append(row)
    if days is not None and not include_all:
        # After unblinding the tidy data holds every scheduled day: a missed day is a row
        # with empty ratings, so each period (and block) stays complete for `analyze`.
        seen = {r["date"] for r in rows}
        for d in trial.calendar.days:
            day = d.date.isoformat()
            if day in seen or not scheduled(trial, d.day_type):
                continue
            missed: dict[str, Any] = {
                "date": d.date.isoformat(),
                "day_type": d.day_type,
                "block": None if d.block is None else d.block + 1,
                "period": None if d.period is None else d.period + 1,
                "code": None,
                "arm": days[day].arm,
                "guess": None,
                "confidence": None,
            }
            missed.update({o.name: None for o in trial.protocol.outcomes})
            gone = day > until  # after an early unblinding: kept so each period has its arm
            missed.update(
                {"taken": None, "deviation": AFTER_UNBLINDING if gone else "missed", "note": ""}
            )
            missed["excluded"] = exclusion(days[day])
            rows.append(missed)
        rows.sort(key=lambda r: str(r["date"]))
    return rows


def export_trial(
    trial_dir: Path, fmt: str, include_all: bool, unblind: dict[str, Any] | None = None
) -> str:
    """CSV or JSON export; arms appear only after unblinding.

    ``unblind`` is the payload of an unblind entry not yet written: ``unblind`` builds
    data.csv before it closes the log, so a failure leaves the trial blinded.
    """
    with opened_trial(trial_dir, readonly=True) as trial:
        if unblind is None:
            entry = trial.unblinding()
            if entry is not None:
                from blindself.services.revealed import checked_unblinding

                checked_unblinding(trial)  # docs/design.md T-40: no arms from an edited allocation
                unblind = entry.payload
        days = None
        until = "9999-12-31"
        if unblind is not None:
            code_arm = {c["code"]: c["arm"] for c in unblind["allocation"]["containers"]}
            until = str(unblind["unblinded_at"])[:10]
            rows_, _ = analysed_days(trial, code_arm, until)
            days = {str(r.date): r for r in rows_}
        rows = export_rows(trial, include_all, days, until)
        columns = EXPORT_COLUMNS_BASE + [o.name for o in trial.protocol.outcomes]
        columns += ["taken", "deviation", "note"]
        if days is not None:
            # Which days the analysis leaves out and why (codebreak, wrong-bag, ...);
            # `analyze` honours it, so it reproduces `unblind`.
            columns.append("excluded")
        if include_all:
            columns += ["seq", "kind", "supersedes", "superseded"]
    if fmt == "json":
        return (
            json.dumps({"trial": trial.trial_id, "columns": columns, "rows": rows}, indent=2) + "\n"
        )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else _cell(r[k]) for k in columns})
    return buf.getvalue()


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


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    lines: tuple[str, ...]
    head: str
    commitment_ok: bool = True
    trial_id: str = ""


def verify_trial(
    trial_dir: Path, expect_head: str | None, expect_commitment: str | None = None
) -> VerifyOutcome:
    """Check the hash chain, the protocol hash, the seal's structure and the commitment.

    Before unblinding the commitment can only be compared with the value recorded at init;
    after unblinding the revealed allocation in the log is hashed again and compared too.
    """
    from blindself.trial.seal.crypto import check_seal_structure
    from blindself.trial.seal.format import weak_kdf_warning

    anchor = parse_head(expect_head) if expect_head else None
    with opened_trial(trial_dir, readonly=True) as trial:
        report = trial.store.verify(expect_head=anchor)
        lines = []
        if report.ok and report.anchored:
            lines.append(
                f"log: {report.entries} entries, hash chain intact; entries 1..{anchor[0] if anchor else 0} "
                "match the expected head (later entries are covered only by a later head)"
            )
        elif report.ok:
            lines.append(f"log: {report.entries} entries, hash chain intact")
            lines.append(
                "log: a recomputed (re-chained) log would pass this check too; pass "
                "--expect-head SEQ:HEX, a head kept outside this computer, to prove entries "
                "1..SEQ unchanged"
            )
        elif report.first_bad_seq is None:
            lines.append(f"log: BROKEN: {report.problem}")
        else:
            lines.append(f"log: BROKEN at entry {report.first_bad_seq}: {report.problem}")
        lines.append("protocol: matches the hash recorded at init")
        seal_ok = True
        try:
            kdf = check_seal_structure(
                trial.paths.seal.read_bytes(),
                trial_id=trial.trial_id,
                protocol_hash=trial.protocol.sha256,
            )
            lines.append("seal: structure intact")
            weak = weak_kdf_warning(kdf)
            if weak:
                lines.append(f"seal: WEAK: {weak}")
        except BlindselfError as exc:
            seal_ok = False
            lines.append(f"seal: {exc}")
        commit_ok = True
        recorded = str(trial.genesis["commitment"])
        unblind = trial.unblinding()
        if unblind is not None:
            from blindself.services.revealed import MISMATCH, revealed_matches

            if not revealed_matches(trial, unblind):
                commit_ok = False
                lines.append(MISMATCH)
            else:
                lines.append(
                    "commitment: the revealed allocation matches the value recorded at init"
                )
        if expect_commitment is not None:
            if expect_commitment.strip().lower() == recorded:
                lines.append("commitment: matches the published value")
            else:
                commit_ok = False
                lines.append(
                    f"commitment: MISMATCH with the published value (the trial's is {recorded})"
                )
        return VerifyOutcome(
            report.ok and seal_ok and commit_ok,
            tuple(lines),
            f"{report.head_seq}:{report.head_hash}",
            commit_ok,
            trial.trial_id,
        )


def backup_trial(trial_dir: Path, dest: Path) -> Path:
    """A consistent copy of the trial database (SQLite backup API) plus protocol and seal."""
    import shutil

    dest = dest.absolute()
    if dest.exists():
        raise TrialStateError(f"{dest} exists; choose a new backup directory")
    with opened_trial(trial_dir, readonly=True) as trial:
        dest.mkdir(parents=True, mode=0o700)
        shutil.copy2(trial.paths.protocol, dest / trial.paths.protocol.name)
        shutil.copy2(trial.paths.seal, dest / trial.paths.seal.name)
        trial.store.backup(dest / trial.paths.db.name)
    return dest


def calendar_ics(trial_dir: Path, ctx: Context, remind_at: str | None = None) -> str:
    """An iCalendar file of check-in days, with no arm information.

    Written with ``icalendar`` (docs/design.md T-45): escaping, folding and CRLF are the library's,
    so no text of the protocol can end a line or start a property.
    """
    from datetime import UTC

    from icalendar import Alarm, Calendar, Event

    with opened_trial(trial_dir, readonly=True) as trial:
        stamp = ctx.now().astimezone(UTC).replace(microsecond=0)
        cal = Calendar()
        cal.add("version", "2.0")
        cal.add("prodid", "-//blindself//blindself//EN")
        cal.add("calscale", "GREGORIAN")
        for d in trial.calendar.days:
            if not scheduled(trial, d.day_type):
                continue
            event = Event()
            event.add("uid", f"{trial.trial_id}-{d.date.isoformat()}@blindself")
            event.add("dtstamp", stamp)
            event.add("dtstart", d.date)
            event.add("dtend", d.date + timedelta(days=1))
            event.add("summary", f"{trial.protocol.title}: {day_instruction(trial, d)}")
            if remind_at:
                hh, mm = remind_at.split(":")
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", "blindself check-in")
                alarm.add(
                    "trigger",
                    timedelta(hours=int(hh), minutes=int(mm)),
                    parameters={"RELATED": "START"},
                )
                event.add_component(alarm)
            cal.add_component(event)
        return str(cal.to_ical().decode("utf-8"))


def day_instruction(trial: Trial, d: Any) -> str:
    """What the participant does on a day: public facts only (container or bag, never an arm)."""
    what = {
        "baseline": "baseline day: rate, no capsule",
        "dose": "dose day: take today's container, rate, guess",
        "off": "off day: rate, no capsule",
        "washout": "washout day: rate, no capsule",
    }[d.day_type]
    if d.is_dose and d.period is not None and trial.schedule.period_code:
        what += f" (container {format_code(trial.schedule.period_code[d.period])})"
    elif d.is_dose and d.block is not None:
        what += f" (bag {d.block + 1})"
    return what


def calendar_html(trial_dir: Path) -> str:
    """The participant's printable calendar: what to do each day, no arm information."""
    from blindself.report.sheet import participant_calendar

    with opened_trial(trial_dir, readonly=True) as trial:
        days = [
            (d.date, day_instruction(trial, d))
            for d in trial.calendar.days
            if scheduled(trial, d.day_type)
        ]
        return participant_calendar(trial.protocol, trial.trial_id, days)


@contextmanager
def opened_trial(root: Path, readonly: bool = False) -> Iterator[Trial]:
    """Open a trial for one use case and always close its store."""
    trial = open_trial(root, readonly=readonly)
    try:
        yield trial
    finally:
        trial.close()
