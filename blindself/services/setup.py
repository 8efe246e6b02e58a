"""Starting a trial: templates, plans and ``init`` (draw, seal, create, commit)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from blindself import __version__
from blindself.errors import ProtocolError, TrialStateError
from blindself.protocol.loading import load_protocol, parse_protocol
from blindself.protocol.model import Protocol
from blindself.randomness import shuffle
from blindself.report.sheet import render_sheet, strip_order
from blindself.services.context import Context
from blindself.services.interrupted import clean_interrupted, fsync_dir, lock_marker
from blindself.services.preregistration import PREREGISTRATION_FILE, preregistration
from blindself.trial.allocation import NONCE_BYTES, AllocationDoc, Container, padded_length
from blindself.trial.codes import ALPHABET, generate_codes
from blindself.trial.folder import INIT_MARKER, PublicSchedule, TrialPaths, machine_timezone
from blindself.trial.log.store import Store
from blindself.trial.schedule import Calendar, build_calendar, scheme_of
from blindself.trial.scheme import Scheme, draw_allocation
from blindself.trial.seal.crypto import commitment, seal
from blindself.trial.seal.format import DEFAULT_KDF, weak_kdf_warning

SHEET_SUFFIXES = (".html", ".json")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    summary: str


def list_templates() -> list[Template]:
    """The shipped protocols, sorted by name."""
    out = []
    for item in sorted(resources.files("blindself.protocols").iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        raw = item.read_bytes()
        protocol = parse_protocol(raw, item.name)
        out.append(Template(item.name.removesuffix(".toml"), protocol.title, protocol.description))
    return out


def copy_template(name: str, dest: Path | None) -> Path:
    """Copy a shipped protocol to ``dest`` (default ``NAME.toml`` here); never overwrites."""
    names = [t.name for t in list_templates()]
    stem = name.removesuffix(".toml")
    if stem not in names:
        raise ProtocolError(f"no template {name!r}; choose one of: {', '.join(names)}")
    target = dest if dest is not None else Path(f"{stem}.toml")
    if target.is_dir():
        target = target / f"{stem}.toml"
    raw = resources.files("blindself.protocols").joinpath(f"{stem}.toml").read_bytes()
    try:
        with open(target, "xb") as fh:
            fh.write(raw)
    except FileExistsError as exc:
        raise ProtocolError(f"{target} exists; choose another path or remove it") from exc
    except OSError as exc:
        raise ProtocolError(f"cannot write {target}: {exc.strerror}") from exc
    return target


@dataclass(frozen=True)
class InitResult:
    trial_id: str
    directory: Path
    commitment: str
    recovery_key: str | None
    recovery_key_file: Path | None
    helper_key: str | None
    sheets: tuple[Path, ...]
    calendar: Calendar
    protocol: Protocol
    head: str
    warnings: tuple[str, ...] = ()
    start_note: str | None = None

    @property
    def preregistration(self) -> Path:
        return self.directory / PREREGISTRATION_FILE


# F20: only init ever holds the allocation in plaintext, so a trial made without a sheet can
# never have its containers filled; say so instead of "Next: prepare the containers".
NO_SHEET_WARNING = (
    "--no-sheet: no preparation sheet was written and no command can write it later, so nobody "
    "can fill this trial's containers; use it only to try the tool (run init again with --sheet "
    "in a new folder for a real trial)",
)
CLOUD_MARKERS = (
    "dropbox",
    "onedrive",
    "icloud",
    "mobile documents",
    "google drive",
    "googledrive",
    "nextcloud",
    "owncloud",
    "syncthing",
    "pcloud",
    "box sync",
)


def cloud_synced(directory: Path) -> bool:
    """Whether a path looks like it sits in a cloud-synced folder."""
    parts = [part.lower() for part in directory.parts]
    return any(marker in part for part in parts for marker in CLOUD_MARKERS)


def init_trial(
    protocol_path: Path,
    directory: Path,
    *,
    passphrase: str,
    ctx: Context,
    start: date | None = None,
    sheets: tuple[Path, ...] = (),
    no_sheet: bool = False,
    recovery_key_file: Path | None = None,
    with_helper_key: bool = False,
    expectation: int | None = None,
    announce: Callable[[InitResult], None] | None = None,
) -> InitResult:
    """Draw the allocation, seal it, create the trial directory and write the sheets.

    ``announce`` shows the result (commitment, recovery key) while the trial is still marked
    unfinished: if it fails (a full disk or closed pipe on stdout), init undoes everything, so a
    trial never exists whose recovery key was not shown (review F8, docs/design.md T-42).
    """
    protocol = load_protocol(protocol_path)
    directory = directory.absolute()
    cleaned = clean_interrupted(directory)
    _check_target(directory)
    _check_sheets(sheets, no_sheet, directory)
    if recovery_key_file is not None:
        _check_new_file(recovery_key_file.absolute(), directory, "--recovery-key-file")
    if expectation is not None and not 0 <= expectation <= 100:
        raise ProtocolError("--expectation must be 0-100 (how much you expect it to help)")
    tz = protocol.timezone or machine_timezone()
    start_note = None
    if start is None:
        from blindself.services.planning import default_start, today_for

        start, start_note = default_start(protocol, today_for(protocol, ctx))
    calendar = build_calendar(protocol, start)
    protocol_text = protocol_path.read_text(encoding="utf-8")
    scheme = scheme_of(protocol)
    # Reliability fix (docs/design.md T-42): the warnings were computed after the trial folder was
    # renamed into place, so a design whose check crashed left a trial without its recovery key.
    # Every check runs before anything is written.
    kdf = ctx.kdf if ctx.kdf is not None else DEFAULT_KDF
    weak = weak_kdf_warning(kdf)
    from blindself.services.planning import design_warnings

    # The file's name, not its path: these warnings go into the public pre-registration.
    design, _ = design_warnings(protocol, protocol_text, start, protocol_path.name)
    warnings = (
        cleaned
        + ((f"TEST-STRENGTH SEAL: {weak}",) if weak else ())
        + _init_warnings(directory, start, ctx)
        + design
        + (NO_SHEET_WARNING if no_sheet else ())
    )

    allocation = draw_allocation(scheme, ctx.allocation)
    codes = generate_codes(scheme.n_periods, ctx.other)
    trial_id = "T" + "".join(ALPHABET[ctx.other.randbelow(32)] for _ in range(10))
    schedule, containers = _assign_codes(protocol, scheme, allocation, codes, ctx)
    doc = AllocationDoc(
        trial_id=trial_id,
        protocol_sha256=protocol.sha256,
        blinding=protocol.design.blinding,
        scheme=scheme,
        containers=containers,
        nonce=ctx.other.token_bytes(NONCE_BYTES).hex(),
    )
    plaintext = doc.canonical()
    commit = commitment(plaintext)
    sealed = seal(
        plaintext,
        passphrase=passphrase,
        trial_id=trial_id,
        protocol_hash=protocol.sha256,
        padded_length=padded_length(scheme, trial_id, protocol.sha256, protocol.design.blinding),
        source=ctx.other,
        kdf=kdf,
        with_helper_key=with_helper_key,
    )
    genesis = {
        "trial_id": trial_id,
        "protocol_sha256": protocol.sha256,
        "tool_version": __version__,
        "created_at": ctx.now().isoformat(),
        "start": start.isoformat(),
        "end": calendar.end.isoformat(),
        "timezone": tz,
        "schedule": schedule.to_json(),
        "commitment": commit,
        "expectation": expectation,
    }
    # Build the trial in a hidden sibling and rename it into place: a failure at any point
    # leaves no half-made trial behind.
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    # Reliability fix (docs/design.md T-43): the sheets were written before the rename, so a kill -9
    # there left an allocation that was never sealed.  Now the files outside the trial are written
    # only once the trial is durable (renamed, parent fsynced), and the trial holds a locked
    # marker until they are and the key has been shown.  The marker records the trial id and the
    # hash of each outside file's bytes, so a rerun removes only what this init wrote (review
    # F19; services/interrupted.py).
    order = strip_order(doc, ctx.other)  # the strips' order within a bag on the sheet (F2)
    outside: dict[Path, bytes] = {
        sheet.absolute(): render_sheet(sheet, protocol, calendar, doc, schedule, order)
        for sheet in sheets
    }
    if recovery_key_file is not None:
        outside[recovery_key_file.absolute()] = (sealed.recovery_key + "\n").encode()
    ours: list[Path] = []  # outside files this init created (never someone else's)
    marker_fd = -1
    renamed = False
    try:
        os.chmod(tmp, 0o700)
        marker_fd = lock_marker(tmp, trial_id, outside)
        paths = TrialPaths(tmp)
        _write_private(paths.protocol, protocol_path.read_bytes(), 0o400)
        _write_private(paths.seal, sealed.data, 0o400)
        _write_private(
            paths.root / PREREGISTRATION_FILE,
            preregistration(protocol, protocol_text, genesis, design).encode(),
            0o600,
        )
        with Store.create(paths.db, trial_id=trial_id, genesis=genesis) as store:
            head = store.head()
        fsync_dir(tmp)
        if directory.exists():
            directory.rmdir()
        os.rename(tmp, directory)
        renamed = True
        fsync_dir(parent)
        for path, data in outside.items():
            _write_private(path, data, 0o600, ours=ours)
        for folder in {p.parent for p in outside}:
            fsync_dir(folder)
        result = InitResult(
            trial_id=trial_id,
            directory=directory,
            commitment=commit,
            recovery_key=None if recovery_key_file else sealed.recovery_key,
            recovery_key_file=recovery_key_file,
            helper_key=sealed.helper_key,
            sheets=tuple(sheets),
            calendar=calendar,
            protocol=protocol,
            head=f"{head.seq}:{head.hash}",
            warnings=warnings,
            start_note=start_note,
        )
        if announce is not None:
            announce(result)
        os.unlink(directory / INIT_MARKER)
        fsync_dir(directory)
    except BaseException:
        # The key has not been shown in full: undo everything this init made, nothing else.
        shutil.rmtree(directory if renamed else tmp, ignore_errors=True)
        for path in ours:
            with suppress(OSError):
                path.unlink()
        raise
    finally:
        if marker_fd >= 0:
            os.close(marker_fd)
    return result


def _init_warnings(directory: Path, start: date, ctx: Context) -> tuple[str, ...]:
    """Where and when: things a careful person wants to hear at init (the design's own
    warnings are ``planning.design_warnings``); none depends on the allocation."""
    out = []
    if cloud_synced(directory):
        out.append(
            f"{directory} looks like a cloud-synced folder: sync services can copy the database "
            "without its write-ahead log or bring back an old copy; keep trials in a local "
            "folder and use blindself backup"
        )
    today = ctx.now().date()
    if start < today:
        out.append(
            f"the trial starts in the past ({start}); a commitment published today comes after "
            "those days, so it pre-registers only what is still to come"
        )
    return tuple(out)


def _assign_codes(
    protocol: Protocol,
    scheme: Scheme,
    allocation: tuple[str, ...],
    codes: list[str],
    ctx: Context,
) -> tuple[PublicSchedule, tuple[Container, ...]]:
    """Tie codes to periods (helper) or bags (self) with the non-allocation stream."""
    order = list(codes)
    shuffle(order, ctx.other)
    if protocol.design.blinding == "helper":
        schedule = PublicSchedule("helper", tuple(codes), tuple(order), ())
        containers = tuple(
            Container(code, allocation[p], scheme.block_of(p) + 1, p + 1)
            for p, code in enumerate(order)
        )
        return schedule, containers
    size = scheme.block_size
    bags = tuple(
        tuple(sorted(order[b * size : (b + 1) * size])) for b in range(scheme.n_periods // size)
    )
    # Within a bag the codes are sorted; the arms they get come from the allocation draw, which
    # is uniform within each block, so the code order says nothing about the arm.
    containers = tuple(
        Container(code, allocation[b * size + i], b + 1, None)
        for b, bag in enumerate(bags)
        for i, code in enumerate(bag)
    )
    return PublicSchedule("self", tuple(codes), (), bags), containers


def _check_target(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise TrialStateError(f"{directory} exists and is not empty; choose a new trial directory")


def _check_sheets(sheets: tuple[Path, ...], no_sheet: bool, directory: Path) -> None:
    if not sheets and not no_sheet:
        raise ProtocolError(
            "give --sheet FILE.html (or .json) for the preparation sheet, or --no-sheet"
        )
    if sheets and no_sheet:
        raise ProtocolError("--sheet and --no-sheet exclude each other")
    for sheet in sheets:
        if sheet.suffix.lower() not in SHEET_SUFFIXES:
            raise ProtocolError(f"--sheet {sheet}: use a .html or .json file name")
        _check_new_file(sheet.absolute(), directory, "--sheet")


def _check_new_file(path: Path, directory: Path, option: str) -> None:
    if path.is_relative_to(directory):
        raise ProtocolError(
            f"{option} {path} is inside the trial directory; keep it elsewhere "
            "(the participant's trial folder must not hold the allocation)"
        )
    if path.exists():
        raise ProtocolError(f"{option} {path} exists; choose a new file name")
    if not path.parent.is_dir():
        raise ProtocolError(f"{option} {path}: folder {path.parent} does not exist")


def _write_private(path: Path, data: bytes, mode: int, ours: list[Path] | None = None) -> None:
    """Write a new file durably with restrictive permissions; never replaces one.

    ``ours`` collects the path once this call has created it, so a rollback removes only files
    it made (a file that appeared meanwhile under the same name is someone else's).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise TrialStateError(f"{path} appeared meanwhile; choose a new file name") from exc
    if ours is not None:
        ours.append(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)
