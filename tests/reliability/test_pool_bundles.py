"""Crafted pool bundles: arms that are not the committed allocation, values off the scale
(T-46).  The attack is an edit of the bundle's JSON after ``share``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, Invoke, at, day, init_trial_cli, make_context
from helpers import with_clock as clock

from blindself.errors import DataError
from blindself.services.pooling import PoolOptions, pool_inputs
from blindself.services.sharing import share_trial

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}


def _bundle(
    tmp_path: Path,
    invoke: Invoke,
    blinding: str,
    seed: int,
    taken: Callable[[list[str]], list[str | None]] | None = None,
) -> dict[str, Any]:
    """An unblinded trial with a +3 mood effect (on the days the container *taken* is active),
    shared; returns the bundle.  ``taken`` turns the intended codes (one a period) into the
    codes really typed (None: a --no-capsule day)."""
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
    typed = taken(codes) if taken else list(codes)
    for n in range(10):
        args = ["checkin", "--trial", str(t), "--date", day(n).isoformat()]
        mood = 4 + n % 2
        if n >= 2 and typed[n - 2] is None:
            args += ["--no-capsule", "--guess", "unsure"]
        elif n >= 2:
            code = str(typed[n - 2])
            mood += 3 if sheet["codes"][code] == "active" else 0
            args += ["--code", code, "--guess", "unsure"]
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


# ------------------------------------------------------------------ F24: accepted mistakes
def _pairs_swapped(codes: list[str]) -> list[str | None]:
    """Each block's two containers taken in the other order (analysed as taken)."""
    return [codes[i ^ 1] for i in range(len(codes))]


def _blocks_swapped(codes: list[str]) -> list[str | None]:
    """Block 2's containers in block 1's days and vice versa, and 4 <-> 3."""
    return [codes[(i + 2) % 4 + 4 * (i // 4)] for i in range(len(codes))]


def _one_no_capsule(codes: list[str]) -> list[str | None]:
    return [None if i == 0 else c for i, c in enumerate(codes)]


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Bundles shared by honest people who made the container mix-ups checkin accepts."""
    from click.testing import CliRunner

    from blindself.cli.main import cli

    tmp_path = tmp_path_factory.mktemp("pool-mistakes")
    unset = {"BLINDSELF_TRIAL": None, "BLINDSELF_PASSPHRASE": None, "BLINDSELF_TEST_KDF": None}

    def invoke(args: list[str], ctx: Any = None, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(
            cli, args, obj=ctx or make_context(), env={**unset, **(env or {})}
        )

    cases = {
        "helper-pairs": ("helper", 1, _pairs_swapped),
        "helper-blocks": ("helper", 1, _blocks_swapped),
        "self-pairs": ("self", 3, _pairs_swapped),
        "self-bags": ("self", 3, _blocks_swapped),
        "self-no-capsule": ("self", 4, _one_no_capsule),
        "helper-no-capsule": ("helper", 4, _one_no_capsule),
        "genuine": ("helper", 2, None),
    }
    out = {}
    for name, (blinding, seed, taken) in cases.items():
        sub = tmp_path / name
        sub.mkdir()
        out[name] = _bundle(sub, invoke, blinding, seed, taken)
        out[name]["sheet"] = json.loads((sub / f"trial{seed}-sheet.json").read_text())["codes"]
    return out


@pytest.mark.parametrize(
    "case",
    ["helper-pairs", "helper-blocks", "self-pairs", "self-bags", "self-no-capsule",
     "helper-no-capsule"],
)  # fmt: skip
def test_an_accepted_mistake_pools_with_the_arms_taken(
    mistakes: dict[str, dict[str, Any]], tmp_path: Path, case: str
) -> None:
    """F24: share wrote each period's scheduled code with the analysis arm and dropped the
    exclusion reason, so pool called honest bundles edited, or pooled the scheduled arms."""
    b = json.loads(json.dumps(mistakes[case]))
    sheet = {k.replace("-", ""): v for k, v in b.pop("sheet").items()}
    # every row names the container taken and that container's committed (sheet) arm
    for row in b["rows"]:
        if row["code"] is not None:
            assert row["arm"] == sheet[row["code"]], row
        assert isinstance(row["excluded"], str)
    paths = _write(tmp_path, [b, {k: v for k, v in mistakes["genuine"].items() if k != "sheet"}])
    report = pool_inputs(paths, PoolOptions()).report
    mood = report["measures"][0]
    assert mood["measure"] == "mood"
    # the rows analysed are exactly those the person's own analysis counts
    analysed = [r for r in b["rows"] if r["excluded"] == "" and r["arm"] is not None
                and r["ratings"].get("mood") is not None]  # fmt: skip
    genuine = [r for r in mistakes["genuine"]["rows"] if r["arm"] is not None]
    assert mood["n_observations"] == len(analysed) + len(genuine)
    # the simulated drug adds exactly 3 to the days whose container taken was active, so a
    # flipped arm (the -4.00 of the report) cannot come out near +3
    assert 2 < mood["drug_effect"]["estimate"] < 4


def test_a_repeated_row_is_refused(bundles: list[dict[str, Any]], tmp_path: Path) -> None:
    """F11: a copy of the dose rows appended passed every arm check (each copy carries a valid
    code) and doubled one person's weight (24 observations instead of 16)."""
    forged = json.loads(json.dumps(bundles[0]))
    n = len(forged["rows"])
    forged["rows"] += [dict(r) for r in forged["rows"] if r["arm"] is not None]
    with pytest.raises(DataError, match=rf"b0\.json: row {n + 1} \(day 2\) repeats a day"):
        pool_inputs(_write(tmp_path, [forged, bundles[1]]), PoolOptions())


@pytest.mark.parametrize("bad_day", [-1, 10, 10**9, "2", True, None])
def test_a_day_outside_the_calendar_is_refused(
    bundles: list[dict[str, Any]], tmp_path: Path, bad_day: Any
) -> None:
    forged = json.loads(json.dumps(bundles[0]))
    forged["rows"][0]["day"] = bad_day
    with pytest.raises(DataError, match=r"b0\.json: row 1 .* is not a day of its 10-day trial"):
        pool_inputs(_write(tmp_path, [forged, bundles[1]]), PoolOptions())
