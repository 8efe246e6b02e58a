"""`analyze report/data.csv` reproduces unblind's Monte Carlo randomization p exactly.

SPEC section 14: data.csv carries what `analyze` needs to reproduce `unblind`.  A design with
more than 2^20 allocations is tested with 9,999 Monte Carlo draws; before the `seed` column
`analyze` seeded them from the CSV bytes, so it printed e.g. p = 0.636 where unblind said
0.663 (docs/design.md#exported-data).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, at, day, init_trial_cli, make_context
from helpers import with_clock as clocked

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
# 21 blocks of a pair: 2^21 allocations, over the 2^20 that are enumerated exactly.
BLOCKS = 21
DAYS = 14  # check-ins before an early unblinding (2 baseline days, then 12 periods)


@pytest.fixture
def unblinded(tmp_path: Path, invoke: Invoke) -> Path:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper").replace("blocks = 4", f"blocks = {BLOCKS}")
    )
    t = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol, t, make_context()).exit_code == 0
    sheet: dict[str, Any] = json.loads((tmp_path / "trial-sheet.json").read_text())
    code = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(DAYS):
        arm = sheet["codes"][code[n - 1]] if n >= 2 else None
        mood = 5 + (2 if arm == "active" else 0) + n % 3
        args = ["--rate", f"mood={mood}", "--rate", f"anxiety={2 + n % 4}"]
        if n >= 2:
            guess = arm if n % 3 else "placebo"  # mostly right: a blinding index to test
            args += ["--code", code[n - 1], "--guess", str(guess), "--confidence", "60"]
        ctx = clocked(make_context(), at(day(n)))
        r = invoke(["checkin", "--trial", str(t), "--date", day(n).isoformat(), *args], ctx)
        assert r.exit_code == 0, r.output
    after = clocked(make_context(), at(day(DAYS)))
    r = invoke(["unblind", "--trial", str(t), "--early", "--reason", "test"], after, env=ENV)
    assert r.exit_code == 0, r.output
    return t


def analyze(invoke: Invoke, path: Path, *extra: str) -> dict[str, Any]:
    args = ["analyze", str(path), "--arm-column", "allocation_arm", "--active", "active"]
    r = invoke([*args, "--placebo", "placebo", "--json", *extra])
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def contrasts(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [o["contrasts"][0] for o in report["outcomes"]]


def without_seed(src: Path, dst: Path) -> Path:
    rows = list(csv.DictReader(io.StringIO(src.read_text())))
    names = [c for c in rows[0] if c != "seed"]
    with dst.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return dst


def test_analyze_reproduces_a_monte_carlo_p_exactly(unblinded: Path, invoke: Invoke) -> None:
    report = json.loads((unblinded / "report" / "report.json").read_text())
    data_csv = unblinded / "report" / "data.csv"
    rows = list(csv.DictReader(io.StringIO(data_csv.read_text())))
    # Every row carries unblind's seed material: the trial id and the commitment, both public
    # after unblinding, and its SHA-256 is the one report.json records.
    seeds = {r["seed"] for r in rows}
    assert seeds == {f"{report['trial']['trial_id']}:{report['trial']['commitment']}"}
    sha = hashlib.sha256(seeds.pop().encode()).hexdigest()
    assert report["trial"]["seed_material_sha256"] == sha

    again = analyze(invoke, data_csv, "--protocol", str(unblinded.parent / "protocol.toml"))
    assert again["trial"]["seed_from"] == "seed column"
    assert again["trial"]["seed_material_sha256"] == sha
    for a, b in zip(contrasts(report), contrasts(again), strict=True):
        assert a["randomization"]["draws"] == b["randomization"]["draws"] == 9999
        assert not a["randomization"]["exact"]
        assert b["estimate"] == pytest.approx(a["estimate"])
        # the same draws: equal to the last bit, not within Monte Carlo error
        for key in ("p_randomization", "p_greater", "p_less", "ci95"):
            assert b[key] == a[key], key
    # The blinding test's draws are seeded from the same material.
    assert again["blinding"]["p_randomization"] == report["blinding"]["p_randomization"]


def test_the_seed_does_not_depend_on_the_options(unblinded: Path, invoke: Invoke) -> None:
    """As unblind's own seed: an option that leaves the scheme alone leaves the draws alone."""
    data_csv = unblinded / "report" / "data.csv"
    a = analyze(invoke, data_csv, "--outcomes", "mood,anxiety")
    b = analyze(invoke, data_csv, "--outcomes", "mood", "--missing", "listwise")
    assert a["trial"]["seed_material_sha256"] == b["trial"]["seed_material_sha256"]
    assert contrasts(a)[0]["p_randomization"] == contrasts(b)[0]["p_randomization"]


def test_a_csv_without_the_seed_column_is_seeded_from_the_file(
    unblinded: Path, invoke: Invoke, tmp_path: Path
) -> None:
    report = json.loads((unblinded / "report" / "report.json").read_text())
    plain = without_seed(unblinded / "report" / "data.csv", tmp_path / "plain.csv")
    again = analyze(invoke, plain, "--protocol", str(unblinded.parent / "protocol.toml"))
    assert again["trial"]["seed_from"] == "file and options"
    assert again["trial"]["seed_material_sha256"] != report["trial"]["seed_material_sha256"]
    # Other draws of the same reference set: the two Monte Carlo p agree within 4.5 standard
    # errors of the difference of two independent estimates (two-sided p = 2 * min one-sided).
    for a, b in zip(contrasts(report), contrasts(again), strict=True):
        assert b["estimate"] == pytest.approx(a["estimate"])
        q = min(a["p_greater"], a["p_less"])
        se = 2 * (q * (1 - q) / 9999) ** 0.5
        assert abs(b["p_randomization"] - a["p_randomization"]) <= 4.5 * 2**0.5 * se + 2e-4


def test_seeds_of_two_trials_fall_back_with_a_note(
    unblinded: Path, invoke: Invoke, tmp_path: Path
) -> None:
    rows = list(csv.DictReader(io.StringIO((unblinded / "report" / "data.csv").read_text())))
    for r in rows[len(rows) // 2 :]:
        r["seed"] += "0"  # as if pasted from another trial's export (another commitment)
    path = tmp_path / "mixed.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    args = ["analyze", str(path), "--arm-column", "allocation_arm", "--active", "active"]
    r = invoke([*args, "--placebo", "placebo", "--json"])
    assert r.exit_code == 0, r.output
    assert "the seed column holds 2 different values" in r.stderr
    assert json.loads(r.stdout)["trial"]["seed_from"] == "file and options"


def test_no_seed_before_unblinding(tmp_path: Path, invoke: Invoke) -> None:
    """The seed is written only with the arms: an export of a blinded trial has no column."""
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    t = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol, t, make_context()).exit_code == 0
    r = invoke(
        [
            "checkin",
            "--trial",
            str(t),
            "--date",
            day(0).isoformat(),
            "--rate",
            "mood=5",
            "--rate",
            "anxiety=2",
        ]
    )
    assert r.exit_code == 0, r.output
    for fmt in ("csv", "json"):
        out = invoke(["export", "--trial", str(t), "--format", fmt])
        assert out.exit_code == 0, out.output
        assert "seed" not in out.stdout
