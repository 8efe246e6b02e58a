"""Daily commands start light (docs/design.md#performance-targets): no numpy, scipy, statsmodels,
matplotlib or jinja2.

Checked by what is imported, never by seconds (timings live in benchmarks/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import PASSPHRASE, SMALL_PROTOCOL

HEAVY = ("numpy", "scipy", "statsmodels", "matplotlib", "jinja2", "pandas", "segno")

PROBE = """
import sys, runpy
sys.argv = ["blindself", *sys.argv[1:]]
try:
    runpy.run_module("blindself", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
import gc
print("GC=" + str(gc.isenabled()), file=sys.stderr)
""".replace("HEAVY)", repr(HEAVY) + ")")


def run_probe(args: list[str], cwd: Path) -> tuple[str, str]:
    env = {**os.environ, "BLINDSELF_TEST_KDF": "1", "BLINDSELF_PASSPHRASE": PASSPHRASE}
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    return line.removeprefix("HEAVY="), r.stdout


def test_daily_commands_import_nothing_heavy(tmp_path: Path) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    env = {**os.environ, "BLINDSELF_TEST_KDF": "1", "BLINDSELF_PASSPHRASE": PASSPHRASE}
    subprocess.run(
        [sys.executable, "-m", "blindself", "init", str(protocol), "trial", "--no-sheet"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert run_probe(["--help"], tmp_path)[0] == ""
    heavy, out = run_probe(["status", "--trial", "trial", "--json"], tmp_path)
    assert heavy == ""
    today = json.loads(out)["today"]
    heavy, _ = run_probe(
        ["checkin", "--trial", "trial", "--date", today, "--rate", "mood=5", "--rate", "anxiety=4"],
        tmp_path,
    )
    assert heavy == ""
    assert run_probe(["verify", "--trial", "trial"], tmp_path)[0] == ""
    assert run_probe(["export", "--trial", "trial"], tmp_path)[0] == ""
    assert run_probe(["calendar", "--trial", "trial"], tmp_path)[0] == ""
    assert run_probe(["log", "--trial", "trial"], tmp_path)[0] == ""


def test_only_the_short_daily_commands_run_with_the_collector_paused(tmp_path: Path) -> None:
    # docs/design.md#start-up: the console script pauses the cyclic collector; every command
    # that may run long (the web server, the analyses) gets it back before it starts.
    def collector(args: list[str]) -> str:
        env = {**os.environ, "BLINDSELF_TEST_KDF": "1"}
        r = subprocess.run(
            [sys.executable, "-c", PROBE, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return [x for x in r.stderr.splitlines() if x.startswith("GC=")][-1]

    assert collector(["--help"]) == "GC=False"
    assert collector(["status", "--trial", "nowhere"]) == "GC=False"
    assert collector(["templates"]) == "GC=False"
    assert collector(["serve", "--help"]) == "GC=True"
    assert collector(["report", "--trial", "nowhere"]) == "GC=True"
    assert collector(["analyze", "--help"]) == "GC=True"
