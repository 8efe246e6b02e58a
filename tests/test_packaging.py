"""Packaging: every package ships, templates are found from an installed copy."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "blindself").rglob("__init__.py")
    }
    found.add("blindself.protocols")  # mapped from the top-level protocols/ folder
    assert listed == found


def test_shipped_templates_are_package_data() -> None:
    from importlib import resources

    names = {p.name for p in resources.files("blindself.protocols").iterdir()}
    on_disk = {p.name for p in (ROOT / "protocols").glob("*.toml")}
    assert on_disk and on_disk <= names
