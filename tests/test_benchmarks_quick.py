"""CI guard for ``benchmarks/run.py --quick``: gross regressions only, never seconds.

It checks that every benchmark still runs to the end, that the daily commands import
nothing heavy (counted by ``python -X importtime``, docs/design.md#performance-targets), and that
the exact randomization test agrees with ``scipy.stats.permutation_test`` on the same 2^12 sign
patterns.  Times are printed by the benchmark, not asserted: they are machine noise here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every row the benchmark must report (a dropped benchmark fails here).
EXPECTED = {
    "startup.python", "startup.import-click", "startup.help", "startup.status",
    "startup.checkin", "rand.exact", "rand.exact.scipy", "rand.mc-daily", "rand.mc-daily.scipy",
    "rand.mc-weekly", "rand.mc-weekly.scipy", "kdf", "analysis.report", "analysis.analyze",
    "analysis.render", "unblind.cli", "power", "pool", "script.bench_report",
    "script.bench_power", "script.bench_cgrc", "script.bench_web", "cold.report-html",
    "cold.analyze", "import.analysis",
}  # fmt: skip
DAILY = ("startup.help", "startup.status", "startup.checkin")
# Rows that depend on other people's files may be absent or skipped in --quick.
OPTIONAL = {
    "pool",
    "script.bench_report",
    "script.bench_power",
    "script.bench_cgrc",
    "script.bench_web",
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


@pytest.mark.slow
def test_every_benchmark_runs(quick: dict[str, Any]) -> None:
    rows = {b["key"]: b for b in quick["benchmarks"]}
    assert set(rows) == EXPECTED
    assert quick["quick"] is True
    for key in EXPECTED - OPTIONAL:
        assert rows[key]["status"] == "ok", (key, rows[key]["note"])
        assert rows[key]["median_s"] > 0, key
        assert rows[key]["rss_mib"] > 0, key
    for key in OPTIONAL:
        assert rows[key]["status"] in ("ok", "skipped", "not available yet"), key
    assert quick["machine"]["cores"] >= 1
    assert quick["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.slow
def test_daily_commands_import_nothing_heavy(quick: dict[str, Any]) -> None:
    rows = {b["key"]: b for b in quick["benchmarks"]}
    for key in DAILY:
        imports = rows[key]["extra"]["imports"]
        assert imports["exit"] == 0, key
        # A probe that saw no import at all would pass vacuously.
        assert imports["modules"] > 50, key
        assert imports["heavy"] == [], key
        # Paired with the click peer in the same run (issue 17); the ratio is printed only.
        assert rows[key]["extra"]["paired"]["pairs"] == 3, key


@pytest.mark.slow
def test_sizes_and_exact_agreement(quick: dict[str, Any]) -> None:
    rows = {b["key"]: b for b in quick["benchmarks"]}
    exact = rows["rand.exact"]["extra"]
    assert exact["exact"] is True
    assert exact["assignments"] == 2**12  # 12 blocks of [active, placebo]
    # scipy enumerates the same 2^12 within-pair swaps (permutation_type="samples").
    assert exact["p"] == pytest.approx(rows["rand.exact.scipy"]["extra"]["p"], abs=1e-12)
    for key in ("rand.mc-daily", "rand.mc-weekly"):
        extra = rows[key]["extra"]
        assert extra["exact"] is False
        assert extra["draws"] == 1000
        assert extra["days"] == 365
