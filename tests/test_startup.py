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
print("FROZEN=" + str(gc.get_freeze_count() > 0), file=sys.stderr)
print("YOUNG=" + str(gc.get_threshold()[0]), file=sys.stderr)
import dataclasses
records = sorted(
    f"{name}.{attr}"
    for name, module in list(sys.modules.items())
    if name.startswith("blindself")
    for attr, value in vars(module).items()
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == name
)
print("DATACLASSES=" + ",".join(records), file=sys.stderr)
print("MODULES=" + ",".join(sorted(sys.modules)), file=sys.stderr)
""".replace("HEAVY)", repr(HEAVY) + ")")


def probe(args: list[str], cwd: Path) -> tuple[dict[str, str], str]:
    """What a command leaves loaded (the probe's KEY=value lines), and its stdout."""
    env = {**os.environ, "BLINDSELF_TEST_KDF": "1", "BLINDSELF_PASSPHRASE": PASSPHRASE}
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = dict(x.split("=", 1) for x in r.stderr.splitlines() if x[:1].isupper() and "=" in x)
    return found, r.stdout


def run_probe(args: list[str], cwd: Path) -> tuple[str, str]:
    found, out = probe(args, cwd)
    return found["HEAVY"], out


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
    # status loads only what it shows (docs/design.md#start-up): its records are NamedTuples
    # (a frozen dataclass costs ~0.65 ms to define), neither the check-in records nor the
    # chain audit, nor cryptography, nor what only a failing write or --help needs.
    found, _ = probe(["status", "--trial", "trial"], tmp_path)
    records = set(filter(None, found["DATACLASSES"].split(",")))
    allowed = {
        "blindself.services.context.Context",  # replaced in tests: dataclasses.replace
        "blindself.trial.seal.format.KdfParams",  # validates itself in __post_init__
    }
    assert records <= allowed, (
        f"status loads the dataclasses {sorted(records - allowed)}: make them "
        "typing.NamedTuple records (docs/design.md#start-up)"
    )
    modules = set(found["MODULES"].split(","))
    assert "blindself.services.daily" in modules
    unused = {"blindself.trial.checkins", "blindself.trial.log.audit", "blindself.cli.checkin"}
    assert not modules & (unused | {"cryptography", "shutil", "textwrap", "argparse"})
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
    # Every command ends with everything frozen: the collection at exit has nothing to walk.
    def collector(args: list[str]) -> str:
        found, _ = probe(args, tmp_path)
        young = "" if found["GC"] == "False" else f" YOUNG={found['YOUNG']}"
        return f"GC={found['GC']} FROZEN={found['FROZEN']}{young}"

    assert collector(["--help"]) == "GC=False FROZEN=True"
    assert collector(["status", "--trial", "nowhere"]) == "GC=False FROZEN=True"
    assert collector(["templates"]) == "GC=False FROZEN=True"
    assert collector(["serve", "--help"]) == "GC=True FROZEN=True YOUNG=50000"
    assert collector(["report", "--trial", "nowhere"]) == "GC=True FROZEN=True YOUNG=50000"
    assert collector(["analyze", "--help"]) == "GC=True FROZEN=True YOUNG=50000"
