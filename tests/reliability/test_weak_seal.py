"""A seal made with test-strength key derivation is announced and flagged (T-47)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, make_context
from reliability.support import cli_env, run_cli

from blindself.trial.seal.format import DEFAULT_KDF, TEST_KDF, weak_kdf_warning


def _init(tmp_path: Path, invoke: Invoke, *, production: bool) -> tuple[Path, str]:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    ctx = make_context()
    if production:
        ctx = replace(ctx, kdf=None)
    trial = tmp_path / "trial"
    r = invoke(
        ["init", str(protocol), str(trial), "--no-sheet", "--start", "2026-03-02"],
        ctx,
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    return trial, r.output


def test_test_kdf_init_warns_and_verify_and_status_flag_it(tmp_path: Path) -> None:
    """The reported attack: BLINDSELF_TEST_KDF=1 made a 8 KiB x 1 seal with no word said."""
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    trial = tmp_path / "trial"
    env = cli_env(BLINDSELF_TEST_KDF="1")
    made = run_cli("init", str(protocol), str(trial), "--no-sheet", env=env)
    assert made.returncode == 0, made.stderr
    assert "Warning: TEST-STRENGTH SEAL: the seal uses test-strength key derivation" in made.stderr
    assert "24,576 times cheaper" in made.stderr  # (65536 KiB x 3) / (8 KiB x 1)
    plain = {k: v for k, v in env.items() if k != "BLINDSELF_TEST_KDF"}
    verified = run_cli("verify", "--trial", str(trial), env=plain)
    assert "seal: structure intact" in verified.stdout
    assert "seal: WEAK: the seal uses test-strength key derivation" in verified.stdout
    status = run_cli("status", "--trial", str(trial), env=plain)
    assert status.returncode == 0
    assert "Warning: the seal uses test-strength key derivation" in status.stderr
    as_json = run_cli("status", "--trial", str(trial), "--json", env=plain)
    assert "test-strength" in as_json.stdout and not as_json.stderr


def test_production_seal_is_not_flagged(tmp_path: Path, invoke: Invoke) -> None:
    trial, output = _init(tmp_path, invoke, production=True)
    assert "test-strength" not in output
    verified = invoke(["verify", "--trial", str(trial)])
    assert "seal: structure intact" in verified.output
    assert "WEAK" not in verified.output
    status = invoke(["status", "--trial", str(trial)])
    assert "Warning" not in status.output


def test_the_threshold_is_the_production_cost() -> None:
    assert weak_kdf_warning(DEFAULT_KDF) is None
    assert weak_kdf_warning(replace(DEFAULT_KDF, memory_kib=2 * DEFAULT_KDF.memory_kib)) is None
    assert weak_kdf_warning(TEST_KDF)
    assert weak_kdf_warning(replace(DEFAULT_KDF, iterations=DEFAULT_KDF.iterations - 1))
    assert weak_kdf_warning(replace(DEFAULT_KDF, memory_kib=DEFAULT_KDF.memory_kib // 2))
