"""``blindself share`` and ``blindself pool`` (issue 7): bundles, long CSV, errors, HTML.

Statistics are checked against R in tests/stats/test_pooling.py; here the use cases and the
command line.  The CliRunner tests need the ``share`` and ``pool`` commands in cli.py
(snippet handed to the lead); until they are pasted those tests skip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    PASSPHRASE,
    SMALL_PROTOCOL,
    START,
    Invoke,
    at,
    day,
    init_trial_cli,
    make_context,
    with_clock,
)

from blindself.cli.main import cli
from blindself.errors import DataError, TrialStateError
from blindself.report.pool import render_pool_html, render_pool_text
from blindself.services.pooling import PoolOptions, pool_inputs
from blindself.services.sharing import share_trial

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
SZIGETI = Path(__file__).parent / "data" / "szigeti2021-acutes.csv"
NOTE = "met-my-neighbour-anna"


def _trial(tmp_path: Path, invoke: Invoke, protocol: Path, seed: int, *, unblind: bool) -> Path:
    """The small protocol (2 baseline days, 8 one-day periods) with a drug effect of +3 on mood
    and guesses that follow the arm on 3 of 4 days."""
    t = tmp_path / f"trial{seed}"
    ctx = make_context(alloc_seed=seed, other_seed=100 + seed)
    assert init_trial_cli(invoke, protocol, t, ctx).exit_code == 0
    sheet = json.loads((tmp_path / f"trial{seed}-sheet.json").read_text())
    code = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(10):
        args = ["checkin", "--trial", str(t), "--date", day(n).isoformat(), "--note", NOTE]
        mood = 5 + (n * seed) % 3
        if n >= 2:
            arm = sheet["codes"][code[n - 1]]
            mood += 3 if arm == "active" else 0
            other = "placebo" if arm == "active" else "active"
            guess = other if n % 4 == 0 else arm
            args += ["--code", code[n - 1], "--guess", guess, "--confidence", "70"]
        args += ["--rate", f"mood={mood}", "--rate", f"anxiety={2 + n % 3}"]
        r = invoke(args, with_clock(ctx, at(day(n))))
        assert r.exit_code == 0, r.output
    if unblind:
        r = invoke(["unblind", "--trial", str(t)], with_clock(ctx, at(day(11))), env=ENV)
        assert r.exit_code == 0, r.output
    return t


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two shared, unblinded trials (built once: each costs a dozen CLI calls)."""
    from click.testing import CliRunner

    tmp_path = tmp_path_factory.mktemp("bundles")
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    unset = {"BLINDSELF_TRIAL": None, "BLINDSELF_PASSPHRASE": None, "BLINDSELF_TEST_KDF": None}

    def invoke(args: list[str], ctx: Any = None, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(cli, args, obj=ctx or make_context(),
                                  env={**unset, **(env or {})}, catch_exceptions=False)  # fmt: skip

    return [_trial(tmp_path, invoke, protocol, seed, unblind=True) for seed in (1, 2)]


@pytest.fixture(scope="module")
def bundles(trials: list[Path]) -> list[Path]:
    out = []
    for t in trials:
        p = t.parent / f"{t.name}.json"
        p.write_text(json.dumps(share_trial(t)))
        out.append(p)
    return out


def test_share_refuses_before_unblinding(
    tmp_path: Path, invoke: Invoke, protocol_file: Path
) -> None:
    t = _trial(tmp_path, invoke, protocol_file, 1, unblind=False)
    with pytest.raises(TrialStateError, match="still blinded"):
        share_trial(t)


def test_bundle_is_anonymized_and_verifiable(bundles: list[Path]) -> None:
    text = bundles[0].read_text()
    b: dict[str, Any] = json.loads(text)
    assert b["schema"] == "blindself-share/2"
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "a calendar date leaked"
    assert NOTE not in text and START.isoformat() not in text
    assert {"date", "note"}.isdisjoint(k for r in b["rows"] for k in r)
    # T-46: rows name their container code so pool can check each arm; the codes are all in
    # the bundle's allocation already, so they add nothing that points to the person.
    codes = {c["code"] for c in b["allocation"]["containers"]}
    assert {r["code"] for r in b["rows"] if r["arm"] is not None} <= codes
    assert [r["day"] for r in b["rows"]] == list(range(10))
    dose = [r for r in b["rows"] if r["day_type"] == "dose"]
    assert [r["period"] for r in dose] == list(range(1, 9))  # counted from 1
    assert {r["arm"] for r in dose} == {"active", "placebo"}
    assert b["protocol"]["arms"][0] == {"name": "active", "kind": "active",
                                        "label": "active capsule", "dose": None, "unit": None}  # fmt: skip
    assert b["trial"]["question"] == "Does the active capsule lift my mood?"
    from blindself.trial.allocation import parse_allocation
    from blindself.trial.seal.crypto import commitment

    doc = parse_allocation(json.dumps(b["allocation"]).encode())
    assert commitment(doc.canonical()) == b["commitment"]


def test_pool_bundles(bundles: list[Path]) -> None:
    r = pool_inputs(bundles, PoolOptions()).report
    assert r["schema"] == "blindself-pool/1"
    assert r["inputs"]["n_participants"] == 2
    assert [m["measure"] for m in r["measures"]] == ["mood", "anxiety"]
    mood = r["measures"][0]
    # the simulated drug adds exactly 3 on active days; mood otherwise varies by day and seed
    assert 2 < mood["drug_effect"]["estimate"] < 4
    assert mood["n_observations"] == 16 and mood["n_participants"] == 2
    assert mood["meta_analysis"]["n_both_arms"] == 2
    assert mood["blinding"]["n_definite"] == 16
    assert len(mood["strata"]["cells"]) == 4
    html = render_pool_html(r)
    assert html.count("<svg") == 6  # forest, strata and guess rate curve per measure
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "mood" in render_pool_text(r)


def test_constant_measure_is_left_out_with_a_note(bundles: list[Path], tmp_path: Path) -> None:
    paths = []
    for p in bundles:
        b = json.loads(p.read_text())
        for r in b["rows"]:
            r["ratings"]["anxiety"] = 3
        paths.append(tmp_path / f"const-{p.name}")
        paths[-1].write_text(json.dumps(b))
    res = pool_inputs(paths, PoolOptions())
    assert [m["measure"] for m in res.report["measures"]] == ["mood"]
    assert any(
        n.startswith("measure 'anxiety' left out: the ratings do not vary") for n in res.notes
    )


def test_pool_refuses_edited_and_duplicate_bundles(bundles: list[Path], tmp_path: Path) -> None:
    b = json.loads(bundles[0].read_text())
    row = next(r for r in b["rows"] if r["day_type"] == "dose")
    row["arm"] = "placebo" if row["arm"] == "active" else "active"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(b))
    with pytest.raises(DataError, match=r"row 3 .* does not match the committed allocation"):
        pool_inputs([edited, bundles[1]], PoolOptions())
    with pytest.raises(DataError, match="same trial"):
        pool_inputs([bundles[0], bundles[1], bundles[0]], PoolOptions())
    with pytest.raises(DataError, match="not both"):
        pool_inputs([bundles[0], SZIGETI], PoolOptions())


def test_a_bundle_of_the_old_format_says_what_to_do(bundles: list[Path], tmp_path: Path) -> None:
    """A blindself-share/1 bundle (rows without the container taken or the exclusion, F24) was
    refused as "made by an older blindself" under the same format name: now the name says so."""
    b = json.loads(bundles[0].read_text())
    b["schema"] = "blindself-share/1"
    for r in b["rows"]:
        del r["excluded"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(b))
    with pytest.raises(DataError) as err:
        pool_inputs([old, bundles[1]], PoolOptions())
    assert str(err.value) == (
        "old.json is a blindself-share/1 bundle, made by an older blindself: its rows do not say "
        "which container each day took nor which days its analysis left out, so it cannot be "
        "pooled; its author can make a blindself-share/2 bundle by running blindself share again "
        "with this version (the unblinded trial folder is all it needs)"
    )
    b["schema"] = "blindself-share/9"
    old.write_text(json.dumps(b))
    with pytest.raises(DataError, match=r"old\.json is not a blindself-share/2 bundle"):
        pool_inputs([old, bundles[1]], PoolOptions())


CSV_OPTS = PoolOptions(
    participant_column="trial_id", arm_column="condition", active="MD", placebo="PL",
    outcome_column="value", measure_column="test_name", measures=("PANAS",),
    guess_column="guess", covariates=("expectation", "psychiatric_past"),
)  # fmt: skip


def test_pool_long_csv_reproduces_lme4() -> None:
    r = pool_inputs([SZIGETI], CSV_OPTS).report
    (panas,) = r["measures"]
    # tests/reference/pool_lmer.Rout, PANAS m1 and m2 (see tests/stats/test_pooling.py)
    assert panas["drug_effect"]["estimate"] == pytest.approx(2.21931943, rel=1e-5)
    assert panas["drug_effect"]["se"] == pytest.approx(0.7164363585, rel=1e-5)
    assert panas["drug_effect_guess_adjusted"]["estimate"] == pytest.approx(0.9388705223, rel=1e-5)
    assert panas["guess_effect"]["estimate"] == pytest.approx(5.466815326, rel=1e-5)
    assert set(panas["guess_effect"]) == {"estimate", "se", "p"}
    assert (panas["n_observations"], panas["n_participants"]) == (847, 239)
    json.dumps(r, allow_nan=False)  # strict JSON


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome_column": None}, "needs --outcome-column"),
        ({"arm_column": "arm"}, "--arm-column: szigeti2021-acutes.csv has no column 'arm'"),
        ({"guess_column": "sex"}, "guess 'male' is neither 'MD', 'PL' nor 'unsure'"),
        ({"measures": ("nothing",)}, "no measure could be pooled: check --measures"),
        ({"placebo": "MD"}, "--active and --placebo name the same value"),
        ({"covariates": ("drug", "dose", "drug")}, "--covariates names 'drug' twice"),
    ],
)
def test_pool_csv_errors(change: dict[str, Any], message: str) -> None:
    from dataclasses import replace

    with pytest.raises(DataError, match=re.escape(message)):
        pool_inputs([SZIGETI], replace(CSV_OPTS, **change))


# ----------------------------------------------------------------------------- CLI
def test_cli_share_then_pool(trials: list[Path], tmp_path: Path, invoke: Invoke) -> None:
    paths = []
    for seed, t in enumerate(trials):
        out = tmp_path / f"share{seed}.json"
        r = invoke(["share", "--trial", str(t), "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert json.loads(out.read_text())["schema"] == "blindself-share/2"
        paths.append(str(out))
    html = tmp_path / "pool.html"
    r = invoke(["pool", *paths, "--json", "-o", str(html)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["inputs"]["n_participants"] == 2
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_cli_share_before_unblinding_is_one_error_line(
    tmp_path: Path, invoke: Invoke, protocol_file: Path
) -> None:
    t = _trial(tmp_path, invoke, protocol_file, 1, unblind=False)
    r = invoke(["share", "--trial", str(t)])
    assert r.exit_code == 1
    assert (
        r.stderr == "Error: the trial is still blinded: run blindself unblind first, then share\n"
    )


def test_cli_pool_long_csv(invoke: Invoke, tmp_path: Path) -> None:
    args = ["pool", str(SZIGETI), "--participant-column", "trial_id", "--arm-column",
            "condition", "--active", "MD", "--placebo", "PL", "--outcome-column", "value",
            "--measure-column", "test_name", "--measures", "PANAS,mood",
            "--guess-column", "guess", "--covariates", "expectation,psychiatric_past"]  # fmt: skip
    r = invoke(args)
    assert r.exit_code == 0, r.output
    assert "PANAS: 847 observations, 239 participants" in r.stdout
    assert re.search(r"drug effect \(mixed model\)\s+\+2\.22", r.stdout)
    r = invoke([*args[:-2], "--covariates", "nope"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: --covariates: szigeti2021-acutes.csv has no column 'nope'")


# ------------------------------------------------------------ small pools (issue 16)
def test_a_pool_of_two_people_warns(bundles: list[Path], invoke: Invoke, tmp_path: Path) -> None:
    from blindself.analysis.stats.pooling import small_pool_warning

    result = pool_inputs(bundles, PoolOptions())
    expected = (
        "only 2 participants: with fewer than 5, the spread between people (the mixed model's "
        "random intercept, the meta-analysis's tau^2) rests on 1 degree of freedom, so the "
        "pooled intervals are too narrow, and resampling participants gives only 3 distinct "
        "samples; read the result as separate N-of-1 trials (each person's effect is listed), "
        "not as a group estimate"
    )
    assert result.warnings == (expected,) == (small_pool_warning(2),)
    assert result.report["warnings"] == [expected]
    assert render_pool_text(result.report).splitlines()[1] == f"Warning: {expected}"
    assert f"<b>Warning:</b> {expected.replace(chr(39), '&#39;')}" in render_pool_html(
        result.report
    )
    r = invoke(["pool", *map(str, bundles)])
    assert r.exit_code == 0 and r.stderr.startswith(f"Warning: {expected}\n")


def test_a_large_pool_has_no_small_sample_warning() -> None:
    result = pool_inputs([SZIGETI], CSV_OPTS)
    assert result.report["inputs"]["n_participants"] > 5
    assert result.warnings == () and result.report["warnings"] == []


@pytest.mark.slow
def test_pool_compares_questionnaires_by_period_as_unblind_does(tmp_path: Path) -> None:
    """adv3 F4: the demo template asks the BRS at each period's end (a day between doses) and
    the GAD-7 every other Sunday; pool kept dose days only and said 'resilience' had no
    observation.  Pooled, each person contributes the scores their own report compared."""
    from blindself.services.demo import run_demo

    paths, own = [], 0
    for seed in (1, 2):
        d = tmp_path / f"demo{seed}"
        run_demo(d, make_context(alloc_seed=seed, other_seed=10 + seed), seed=seed)
        report = json.loads((d / "report" / "report.json").read_text())
        brs = next(o for o in report["outcomes"] if o["name"] == "resilience")
        own += brs["n"]["active"] + brs["n"]["placebo"]
        p = tmp_path / f"demo{seed}.json"
        p.write_text(json.dumps(share_trial(d)))
        paths.append(p)
    r = pool_inputs(paths, PoolOptions(measures=("mood", "resilience", "gad7")))
    assert not any("resilience" in n for n in r.notes), r.notes
    pooled = {m["measure"]: m for m in r.report["measures"]}
    assert pooled["resilience"]["n_observations"] == own > 20
    assert "questionnaires on the day of their period they were asked" in " ".join(r.notes)
