"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import SMALL_PROTOCOL, Invoke, make_context

from blindself.cli import cli
from blindself.services.context import Context


@pytest.fixture
def protocol_file(tmp_path: Path) -> Path:
    p = tmp_path / "protocol.toml"
    p.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    return p


@pytest.fixture
def self_protocol_file(tmp_path: Path) -> Path:
    p = tmp_path / "self-protocol.toml"
    p.write_text(SMALL_PROTOCOL.format(blinding="self"))
    return p


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run the CLI in-process with a given context; never reads the real environment."""
    monkeypatch.delenv("BLINDSELF_TRIAL", raising=False)
    monkeypatch.delenv("BLINDSELF_PASSPHRASE", raising=False)
    monkeypatch.delenv("BLINDSELF_TEST_KDF", raising=False)

    def run(
        args: list[str],
        ctx: Context | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli, args, obj=ctx or make_context(), env=env, input=input, catch_exceptions=False
        )

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/* from the current output (review the diff before committing)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
