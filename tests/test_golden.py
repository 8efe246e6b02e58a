"""Golden files for the Markdown and text renderings (issue 4).

They change only through a reviewed run of ``pytest tests/test_golden.py --update-golden``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Invoke

from blindself.report.rendering import render

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"


def check(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run pytest --update-golden and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, run "
        "pytest tests/test_golden.py --update-golden and review the diff"
    )


@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("md", "md")])
def test_sample_report_renderings(fmt: str, suffix: str, update_golden: bool) -> None:
    report = json.loads((DATA / "report-sample.json").read_text())
    check(f"report-sample.{suffix}", render(report, fmt), update_golden)


@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("md", "md")])
def test_noopept_analysis_renderings(
    invoke: Invoke, tmp_path: Path, fmt: str, suffix: str, update_golden: bool
) -> None:
    """A real analysis end to end: the numbers are deterministic (seeded from the data)."""
    out = tmp_path / f"noopept.{suffix}"
    r = invoke(
        [
            "analyze",
            str(DATA / "gwern2013-noopept.csv"),
            "--arm-column",
            "Noopept",
            "--active",
            "1",
            "--placebo",
            "0",
            "--outcomes",
            "MP",
            "-o",
            str(out),
        ]
    )
    assert r.exit_code == 0, r.output
    text = out.read_text()
    if fmt == "text":
        assert text == r.stdout  # the terminal summary is the text form
    check(f"noopept.{suffix}", text.replace(str(DATA), "<DATA>"), update_golden)
