"""Crafted pool bundles: arms that are not the committed allocation, values off the scale
(T-46).  The attack is an edit of the bundle's JSON after ``share``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, at, day, init_trial_cli, make_context
from helpers import with_clock as clock

from blindself.errors import DataError
from blindself.services.pooling import PoolOptions, pool_inputs, share_trial

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}


def _bundle(tmp_path: Path, invoke: Invoke, blinding: str, seed: int) -> dict[str, Any]:
    """An unblinded trial with a +3 mood effect, shared; returns the bundle."""
    protocol = tmp_path / f"p{seed}.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    t = tmp_path / f"trial{seed}"
    ctx = make_context(alloc_seed=seed, other_seed=50 + seed)
    assert init_trial_cli(invoke, protocol, t, ctx).exit_code == 0
    sheet = json.loads((tmp_path / f"trial{seed}-sheet.json").read_text())
    if blinding == "self":  # envelopes opened in code order within each bag
        bags: dict[int, list[str]] = {}
        for c in sorted(sheet["containers"], key=lambda c: c["code"]):
            bags.setdefault(c["block"], []).append(c["code"])
        codes = [code for b in sorted(bags) for code in bags[b]]
    else:
        by_period = {c["period"]: c["code"] for c in sheet["containers"]}
        codes = [by_period[p] for p in range(1, 9)]
    for n in range(10):
        args = ["checkin", "--trial", str(t), "--date", day(n).isoformat()]
        mood = 4 + n % 2
        if n >= 2:
            mood += 3 if sheet["codes"][codes[n - 2]] == "active" else 0
            args += ["--code", codes[n - 2], "--guess", "unsure"]
        args += ["--rate", f"mood={mood}", "--rate", f"anxiety={2 + n % 3}"]
        assert invoke(args, clock(ctx, at(day(n)))).exit_code == 0
    r = invoke(["unblind", "--trial", str(t)], clock(ctx, at(day(11))), env=ENV)
    assert r.exit_code == 0, r.output
    return share_trial(t)


@pytest.fixture(scope="module", params=["helper", "self"])
def bundles(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    from click.testing import CliRunner

    from blindself.cli.main import cli

    tmp_path = tmp_path_factory.mktemp(f"pool-{request.param}")
    unset = {"BLINDSELF_TRIAL": None, "BLINDSELF_PASSPHRASE": None, "BLINDSELF_TEST_KDF": None}

    def invoke(args: list[str], ctx: Any = None, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(
            cli, args, obj=ctx or make_context(), env={**unset, **(env or {})}
        )

    return [_bundle(tmp_path, invoke, request.param, seed) for seed in (1, 2)]


def _write(tmp_path: Path, bundles: list[dict[str, Any]]) -> list[Path]:
    out = []
    for i, b in enumerate(bundles):
        path = tmp_path / f"b{i}.json"
        path.write_text(json.dumps(b))
        out.append(path)
    return out


def test_genuine_bundles_pool(bundles: list[dict[str, Any]], tmp_path: Path) -> None:
    report = pool_inputs(_write(tmp_path, bundles), PoolOptions()).report
    assert [m["measure"] for m in report["measures"]] == ["mood", "anxiety"]
    # the simulated drug adds exactly 3 on active days (the sign is what a swap flips)
    assert 2 < report["measures"][0]["drug_effect"]["estimate"] < 4


def test_every_row_arm_swapped_is_refused(bundles: list[dict[str, Any]], tmp_path: Path) -> None:
    """The reported attack: in self mode a full swap kept every bag's arms and passed."""
    forged = json.loads(json.dumps(bundles[0]))
    flip = {"active": "placebo", "placebo": "active"}
    for row in forged["rows"]:
        if row["arm"] is not None:
            row["arm"] = flip[row["arm"]]
    paths = _write(tmp_path, [forged, bundles[1]])
    with pytest.raises(DataError, match=r"b0\.json: row 3 \(day 2\): its arm does not match"):
        pool_inputs(paths, PoolOptions())


def test_a_row_without_its_code_is_refused(bundles: list[dict[str, Any]], tmp_path: Path) -> None:
    forged = json.loads(json.dumps(bundles[0]))
    forged["rows"][4]["code"] = None
    with pytest.raises(DataError, match=r"b0\.json: row 5 \(day 4\) has an arm but no container"):
        pool_inputs(_write(tmp_path, [forged, bundles[1]]), PoolOptions())


def test_a_code_moved_to_another_row_is_refused(
    bundles: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Swapping the codes too keeps each row's arm = its code's arm: the block gives it away
    (self mode), the period does (helper mode)."""
    forged = json.loads(json.dumps(bundles[0]))
    dose = [r for r in forged["rows"] if r["arm"] is not None]
    first = dose[0]
    other = next(r for r in dose if r["arm"] != first["arm"] and r["block"] != first["block"])
    for key in ("arm", "code"):
        first[key], other[key] = other[key], first[key]
    with pytest.raises(DataError, match="its arm does not match the committed allocation"):
        pool_inputs(_write(tmp_path, [forged, bundles[1]]), PoolOptions())


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1e308, "1e+308"), (float("nan"), "nan"), (float("inf"), "inf"), (11, "11"), (0, "0")],
)
def test_out_of_scale_values_are_refused(
    bundles: list[dict[str, Any]], tmp_path: Path, value: float, shown: str
) -> None:
    """1e308 used to be accepted and silently drop the measure from the model."""
    forged = json.loads(json.dumps(bundles[0]))
    forged["rows"][6]["ratings"]["anxiety"] = value
    paths = _write(tmp_path, [bundles[1], forged])
    with pytest.raises(
        DataError,
        match=rf"b1\.json: row 7 \(day 6\): anxiety = {re.escape(shown)} is outside its scale 1-10",
    ):
        pool_inputs(paths, PoolOptions())


def test_cli_names_the_bundle_and_row(
    bundles: list[dict[str, Any]], tmp_path: Path, invoke: Invoke
) -> None:
    forged = json.loads(json.dumps(bundles[0]))
    forged["rows"][2]["ratings"]["mood"] = 1e308
    paths = _write(tmp_path, [forged, bundles[1]])
    r = invoke(["pool", *map(str, paths)])
    assert r.exit_code == 1
    assert r.output == (
        "Error: b0.json: row 3 (day 2): mood = 1e+308 is outside its scale 1-10; the bundle "
        "was edited and cannot be pooled\n"
    )
