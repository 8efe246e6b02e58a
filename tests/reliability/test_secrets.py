"""Secrets hygiene (docs/design.md T-38): the passphrase goes nowhere; files are private."""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from pathlib import Path

import click
import pytest
from helpers import SMALL_PROTOCOL, START, Invoke, at, day, make_context, with_clock
from reliability.support import entries

from blindself.cli.main import all_commands
from blindself.errors import BlindselfError
from blindself.services.unblinding import unblind_trial

# Distinctive, with characters whose NFC and NFD forms differ.
SECRET = "Zebra quartz caf\u00e9 7781 s\u00f8rensen"
NEAR_MISSES = (SECRET + "!", SECRET.upper(), SECRET[:-1], " ".join(SECRET.split()[:-1]))


def forms(secret: str) -> list[bytes]:
    """Byte forms a leak could take: UTF-8 (NFC and NFD), UTF-16, and a long fragment."""
    out = []
    for text in {secret, unicodedata.normalize("NFD", secret)}:
        out += [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-8").hex().encode()]
    out.append(secret[3:15].encode("utf-8"))
    return out


def test_the_passphrase_cannot_be_given_in_argv() -> None:
    for name, command in all_commands().items():
        for param in command.params:
            if isinstance(param, click.Option) and "passphrase" in param.name:  # type: ignore[operator]
                assert param.name in ("passphrase_file", "generate_passphrase"), (name, param.name)
                assert param.is_flag or param.name == "passphrase_file"


def test_passphrase_never_stored_echoed_or_in_errors(tmp_path: Path, invoke: Invoke) -> None:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    trial = tmp_path / "trial"
    sheet = tmp_path / "sheet.json"
    key_file = tmp_path / "recovery.txt"
    env = {"BLINDSELF_PASSPHRASE": SECRET}
    outputs: list[str] = []

    def go(args: list[str], when: int = 0, **kw: object) -> None:
        r = invoke(args, with_clock(make_context(), at(day(when))), **kw)
        outputs.append(r.stdout + r.stderr)

    go(
        [
            *("init", str(protocol), str(trial), "--start", START.isoformat()),
            *("--sheet", str(sheet), "--recovery-key-file", str(key_file)),
        ],
        env=env,
    )
    assert trial.is_dir(), outputs
    t = ["--trial", str(trial)]
    go(["checkin", *t, "--rate", "mood=5", "--rate", "anxiety=3"])
    go(["status", *t])
    go(["export", *t])
    go(["verify", *t])
    go(["backup", *t, "-o", str(tmp_path / "backup")])
    errors: list[str] = []
    for wrong in NEAR_MISSES:
        go(["unblind", *t, "--early", "--reason", "test"], env={"BLINDSELF_PASSPHRASE": wrong})
        try:
            unblind_trial(trial, make_context(), passphrase=wrong, early=True, reason="test")
        except BlindselfError as exc:
            errors += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
    wrong_file = tmp_path / "wrong.txt"
    wrong_file.write_text(SECRET + "?\n")
    go(["unblind", *t, "--early", "--reason", "x", "--passphrase-file", str(wrong_file)])
    wrong_file.unlink()
    assert len(entries(trial)) == 2, "wrong passphrases must log nothing"
    code = sorted(json.loads(sheet.read_text())["codes"])[0]
    go(["codebreak", *t, code, "--reason", "x"], env={"BLINDSELF_PASSPHRASE": NEAR_MISSES[0]})
    go(["codebreak", *t, code, "--reason", "x"], env=env)
    assert "holds:" in outputs[-1]
    go(["unblind", *t, "--early", "--reason", "test"], when=3, env=env)
    assert (trial / "report" / "report.json").exists(), outputs[-1]
    go(["report", *t])

    text = "\n".join(outputs + errors)
    for wrong in (SECRET, *NEAR_MISSES):
        assert wrong not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        data = path.read_bytes()
        for form in forms(SECRET):
            assert form not in data, path
    recovery = key_file.read_text().strip()
    for path in files:
        if path != key_file:
            assert recovery.encode() not in path.read_bytes(), path
            assert recovery.replace("-", "").encode() not in path.read_bytes(), path


def test_files_are_private(tmp_path: Path, invoke: Invoke) -> None:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    trial = tmp_path / "trial"
    sheets = [tmp_path / "sheet.json", tmp_path / "sheet.html"]
    env = {"BLINDSELF_PASSPHRASE": SECRET}
    old = os.umask(0o022)  # the usual umask: blindself must not rely on a stricter one
    try:
        r = invoke(
            ["init", str(protocol), str(trial), "--start", START.isoformat()]
            + [a for s in sheets for a in ("--sheet", str(s))]
            + ["--recovery-key-file", str(tmp_path / "key.txt")],
            make_context(),
            env=env,
        )
        assert r.exit_code == 0, r.output
        t = ["--trial", str(trial)]
        after = with_clock(make_context(), at(day(10)))
        assert invoke(["backup", *t, "-o", str(tmp_path / "bk")], after).exit_code == 0
        r = invoke(["unblind", *t], after, env=env)
        assert r.exit_code == 0, r.output
    finally:
        os.umask(old)
    expected = {
        trial: 0o700,
        trial / "trial.db": 0o600,
        trial / "protocol.toml": 0o400,
        trial / "allocation.seal": 0o400,
        trial / "report": 0o700,
        tmp_path / "key.txt": 0o600,
        tmp_path / "bk": 0o700,
        tmp_path / "bk" / "trial.db": 0o600,
        tmp_path / "bk" / "allocation.seal": 0o400,
        **{s: 0o600 for s in sheets},
    }
    for name in ("report.json", "report.html", "data.csv"):
        expected[trial / "report" / name] = 0o600
    for suffix in ("-wal", "-shm"):
        side = trial / f"trial.db{suffix}"
        if side.exists():
            expected[side] = 0o600
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in expected}
    assert modes == expected
    # Nothing else in the trial folder, and nothing there readable by others.
    for p in trial.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


@pytest.mark.parametrize("argv", [["init", "--passphrase", SECRET], ["unblind", "--passphrase"]])
def test_a_passphrase_option_is_a_usage_error(invoke: Invoke, argv: list[str]) -> None:
    r = invoke(argv, make_context())
    assert r.exit_code == 2 and "No such option" in r.stderr
    assert SECRET not in r.output
