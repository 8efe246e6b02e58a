"""Keeping a trial trustworthy: verify (hash chain, protocol, seal, commitment) and backup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blindself.errors import BlindselfError, TrialStateError
from blindself.trial.folder import opened_trial
from blindself.trial.log.chain import parse_head
from blindself.wording import count


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    lines: tuple[str, ...]
    head: str
    commitment_ok: bool = True
    trial_id: str = ""
    head_mismatch: bool = False  # the chain is intact but not the given head's (exit 4)


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
                f"log: {count(report.entries, 'entry', 'entries')}, hash chain intact; entries "
                f"1..{anchor[0] if anchor else 0} "
                "match the expected head (later entries are covered only by a later head)"
            )
        elif report.ok:
            lines.append(f"log: {count(report.entries, 'entry', 'entries')}, hash chain intact")
            lines.append(
                "log: a recomputed (re-chained) log would pass this check too; pass "
                "--expect-head SEQ:HEX, a head kept outside this computer, to prove entries "
                "1..SEQ unchanged"
            )
        elif report.head_mismatch and (report.first_bad_seq or 0) > report.entries:
            # the anchored head lies past the log's end: no entry of that number to name
            lines.append(f"log: MISMATCH: {report.problem}")
        elif report.head_mismatch:
            lines.append(f"log: MISMATCH at entry {report.first_bad_seq}: {report.problem}")
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
            # Exit 4 only when the head is the one thing wrong (a damaged seal is exit 1).
            report.head_mismatch and seal_ok,
        )


def backup_trial(trial_dir: Path, dest: Path) -> Path:
    """A consistent copy of the trial database (SQLite backup API) plus protocol, seal and
    pre-registration text: the whole trial folder (README "Backups and restoring")."""
    import shutil

    dest = dest.absolute()
    if dest.exists():
        raise TrialStateError(f"{dest} exists; choose a new backup directory")
    with opened_trial(trial_dir, readonly=True) as trial:
        dest.mkdir(parents=True, mode=0o700)
        shutil.copy2(trial.paths.protocol, dest / trial.paths.protocol.name)
        shutil.copy2(trial.paths.seal, dest / trial.paths.seal.name)
        # F20: the pre-registration text is part of the trial folder; a restore (copy the
        # backup folder back, run verify) must bring it back too.
        prereg = trial.paths.root / "preregistration.md"
        if prereg.exists():
            shutil.copy2(prereg, dest / prereg.name)
        trial.store.backup(dest / trial.paths.db.name)
    return dest
