"""Fixtures of the reliability tests (the parent conftest's ``invoke`` applies here too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reliability.support import make_small_trial


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The small helper-mode trial of tests/helpers.py and its JSON sheet."""
    return make_small_trial(tmp_path)
