"""Every benchmark of docs/design.md#performance-targets, side by side with its peer, on this
machine.

Run with the project's interpreter: ``.venv/bin/python benchmarks/run.py [--quick] [--json FILE]``.

Commands (start-up, ``unblind``) are timed as whole processes: with ``hyperfine`` when it is
installed (start-up only, full mode), otherwise by starting the process here.  Kernels
(randomization tests, analysis, power, KDF) are timed in-process by
``benchmarks/bench_kernels.py``, each case in its own child process so that its peak RSS
is its own.  Peak RSS is ``ru_maxrss`` of the waited child (``os.wait4``).  Every time is a
median over repeats with the range beside it; the ratio to a peer is measured in the same
run.  ``--quick`` uses few repeats and small sizes (the CI guard
``tests/test_benchmarks_quick.py`` runs it): its times say nothing about the targets.

The exit status is 1 when a benchmark of this file failed to run; targets never fail it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the protocol texts the tests use too
from protocol_texts import STARTUP_PROTOCOL  # noqa: E402

KERNELS = HERE / "bench_kernels.py"
HEAVY = ("numpy", "scipy", "statsmodels", "matplotlib", "jinja2", "pandas")
STARTUP_TARGET = 0.150
ANALYSIS_TARGET = 3.0
POWER_TARGET = 10.0
POOL_TARGET = 30.0
MC_TARGET = 1.0
# Issue 17: whole-process time over ``python -c "import click"``, paired in the same run;
# the cold analysis commands of a demo trial (103 days, 5 outcomes); the exact test
# against scipy.stats.permutation_test.
RATIO_TARGETS = {"startup.status": 1.5, "startup.help": 1.2}
COLD_TARGET = 1.0
EXACT_SPEEDUP_TARGET = 10.0
PASSPHRASE = "benchmark passphrase, not a secret"  # benchmark trials only
KDF_WHY = (
    "Argon2id m=64 MiB, t=3, p=1 (RFC 9106's second recommended option) makes each "
    "passphrase guess cost 64 MiB and a fraction of a second, while it is paid only at init "
    "and unblind (twice a trial), never by a daily command."
)


# --- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One child process: wall and CPU seconds, peak RSS (MiB), exit status, output."""

    wall: float
    cpu: float
    rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_process(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 900.0
) -> Sample:
    """Start ``argv``, wait for it with ``os.wait4`` and return its own resource usage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd)  # fmt: skip
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


@dataclass
class Row:
    """One line of the table (and of the JSON)."""

    key: str
    title: str
    kind: str  # command | kernel | peer | script
    status: str = "ok"  # ok | failed | skipped | not available yet
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_mib: float | None = None
    target_s: float | None = None
    peer: str | None = None
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        return statistics.median(self.wall) if self.wall else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        med = self.median
        out["median_s"] = med
        out["min_s"] = min(self.wall) if self.wall else None
        out["max_s"] = max(self.wall) if self.wall else None
        out["cpu_median_s"] = statistics.median(self.cpu) if self.cpu else None
        out["meets_target"] = (
            None if med is None or self.target_s is None else bool(med <= self.target_s)
        )
        return out


def _failed(row: Row, sample: Sample) -> Row:
    tail = (sample.stderr.strip().splitlines() or ["(no output)"])[-1]
    row.status = "failed"
    row.note = f"exit {sample.returncode}: {tail[:200]}"
    return row


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLINDSELF_")}
    env.update(extra)
    return env


# --- machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and library versions, load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for mod in ("numpy", "scipy", "cryptography", "click"):
        try:
            versions[mod] = version(mod)
        except PackageNotFoundError:
            versions[mod] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
        "load_avg": list(os.getloadavg()),
        "hyperfine": _hyperfine_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _hyperfine_version() -> str | None:
    exe = shutil.which("hyperfine")
    if exe is None:
        return None
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return r.stdout.strip() or None


# --- start-up commands -------------------------------------------------------------------


def blindself_command() -> list[str]:
    """The installed console script beside this interpreter (``.venv/bin/blindself``)."""
    script = Path(sys.executable).parent / "blindself"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "blindself"]


def heavy_imports(argv: Sequence[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Modules a command imports, from ``python -X importtime`` (no guessing from time)."""
    rest = list(argv[1:]) if argv[0] == sys.executable else list(argv)
    sample = run_process([sys.executable, "-X", "importtime", *rest], env=env, cwd=cwd)
    names = set()
    for line in sample.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            names.add(fields[2].strip())
    top = {n.split(".")[0] for n in names}
    return {
        "modules": len(names),
        "heavy": sorted(top & set(HEAVY)),
        "exit": sample.returncode,
    }


def import_tree(argv: Sequence[str], env: dict[str, str], cwd: Path, top: int = 12) -> list[str]:
    """The ``top`` imports of a command by cumulative time (``python -X importtime``)."""
    rest = list(argv[1:]) if argv[0] == sys.executable else list(argv)
    sample = run_process([sys.executable, "-X", "importtime", *rest], env=env, cwd=cwd)
    entries = []
    for line in sample.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            entries.append((int(fields[1]), int(fields[0]), fields[2].rstrip()))
    entries.sort(reverse=True)
    return [
        f"{cum / 1000:7.1f} ms (self {own / 1000:6.1f}) {name}" for cum, own, name in entries[:top]
    ]


def bytecode_env(work: Path, **extra: str) -> dict[str, str]:
    """An environment in which Python keeps bytecode caches (under ``work/pycache``).

    An installed package has its bytecode compiled at install time; a caller's
    ``PYTHONDONTWRITEBYTECODE=1`` would instead make every timed run of this editable
    checkout compile each blindself module it imports (a third of ``status`` on the
    benchmark machine), which no user pays.  The peer runs in the same environment.
    """
    env = _env(**extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def paired_ratio(
    argv: list[str],
    peer: list[str],
    *,
    pairs: int,
    env: dict[str, str],
    cwd: Path,
    prepare: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Median over ``pairs`` of (command / peer), each pair run back to back.

    On a shared machine the load drifts between runs; a ratio taken within each pair
    cancels most of it, which two medians taken minutes apart do not.  CPU time (user +
    system of the waited child) is paired the same way.
    """
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(pairs):
        base = run_process(peer, env=env, cwd=cwd)
        if prepare:
            prepare()
        cmd = run_process(argv, env=env, cwd=cwd)
        if base.returncode or cmd.returncode:
            raise RuntimeError(f"{shlex.join(argv)}: exit {cmd.returncode}: {cmd.stderr.strip()}")
        wall.append(cmd.wall / base.wall)
        if base.cpu > 0:
            cpu.append(cmd.cpu / base.cpu)
    return {
        "pairs": pairs,
        "wall_ratio": statistics.median(wall),
        "cpu_ratio": statistics.median(cpu) if cpu else None,
        "wall_ratios": [round(x, 3) for x in wall],
    }


def _prepare_startup_trial(work: Path, cli: list[str]) -> tuple[Path, str]:
    """A helper-mode trial whose today is an unrecorded dose day; returns (pristine, code)."""
    protocol = work / "startup.toml"
    protocol.write_text(STARTUP_PROTOCOL)
    env = _env(BLINDSELF_TEST_KDF="1", BLINDSELF_PASSPHRASE=PASSPHRASE)
    pristine = work / "pristine"
    start = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    init = run_process(
        [*cli, "init", str(protocol), str(pristine), "--no-sheet", "--start", start],
        env=env,
        cwd=work,
    )
    if init.returncode != 0:
        raise RuntimeError(f"init failed: {init.stderr.strip()}")
    status = run_process([*cli, "status", "--trial", str(pristine), "--json"], env=env, cwd=work)
    nxt = json.loads(status.stdout)["next"]
    if nxt.get("day_type") != "dose" or not nxt.get("container"):
        raise RuntimeError(f"the prepared trial has no dose day today: {nxt}")
    return pristine, str(nxt["container"])


def _restore(pristine: Path, trial: Path) -> None:
    shutil.rmtree(trial, ignore_errors=True)
    shutil.copytree(pristine, trial)


def time_command(
    argv: list[str],
    *,
    runs: int,
    env: dict[str, str],
    cwd: Path,
    prepare: Callable[[], None] | None = None,
    prepare_shell: str | None = None,
    use_hyperfine: bool = False,
    warmup: bool = True,
) -> tuple[list[float], list[float], float, str]:
    """Wall times, CPU times, peak RSS (MiB) and the tool used for ``runs`` runs.

    ``warmup``: one untimed run first (the page cache, like a second daily use).  With
    hyperfine the CPU list holds its mean user + system time once.
    """
    exe = shutil.which("hyperfine") if use_hyperfine else None
    rss = 0.0
    if warmup or exe:
        if prepare:
            prepare()
        first = run_process(argv, env=env, cwd=cwd)
        if first.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(argv)}: exit {first.returncode}: {first.stderr.strip()}"
            )
        rss = first.rss_mib
    if exe:
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / "h.json"
            cmd = [exe, "-N", "--warmup", "2", "--runs", str(runs), "--style", "none",
                   "--export-json", str(export)]  # fmt: skip
            if prepare_shell:
                cmd += ["--prepare", f"sh -c {shlex.quote(prepare_shell)}"]
            cmd.append(shlex.join(argv))
            r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
            if r.returncode == 0:
                res = json.loads(export.read_text())["results"][0]
                return [float(t) for t in res["times"]], [res["user"] + res["system"]], rss, exe
    wall, cpu = [], []
    for _ in range(runs):
        if prepare:
            prepare()
        s = run_process(argv, env=env, cwd=cwd)
        if s.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)}: exit {s.returncode}: {s.stderr.strip()}")
        wall.append(s.wall)
        cpu.append(s.cpu)
        rss = max(rss, s.rss_mib)
    return wall, cpu, rss, "wait4"


def startup_rows(quick: bool, work: Path, use_hyperfine: bool) -> list[Row]:
    """``python -c pass``, the click peer, and the three daily commands."""
    cli = blindself_command()
    runs = 3 if quick else 20
    env = bytecode_env(work, BLINDSELF_TEST_KDF="1", BLINDSELF_PASSPHRASE=PASSPHRASE)
    py = sys.executable
    rows = [
        Row("startup.python", "python -c pass (floor)", "peer"),
        Row("startup.import-click", "python -c 'import click' (peer)", "peer"),
        Row("startup.help", "blindself --help", "command", target_s=STARTUP_TARGET),
        Row("startup.status", "blindself status", "command", target_s=STARTUP_TARGET),
        Row("startup.checkin", "blindself checkin (fresh day)", "command",
            target_s=STARTUP_TARGET),
    ]  # fmt: skip
    try:
        pristine, code = _prepare_startup_trial(work, cli)
    except (RuntimeError, ValueError, KeyError) as exc:
        for r in rows[2:]:
            r.status, r.note = "failed", f"trial preparation: {exc}"[:200]
        pristine, code = work / "missing", ""
    trial = work / "trial"
    checkin = [*cli, "checkin", "--trial", str(trial), "--code", code, "--rate", "mood=5",
               "--rate", "anxiety=4", "--guess", "active", "--confidence", "60"]  # fmt: skip
    commands: dict[str, tuple[list[str], Callable[[], None] | None, str | None]] = {
        "startup.python": ([py, "-c", "pass"], None, None),
        "startup.import-click": ([py, "-c", "import click"], None, None),
        "startup.help": ([*cli, "--help"], None, None),
        "startup.status": ([*cli, "status", "--trial", str(pristine)], None, None),
        "startup.checkin": (
            checkin,
            lambda: _restore(pristine, trial),
            f"rm -rf {shlex.quote(str(trial))} && cp -a {shlex.quote(str(pristine))} "
            f"{shlex.quote(str(trial))}",
        ),
    }
    for row in rows:
        if row.status != "ok":
            continue
        argv, prep, prep_shell = commands[row.key]
        try:
            row.wall, row.cpu, row.rss_mib, tool = time_command(
                argv, runs=runs, env=env, cwd=work, prepare=prep, prepare_shell=prep_shell,
                use_hyperfine=use_hyperfine, warmup=not quick,
            )  # fmt: skip
        except RuntimeError as exc:
            row.status, row.note = "failed", str(exc)[:200]
            continue
        row.extra["timer"] = Path(tool).name
        if row.kind == "command":
            if prep:
                prep()
            row.extra["imports"] = heavy_imports(argv, env, work)
            heavy = row.extra["imports"]["heavy"]
            row.note = "imports " + (", ".join(heavy) if heavy else "nothing heavy")
    # The ratios of issue 17, each run paired with the peer (see paired_ratio).
    for row in rows[2:]:
        if row.status != "ok":
            continue
        argv, prep, _ = commands[row.key]
        try:
            paired = paired_ratio(argv, commands["startup.import-click"][0],
                                  pairs=3 if quick else 15, env=env, cwd=work, prepare=prep)  # fmt: skip
        except RuntimeError as exc:
            row.status, row.note = "failed", str(exc)[:200]
            continue
        row.peer, row.ratio = "import click, paired", paired["wall_ratio"]
        row.extra["paired"] = paired
        target = RATIO_TARGETS.get(row.key)
        if target is not None:
            paired["target"] = target
            row.note += f"; ratio target <= {target}x"
    return rows


# --- the analysis commands, cold ----------------------------------------------------------


def cold_rows(quick: bool, work: Path) -> list[Row]:
    """``report --format html`` and ``analyze`` of the demo trial as whole processes, and
    the import of the analysis stack, each with its import tree."""
    cli = blindself_command()
    env = bytecode_env(work)
    rows = [
        Row("cold.report-html", "blindself report --format html (demo, 103 d x 5 outcomes)",
            "command", target_s=COLD_TARGET),
        Row("cold.analyze", "blindself analyze data.csv of that trial (--json)", "command",
            target_s=COLD_TARGET),
        Row("import.analysis", "python -c 'import blindself.analysis.engine'", "command"),
    ]  # fmt: skip
    demo = work / "demo"
    made = run_process([*cli, "demo", str(demo)], env=env, cwd=work)
    csv = work / "data.csv"
    export = run_process([*cli, "export", "--trial", str(demo), "-o", str(csv)], env=env,
                         cwd=work)  # fmt: skip
    if made.returncode or export.returncode:
        for r in rows[:2]:
            _failed(r, made if made.returncode else export)
        rows = rows[2:]
    commands = {
        "cold.report-html": [*cli, "report", "--trial", str(demo), "--format", "html"],
        "cold.analyze": [*cli, "analyze", str(csv), "--arm-column", "allocation_arm", "--active", "active",
                         "--placebo", "placebo", "--protocol", str(demo / "protocol.toml"),
                         "--json"],
        "import.analysis": [sys.executable, "-c", "import blindself.analysis.engine"],
    }  # fmt: skip
    for row in rows:
        if row.status != "ok":
            continue
        argv = commands[row.key]
        try:
            row.wall, row.cpu, row.rss_mib, _ = time_command(
                argv, runs=1 if quick else 5, env=env, cwd=work, warmup=True
            )
        except RuntimeError as exc:
            row.status, row.note = "failed", str(exc)[:200]
            continue
        row.extra["import_tree"] = import_tree(argv, env, work)
        row.extra["imports"] = heavy_imports(argv, env, work)
        row.note = "imports " + (", ".join(row.extra["imports"]["heavy"]) or "nothing heavy")
    return rows


# --- kernels -----------------------------------------------------------------------------


def kernel(
    case: str, quick: bool, repeat: int, *, workdir: Path | None = None
) -> tuple[dict[str, Any] | None, Sample]:
    """Run one ``bench_kernels.py`` case in a child; its JSON line (None on failure)."""
    argv = [sys.executable, str(KERNELS), case, "--repeat", str(repeat)]
    if quick:
        argv.append("--quick")
    if workdir is not None:
        argv += ["--workdir", str(workdir)]
    sample = run_process(argv, env=_env(), cwd=ROOT)
    if sample.returncode != 0:
        return None, sample
    return json.loads(sample.stdout.strip().splitlines()[-1]), sample


def _fill(row: Row, result: dict[str, Any] | None, sample: Sample, series: str = "main") -> Row:
    if result is None:
        return _failed(row, sample)
    row.wall = result["series"][series]["wall"]
    row.cpu = result["series"][series]["cpu"]
    row.rss_mib = sample.rss_mib
    row.extra.update(result["extra"])
    return row


def randomization_rows(quick: bool) -> list[Row]:
    """Exact 2^20 and Monte Carlo 10^5 draws, each beside scipy's permutation_test."""
    rep, rep_peer = (2, 1) if quick else (5, 3)
    blocks = 12 if quick else 20
    draws = "10^3" if quick else "10^5"
    specs = [
        ("rand.exact", f"randomization exact 2^{blocks} ({blocks} AB blocks)", None,
         f"scipy permutation_test samples, 2^{blocks}"),
        ("rand.mc-daily", f"randomization MC {draws}, 365 d, daily periods", MC_TARGET,
         f"scipy permutation_test independent, {draws}"),
        ("rand.mc-weekly", f"randomization MC {draws}, 365 d, weekly periods", MC_TARGET,
         f"scipy permutation_test independent, {draws}"),
    ]  # fmt: skip
    rows: list[Row] = []
    for key, title, target, peer_title in specs:
        case = key.replace("rand.", "rand-")
        row = _fill(Row(key, title, "kernel", target_s=target), *kernel(case, quick, rep))
        peer = _fill(Row(f"{key}.scipy", peer_title, "peer"), *kernel(f"{case}-scipy", quick,
                                                                      rep_peer))  # fmt: skip
        if row.median is not None and peer.median:
            row.peer, row.ratio = "scipy", row.median / peer.median
        if key == "rand.exact" and row.status == peer.status == "ok":
            same = abs(row.extra["p"] - peer.extra["p"]) <= 1e-12
            row.note = "same p as scipy" if same else "p differs from scipy!"
            if row.median and peer.median:
                row.extra["speedup"] = peer.median / row.median
                row.note += (
                    f"; {row.extra['speedup']:.1f}x faster (target >= {EXACT_SPEEDUP_TARGET:g}x)"
                )
        elif key != "rand.exact":
            peer.note = "ignores blocks: a speed peer only"
        rows += [row, peer]
    return rows


def analysis_rows(quick: bool, work: Path, kdf_median: float | None) -> list[Row]:
    """analyze + HTML render in-process, and ``blindself unblind`` as a whole process."""
    size = "57 days x 2 outcomes" if quick else "365 days x 5 outcomes"
    repeat = 2 if quick else 5
    both = Row("analysis.report", f"analysis + report ({size})", "kernel",
               target_s=ANALYSIS_TARGET)  # fmt: skip
    parts = [
        Row("analysis.analyze", "  of which analyze()", "kernel"),
        Row("analysis.render", "  of which render(html)", "kernel"),
    ]
    target = None if kdf_median is None else ANALYSIS_TARGET + kdf_median
    unblind = Row("unblind.cli", f"blindself unblind, cold ({size})", "command", target_s=target)
    unblind.note = "target: 3 s + measured KDF" if target else "KDF not measured"
    base = work / "analysis"
    base.mkdir()
    result, sample = kernel("analysis", quick, repeat, workdir=base)
    _fill(both, result, sample, "analysis+report")
    for row, series in zip(parts, ("analyze", "render"), strict=True):
        _fill(row, result, sample, series)
        row.extra = {}
    if result is None:
        unblind.status, unblind.note = "failed", "the trial could not be built"
        return [both, *parts, unblind]
    pristine = base / "pristine"
    copy = base / "unblind"
    try:
        unblind.wall, unblind.cpu, unblind.rss_mib, _ = time_command(
            [*blindself_command(), "unblind", "--trial", str(copy)],
            runs=1 if quick else 3,
            env=_env(BLINDSELF_PASSPHRASE=PASSPHRASE),
            cwd=base,
            prepare=lambda: _restore(pristine, copy),
            warmup=not quick,
        )
    except RuntimeError as exc:
        unblind.status, unblind.note = "failed", str(exc)[:200]
    unblind.extra["runs_note"] = "each run on a fresh copy of the blinded trial"
    return [both, *parts, unblind]


def kdf_row(quick: bool) -> Row:
    row = _fill(Row("kdf", "Argon2id at DEFAULT_KDF (one derivation)", "kernel"),
                *kernel("kdf", quick, 2 if quick else 7))  # fmt: skip
    if row.status == "ok":
        row.note = f"+{row.extra['rss_growth_mib']} MiB RSS"
    row.extra["why"] = KDF_WHY
    return row


def power_row(quick: bool) -> Row:
    sims = 50 if quick else 1000
    row = Row("power", f"power, {sims} simulated trials", "kernel", target_s=POWER_TARGET)
    if not (ROOT / "blindself" / "analysis" / "stats" / "power.py").exists():
        row.status = "not available yet"
        return row
    _fill(row, *kernel("power", quick, 1 if quick else 3))
    if row.status == "ok":
        row.note = f"{row.extra['protocol']}, incl. 80 % size search"
    return row


# --- other helpers' scripts -------------------------------------------------------------

SCRIPTS: tuple[tuple[str, str, str, float | None, str | None], ...] = (
    # key, script, title, target (s), module that must exist
    ("pool", "bench_pool.py", "pool 10,000 x 60 days (bench_pool.py)", POOL_TARGET,
     "blindself/services/pooling.py"),
    ("script.bench_report", "bench_report.py", "bench_report.py (whole script)", None, None),
    ("script.bench_power", "bench_power.py", "bench_power.py (all protocols)", None,
     "blindself/analysis/stats/power.py"),
    ("script.bench_cgrc", "bench_cgrc.py", "bench_cgrc.py (correct guess rate curves)", None,
     "blindself/analysis/stats/cgrc.py"),
    ("script.bench_web", "bench_web.py", "bench_web.py (check-in page and POST, a year)", None,
     "blindself/web/__init__.py"),
)  # fmt: skip


def script_rows(quick: bool) -> list[Row]:
    """Plain scripts written beside this one, run once as whole processes."""
    rows = []
    for key, name, title, target, needs in SCRIPTS:
        row = Row(key, title, "script", target_s=target)
        rows.append(row)
        missing = [p for p in (f"benchmarks/{name}", needs) if p and not (ROOT / p).exists()]
        if missing:
            row.status, row.note = "not available yet", f"missing {', '.join(missing)}"
            continue
        if quick:
            row.status, row.note = "skipped", "not run with --quick"
            continue
        sample = run_process([sys.executable, str(HERE / name)], env=_env(), cwd=ROOT)
        if sample.returncode != 0:
            _failed(row, sample)
            continue
        row.wall, row.cpu, row.rss_mib = [sample.wall], [sample.cpu], sample.rss_mib
        row.extra["output"] = sample.stdout.strip().splitlines()[-12:]
    return rows


# --- report ------------------------------------------------------------------------------


def _s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def table(rows: list[Row], info: dict[str, Any]) -> str:
    """The plain-text table with the machine above it."""
    m = info
    head = [
        f"machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), "
        f"{m['ram_gib']} GiB RAM, {m['implementation']} {m['python']}, {m['platform']}",
        f"load average at start {m['load_avg'][0]:.2f}; start-up timed by "
        f"{m.get('startup_timer', '-')}; times are wall clock, CPU is user + system",
        "",
    ]
    cols = ("benchmark", "median", "min-max", "CPU", "peak RSS", "target", "vs peer", "note")
    lines = []
    for r in rows:
        med = r.median
        if r.status != "ok":
            lines.append((r.title, r.status, "", "", "", _s(r.target_s), "", r.note))
            continue
        ok = "" if r.target_s is None or med is None else (" ok" if med <= r.target_s else " MISS")
        cpu = statistics.median(r.cpu) if r.cpu else None
        lines.append((
            r.title, _s(med), f"{_s(min(r.wall))}-{_s(max(r.wall))}", _s(cpu),
            f"{r.rss_mib:.0f} MiB" if r.rss_mib is not None else "-",
            (f"< {_s(r.target_s)}" + ok) if r.target_s is not None else "",
            f"{r.ratio:.2f}x {r.peer}" if r.ratio is not None else "", r.note,
        ))  # fmt: skip
    widths = [max(len(c), *(len(x[i]) for x in lines)) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:{'<' if i in (0, 7) else '>'}{w}}}" for i, w in enumerate(widths))
    out = [*head, fmt.format(*cols).rstrip(), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*x).rstrip() for x in lines]
    kdf = next((r for r in rows if r.key == "kdf"), None)
    if kdf is not None:
        out += ["", f"KDF: {KDF_WHY}"]
    for r in rows:
        if r.extra.get("output"):
            out += ["", f"{r.title} printed:", *("  " + x for x in r.extra["output"])]
    return "\n".join(out)


EXPECTED_KEYS = (
    "startup.python", "startup.import-click", "startup.help", "startup.status",
    "startup.checkin", "rand.exact", "rand.exact.scipy", "rand.mc-daily", "rand.mc-daily.scipy",
    "rand.mc-weekly", "rand.mc-weekly.scipy", "kdf", "analysis.report", "analysis.analyze",
    "analysis.render", "unblind.cli", "power", "pool", "script.bench_report",
    "script.bench_power", "script.bench_cgrc", "script.bench_web", "cold.report-html",
    "cold.analyze", "import.analysis",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes (CI)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--no-hyperfine", action="store_true", help="time start-up here")
    args = parser.parse_args(argv)
    info = machine()
    rows: list[Row] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="blindself-bench-") as tmp:
        work = Path(tmp)
        rows += startup_rows(args.quick, work, use_hyperfine=not (args.quick or args.no_hyperfine))
        rows += randomization_rows(args.quick)
        kdf = kdf_row(args.quick)
        rows.append(kdf)
        rows += analysis_rows(args.quick, work, kdf.median)
        rows += cold_rows(args.quick, work)
        rows.append(power_row(args.quick))
        rows += script_rows(args.quick)
    timers = {str(r.extra.get("timer")) for r in rows if r.key.startswith("startup.")}
    info["startup_timer"] = ", ".join(sorted(t for t in timers if t != "None")) or "-"
    info["load_avg_end"] = list(os.getloadavg())
    info["total_s"] = round(time.perf_counter() - t0, 1)
    print(table(rows, info))
    print(f"\n{info['total_s']} s in all; load average at the end {info['load_avg_end'][0]:.2f}")
    if args.json:
        doc = {
            "schema": "blindself-bench/1",
            "quick": args.quick,
            "machine": info,
            "benchmarks": [r.to_json() for r in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    missing = set(EXPECTED_KEYS) - {r.key for r in rows}
    failed = [r.key for r in rows if r.status == "failed" and r.kind != "script"]
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
