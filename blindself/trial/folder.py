"""A trial on disk: its directory, frozen protocol, public schedule and log
(docs/design.md#trial-folder).

Everything here is public: it never touches the seal's contents, so every daily command
can use it before unblinding.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from blindself.errors import StoreError, TrialStateError
from blindself.protocol.loading import parse_protocol
from blindself.protocol.model import Protocol
from blindself.trial.interruptions import PAUSE_KIND, RESUME_KIND, pauses_of
from blindself.trial.log.store import Entry, Store
from blindself.trial.schedule import Calendar, build_calendar

PROTOCOL_FILE = "protocol.toml"
SEAL_FILE = "allocation.seal"
DB_FILE = "trial.db"
REPORT_DIR = "report"
# Present (and locked by the running init) until everything init writes is durable
# (docs/design.md T-43).
INIT_MARKER = ".init-incomplete.json"


class TrialPaths(NamedTuple):
    root: Path

    @property
    def protocol(self) -> Path:
        return self.root / PROTOCOL_FILE

    @property
    def seal(self) -> Path:
        return self.root / SEAL_FILE

    @property
    def db(self) -> Path:
        return self.root / DB_FILE

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR


class PublicSchedule(NamedTuple):
    """What the participant may know: codes, and which period (helper) or bag (self) holds them."""

    blinding: str
    codes: tuple[str, ...]
    period_code: tuple[str, ...]  # helper mode: code of each 0-based period; empty in self mode
    bags: tuple[tuple[str, ...], ...]  # self mode: codes of each 0-based block; empty in helper

    def bag_of(self, code: str) -> int | None:
        for i, bag in enumerate(self.bags):
            if code in bag:
                return i
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "blinding": self.blinding,
            "codes": list(self.codes),
            "periods": [{"period": i + 1, "code": c} for i, c in enumerate(self.period_code)],
            "bags": [{"block": i + 1, "codes": list(b)} for i, b in enumerate(self.bags)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublicSchedule:
        return cls(
            blinding=str(data["blinding"]),
            codes=tuple(data["codes"]),
            period_code=tuple(p["code"] for p in data["periods"]),
            bags=tuple(tuple(b["codes"]) for b in data["bags"]),
        )


class Trial(NamedTuple):
    """An opened trial: protocol, calendar, public schedule and its store."""

    paths: TrialPaths
    protocol: Protocol
    calendar: Calendar
    schedule: PublicSchedule
    genesis: dict[str, Any]
    store: Store

    @property
    def trial_id(self) -> str:
        return str(self.genesis["trial_id"])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(str(self.genesis["timezone"]))

    def today(self, now: datetime) -> date:
        """The trial day of an instant: local date in the trial's zone, shifted by day_starts."""
        local = now.astimezone(self.tz)
        starts = self.protocol.checkin.day_starts
        return (local - timedelta(hours=starts.hour, minutes=starts.minute)).date()

    def unblinding(self) -> Entry | None:
        found = self.store.entries("unblind")
        return found[0] if found else None

    def close(self) -> None:
        self.store.close()


def open_trial(root: Path, *, readonly: bool = False) -> Trial:
    """Open an existing trial directory; never creates anything."""
    paths = TrialPaths(root)
    try:
        is_dir = root.is_dir()
    except OSError as exc:
        # Reliability fix: e.g. a 10 MB --trial; the CLI echoed the whole path back.
        shown = str(root)[:80] + ("..." if len(str(root)) > 80 else "")
        raise TrialStateError(
            f"{shown}: not a usable path ({exc.strerror}); check --trial",
            plain=f"{shown}: the trial folder is not usable ({exc.strerror})",
        ) from exc
    if not is_dir:
        raise TrialStateError(
            f"{root}: no trial here; give --trial DIR (or set BLINDSELF_TRIAL), "
            "or start one with blindself init",
            plain=f"{root}: the trial folder is gone; check it on the computer",
        )
    if not paths.db.exists():
        raise TrialStateError(
            f"{root}: not a blindself trial (no {DB_FILE}); check --trial or BLINDSELF_TRIAL",
            plain=f"{root}: not a blindself trial any more (no {DB_FILE}); check it on the "
            "computer",
        )
    if (root / INIT_MARKER).exists():
        # Its sheets or key may be missing and no commitment was printed: never use it.
        raise TrialStateError(
            f"{root}: its init was interrupted before it finished; run the same blindself "
            f"init again (it removes this unfinished trial if nothing was recorded in it, and "
            f"otherwise says what to do about {INIT_MARKER})"
        )
    store = Store.open(paths.db, readonly=readonly)
    try:
        genesis = store.entries("init")[0].payload
        try:
            raw = paths.protocol.read_bytes()
        except OSError as exc:
            raise StoreError(
                f"{paths.protocol}: cannot read the trial's protocol; restore a backup"
            ) from exc
        protocol = parse_protocol(raw, PROTOCOL_FILE)
        if protocol.sha256 != genesis["protocol_sha256"]:
            raise StoreError(
                f"{paths.protocol} was edited after init (its hash no longer matches the log); "
                "restore the original file"
            )
        start = date.fromisoformat(str(genesis["start"]))
        # The calendar carries the pauses the log holds (docs/design.md#pauses), so every
        # command sees the same, moved days.
        pauses = store.entries(PAUSE_KIND)
        in_force = pauses_of(pauses, store.entries(RESUME_KIND)) if pauses else ()
        return Trial(
            paths=paths,
            protocol=protocol,
            calendar=build_calendar(protocol, start, in_force),
            schedule=PublicSchedule.from_json(genesis["schedule"]),
            genesis=genesis,
            store=store,
        )
    except BaseException:
        store.close()
        raise


def machine_timezone() -> str:
    """The machine's IANA zone name, else UTC (frozen into the trial at init)."""
    from zoneinfo import available_timezones

    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and tz in available_timezones():
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    if marker in target:
        name = target.split(marker, 1)[1]
        if name in available_timezones():
            return name
    return "UTC"


@contextmanager
def opened_trial(root: Path, readonly: bool = False) -> Iterator[Trial]:
    """Open a trial for one use case and always close its store."""
    trial = open_trial(root, readonly=readonly)
    try:
        yield trial
    finally:
        trial.close()
