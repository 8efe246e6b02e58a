"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import SMALL_PROTOCOL, Invoke, make_context

from blindself.cli.main import cli
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


# --- a real browser (Playwright driving Debian's Chromium) ---------------------------------
# Playwright's own browser download cannot be reached here, so every browser test launches
# the system Chromium through ``executable_path``.  In CI (CI=true) a missing Chromium is a
# failure, never a skip: the browser tests are part of the gate.

_CHROMIUM_FLAGS = [
    "--no-sandbox",  # the tests run as root (CI too), where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Debian's Chromium (or another Chromium on PATH); None when there is none."""
    import os
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, pointed at the system Chromium."""
    import os

    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium found, and CI=true requires the browser tests to run")
        pytest.skip("no Chromium found (install Debian's chromium to run the browser tests)")
    return {**browser_type_launch_args, "executable_path": exe, "args": _CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def test_output() -> Path:
    """Screenshots and PDFs a person can look at after a run (not compared by any test)."""
    out = Path(__file__).resolve().parents[1] / "test-output"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces pytest-playwright's fallback fixture, a method that pytest 9 warns about
    (and the warning is an error here); no browser test uses a base URL."""
    return None


@pytest.fixture(autouse=True, scope="session")
def _power_check_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The power check of plan and init keeps its figures in the user's cache folder
    (services/power_check.py): the tests keep theirs in one folder of their own, shared by
    the processes they start, never in the real home."""
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
