"""Unblinding: open the seal, verify the commitment, close the log, analyse, report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from blindself.analysis.dataset import TrialData
from blindself.errors import CommitmentMismatch, StoreError, TrialStateError
from blindself.services.bounded import MAX_REPORT_BYTES, REBUILD_ADVICE, read_bounded
from blindself.services.context import Context
from blindself.services.daily import analysed_days
from blindself.services.export import export_trial, seed_material
from blindself.services.import_tail import short_imports
from blindself.services.interruptions import interruptions
from blindself.services.revealed import Revealed, checked_unblinding
from blindself.trial.allocation import AllocationDoc, parse_allocation
from blindself.trial.checkins import check_free_text
from blindself.trial.codes import format_code
from blindself.trial.folder import Trial, opened_trial
from blindself.trial.measures import import_summary
from blindself.trial.progress import current_checkins, last_due_day, unblinding_open
from blindself.trial.seal.crypto import commitment, open_seal
from blindself.wording import count

# Set on a report only by the command rendering it, after checking the revealed allocation
# against the commitment; never stored in report.json, so no stored flag is ever shown.
VERIFIED_KEY = "commitment_verified"


@dataclass(frozen=True)
class UnblindResult:
    report: dict[str, Any]
    summary: str
    files: tuple[Path, ...]
    already: bool
    commitment_checked: bool | None  # None: no published value given


def unblind_trial(
    trial_dir: Path,
    ctx: Context,
    *,
    passphrase: str | None = None,
    recovery_key: str | None = None,
    early: bool = False,
    reason: str | None = None,
    expect_commitment: str | None = None,
) -> UnblindResult:
    """Open the seal and run the pre-registered analysis (idempotent)."""
    with opened_trial(trial_dir) as trial:
        if trial.unblinding() is not None:
            report = _write_outputs(trial)
            return UnblindResult(report, _summary(report), _report_files(trial), True, None)
        today = trial.today(ctx.now())
        current = current_checkins(trial.store.entries())
        if not early and not unblinding_open(trial, today, current):
            last = last_due_day(trial).date
            if today >= last:
                raise TrialStateError(
                    f"the check-in of {last}, the last trial day, is not recorded yet: check "
                    "in first, then unblind (or use --early --reason TEXT)"
                )
            raise TrialStateError(
                f"the trial runs until {trial.calendar.end}; unblinding opens once the "
                f"check-in of {last} is recorded, or on "
                f"{trial.calendar.end + timedelta(days=1)} (or use --early --reason TEXT)"
            )
        if not early:
            _check_imports(trial)
        if early and not (reason and reason.strip()):
            raise TrialStateError(
                "--early needs --reason TEXT (it is logged and shown in the report)"
            )
        if reason is not None:
            # Reliability fix: the reason was logged and printed unchecked (10 MB, bad bytes).
            check_free_text(reason, "the reason", TrialStateError)
        doc, recomputed = open_allocation(
            trial,
            passphrase=passphrase,
            recovery_key=recovery_key,
            consequence="the results cannot be trusted",
        )
        published_ok: bool | None = None
        if expect_commitment is not None:
            published_ok = expect_commitment.strip().lower() == recomputed
            if not published_ok:
                # The seal matched the value recorded at init, so the likelier cause is a
                # mistyped value; say both, and keep the trial blinded (nothing is logged).
                raise CommitmentMismatch(
                    "the commitment you gave differs from the one recorded at init and sealed "
                    f"({recomputed}); check it for a typo. If you published a different value, "
                    "this trial is not the one you pre-registered. Nothing was unblinded"
                )
        payload = {
            "unblinded_at": ctx.now().isoformat(),
            "early": bool(early),
            "reason": reason,
            "commitment": recomputed,
            "published_commitment_checked": published_ok,
            "allocation": doc.to_json(),
        }
        # All or nothing: the report, its data and its page are computed *before* the log is
        # closed, so a failing analysis leaves the trial blinded (and retryable); only the
        # file writes come after the commit, and `unblind`, `report` and `export` re-derive
        # them from the closed log (it holds the revealed allocation) whenever they are lost.
        while True:
            head = trial.store.entries()[-1].seq
            outputs = _compute_outputs(trial, doc, payload)
            with trial.store.transaction() as tx:
                entries = tx.entries()
                if any(e.kind == "unblind" for e in entries):
                    raise TrialStateError("the trial was unblinded meanwhile; run blindself report")
                if entries[-1].seq != head:
                    continue  # a check-in landed meanwhile: analyse again with it
                tx.append("unblind", None, payload)
                break
        try:
            report = _write_files(trial, outputs)
        except OSError as exc:
            # Reliability fix: the CLI's generic message said "nothing was recorded", but the
            # unblind entry is committed; a re-run (idempotent) writes the report.
            raise TrialStateError(
                f"the trial is unblinded (logged), but writing {trial.paths.report} failed "
                f"({exc.strerror or exc}); free space or fix permissions, then run "
                "blindself unblind again"
            ) from exc
        return UnblindResult(report, _summary(report), _report_files(trial), False, published_ok)


def _check_imports(trial: Trial) -> None:
    """Refuse to unblind while an imported outcome's values stop short of the trial's end
    (``services.import_tail``).  ``--early`` (with its logged reason) is the way out when
    those values are lost.
    """
    short, tail = short_imports(trial)
    if short:
        raise TrialStateError(
            f"{short[0].name} is imported from another app and {short[0].have} (none on the "
            f"last {len(tail)} trial days, to {tail[-1]}): import the latest export first with "
            "blindself import (imports close at unblinding), or, if those values are lost, "
            "unblind with --early --reason TEXT"
        )


def open_allocation(
    trial: Trial, *, passphrase: str | None, recovery_key: str | None, consequence: str
) -> tuple[AllocationDoc, str]:
    """Open the seal and check it against the commitment recorded at init.

    Returns the allocation and its commitment; a seal that opens but does not match (a
    re-sealed, different allocation: threat T-7 in docs/design.md) raises CommitmentMismatch (exit
    3).
    """
    data = open_seal(
        trial.paths.seal.read_bytes(),
        trial_id=trial.trial_id,
        protocol_hash=trial.protocol.sha256,
        passphrase=passphrase,
        recovery_key=recovery_key,
    )
    doc = parse_allocation(data)
    recomputed = commitment(data)
    if (
        recomputed != trial.genesis["commitment"]
        or doc.trial_id != trial.trial_id
        or doc.protocol_sha256 != trial.protocol.sha256
    ):
        raise CommitmentMismatch(
            "ALLOCATION DOES NOT MATCH THE COMMITMENT recorded at init: the seal was replaced; "
            + consequence
        )
    return doc, recomputed


def trial_data(trial: Trial) -> TrialData:
    """The tidy data of an unblinded trial, from its allocation checked against the commitment."""
    revealed = _checked(trial)
    return _trial_data(trial, revealed.doc, revealed.entry.payload)


def _trial_data(trial: Trial, doc: AllocationDoc, payload: dict[str, Any]) -> TrialData:
    entries = trial.store.entries()
    opened = {str(e.payload.get("code")) for e in entries if e.kind == "codebreak"}
    broken = set(opened)
    for e in entries:
        if e.kind == "codebreak":
            broken.update(e.payload.get("implied", []))
    until = str(payload["unblinded_at"])[:10]
    rows, observed = analysed_days(trial, doc.code_to_arm, until)
    imports = import_summary(entries)
    p = trial.protocol
    scheme_note = (
        "randomized blocks of "
        + ", ".join(p.design.block)
        + f" ({count(p.design.blocks, 'block')})"
        if p.design.kind == "blocks"
        else "complete randomization with fixed counts per arm"
    )
    return TrialData(
        rows=tuple(rows),
        arms=p.arms,
        outcomes=p.outcomes,
        plan=p.analysis,
        scheme=doc.scheme,
        observed=observed,
        scheme_note=scheme_note,
        seed_material=seed_material(trial.trial_id, str(payload["commitment"])),
        title=p.title,
        question=p.question,
        meta={
            "trial_id": trial.trial_id,
            "blinding": p.design.blinding,
            "commitment": payload["commitment"],
            "published_commitment_checked": payload.get("published_commitment_checked"),
            "early": payload.get("early", False),
            "early_reason": payload.get("reason"),
            "start": trial.calendar.start.isoformat(),
            "end": trial.calendar.end.isoformat(),
            # Codes opened (each counted once, however often), and all codes whose days are
            # excluded: the opened ones and the block partners they imply.
            "codebreaks": sorted(format_code(c) for c in opened if c),
            "codebroken": sorted(format_code(c) for c in broken if c),
            "expectation": trial.genesis.get("expectation"),
            "source": "trial",
            # Outcome values imported from other apps' exports, with each file's SHA-256.
            **({"imports": imports} if imports else {}),
            # Pauses and lost or damaged containers, listed by the report
            # (docs/design.md#pauses); absent keys render nothing (older reports).
            **interruptions(trial),
        },
    )


def _report_files(trial: Trial) -> tuple[Path, ...]:
    d = trial.paths.report
    return tuple(p for p in (d / "report.html", d / "report.json", d / "data.csv") if p.exists())


def _checked(trial: Trial) -> Revealed:
    revealed = checked_unblinding(trial)
    if revealed is None:
        raise TrialStateError("the trial is still blinded; run blindself unblind first")
    return revealed


def _compute_outputs(trial: Trial, doc: AllocationDoc, payload: dict[str, Any]) -> dict[str, Any]:
    """The report and the texts of its files, from the log and a checked allocation."""
    from blindself.analysis.engine import analyze
    from blindself.report.rendering import render

    report = analyze(_trial_data(trial, doc, payload))
    texts: dict[str, Any] = {
        "report.json": json.dumps(report, indent=2, allow_nan=False) + "\n",
        "data.csv": export_trial(trial.paths.root, "csv", False, unblind=payload),
    }
    report["trial"][VERIFIED_KEY] = True
    texts["report.html"] = render(report, "html")
    texts["report"] = report
    return texts


def _write_files(trial: Trial, outputs: dict[str, Any]) -> dict[str, Any]:
    with _report_dir(trial) as out:
        for name in ("report.json", "data.csv", "report.html"):
            _atomic_write(out, name, outputs[name])
    report: dict[str, Any] = outputs["report"]
    return report


def _write_outputs(trial: Trial) -> dict[str, Any]:
    """Analyse the allocation stored in the log (checked first) and write report/."""
    revealed = _checked(trial)
    return _write_files(trial, _compute_outputs(trial, revealed.doc, revealed.entry.payload))


def load_report(trial_dir: Path) -> dict[str, Any]:
    """The report of an unblinded trial: report.json, rebuilt from the closed log if lost.

    The stored file is preferred (re-rendering never re-draws); a missing one is derived
    again from the log's unblind entry, which holds the revealed allocation.
    """
    with opened_trial(trial_dir, readonly=True) as trial:
        revealed = _checked(trial)
        path = trial.paths.report / "report.json"
        if path.is_symlink() or trial.paths.report.is_symlink():
            raise TrialStateError(
                f"{path} is reached through a symbolic link; run blindself unblind again to "
                "rebuild the report"
            )
        missing = not all(
            (trial.paths.report / n).exists() for n in ("report.json", "data.csv", "report.html")
        )
        if not missing:
            # Bounded, and a FIFO or device there is refused rather than hanging (review F3).
            raw = read_bounded(path, MAX_REPORT_BYTES, error=TrialStateError, advice=REBUILD_ADVICE)
            try:
                data: dict[str, Any] = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                raise TrialStateError(f"{path} is not a readable report; {REBUILD_ADVICE}") from exc
            meta = data.get("trial") if isinstance(data, dict) else None
            if not isinstance(meta, dict) or meta.get("commitment") != revealed.commitment:
                raise TrialStateError(
                    f"{path} is not the report of this trial's checked allocation; "
                    "run blindself unblind again to rebuild it"
                )
            # The published-value check is a fact logged at unblinding (in the chained entry).
            meta["published_commitment_checked"] = revealed.entry.payload.get(
                "published_commitment_checked"
            )
            meta[VERIFIED_KEY] = True
            return data
    # Lost files are derived again from the closed log (it holds the checked allocation).
    with opened_trial(trial_dir) as trial:
        return _write_outputs(trial)


def _summary(report: dict[str, Any]) -> str:
    from blindself.report.rendering import render

    return render(report, "text")


@contextmanager
def _report_dir(trial: Trial) -> Iterator[int]:
    """The report folder as a directory descriptor, never reached through a link
    (docs/design.md T-44).

    Every file is then created relative to that descriptor, so swapping the folder for a
    link after the check changes nothing either.
    """
    out = trial.paths.report
    with suppress(FileExistsError):
        os.mkdir(out, 0o700)
    root = os.open(trial.paths.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(out.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root)
    except OSError as exc:
        if os.path.islink(out):
            raise StoreError(
                f"{out} is a symbolic link; blindself writes nothing through a link inside "
                "a trial: remove the link (the unblinding is logged), then run "
                "blindself unblind again"
            ) from exc
        raise
    finally:
        os.close(root)
    try:
        yield fd
    finally:
        os.close(fd)


def _atomic_write(dir_fd: int, name: str, text: str) -> None:
    tmp = f".{name}.tmp"
    # Reliability fix: private like the rest of the trial (was 0644 under the usual umask),
    # and no temp file is left behind when a write fails.  O_EXCL never follows a link and
    # rename replaces a link itself, so no file is written through one.
    with suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
