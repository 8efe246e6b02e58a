"""The analysis engine (``blindself.analysis``) on synthetic trials, and report.json's shape."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import Invoke, make_context

from blindself.analysis import contrasts
from blindself.analysis import engine as analysis
from blindself.analysis.dataset import DayRow, TrialData
from blindself.analysis.stats.assignments import assignment_set
from blindself.protocol.model import AnalysisPlan, Arm, Outcome
from blindself.randomness import GeneratorSource
from blindself.services.analyze import AnalyzeOptions, build_data
from blindself.trial.scheme import Scheme, draw_allocation

PLAN = AnalysisPlan(0.05, "two-sided", "holm", "pairwise", "mean-difference")
KINDS = {"none": "none", "placebo": "placebo"}


def trial(
    block: tuple[str, ...],
    n_blocks: int,
    *,
    period_days: int = 1,
    effects: dict[str, float] | None = None,
    rho: float = 0.0,
    baseline: int = 0,
    outcomes: int = 1,
    doses: dict[str, float] | None = None,
    guess: str = "truth",
    seed: int = 0,
    plan: AnalysisPlan = PLAN,
) -> TrialData:
    """A simulated trial: AR(1) noise over days, an additive effect per arm."""
    rng = np.random.default_rng(seed)
    arms = tuple(dict.fromkeys(block))
    scheme = Scheme("blocks", arms, block, n_blocks=n_blocks)
    observed = draw_allocation(scheme, GeneratorSource(rng))
    n_days = baseline + len(observed) * period_days
    noise = np.empty((n_days, outcomes))
    noise[0] = rng.normal(size=outcomes)
    for t in range(1, n_days):
        noise[t] = rho * noise[t - 1] + math.sqrt(1 - rho**2) * rng.normal(size=outcomes)
    rows = [
        DayRow(
            d,
            None,
            "baseline",
            None,
            None,
            None,
            None,
            None,
            {f"y{k}": float(5 + noise[d, k]) for k in range(outcomes)},
        )
        for d in range(baseline)
    ]
    for p, a in enumerate(observed):
        for j in range(period_days):
            d = baseline + p * period_days + j
            g = {"truth": a, "unsure": "unsure", "placebo": "placebo"}[guess]
            shift = (effects or {}).get(a, 0.0)
            rows.append(
                DayRow(
                    d,
                    None,
                    "dose",
                    p,
                    p // len(block),
                    a,
                    g if a != "none" else None,
                    70.0,
                    {f"y{k}": float(5 + shift + noise[d, k]) for k in range(outcomes)},
                )
            )
    arm_objs = tuple(
        Arm(a, KINDS.get(a, "active"), a, (doses or {}).get(a))  # type: ignore[arg-type]
        for a in arms
    )
    outs = tuple(
        Outcome(f"y{k}", f"y{k}", (0.0, 10.0), "higher", k == 0, 1.0) for k in range(outcomes)
    )
    return TrialData(tuple(rows), arm_objs, outs, plan, scheme, observed, "test", f"seed{seed}")


def strict_json(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(report, allow_nan=False))
    return out


# ------------------------------------------------------------------ report.json shape
def test_report_has_the_spec_9_skeleton() -> None:
    data = trial(
        ("active", "placebo"), 6, period_days=2, baseline=3, outcomes=2, effects={"active": 1.0}
    )
    r = strict_json(analysis.analyze(data))
    assert r["schema"] == "blindself-report/1"
    assert {"trial", "adherence", "outcomes", "blinding", "verdict"} <= set(r)
    assert {"scheduled", "checked_in", "missed", "codebreaks"} <= set(r["adherence"])
    o = r["outcomes"][0]
    assert {
        "name",
        "primary",
        "better",
        "n",
        "mean",
        "contrasts",
        "placebo_response",
        "expectancy",
        "carryover",
        "trend_per_week",
    } <= set(o)
    c = o["contrasts"][0]
    assert {
        "active",
        "placebo",
        "estimate",
        "ci95",
        "p_randomization",
        "randomization",
        "classical",
        "ar1",
        "bayes",
        "cliffs_delta",
        "p_adjusted",
    } <= set(c)
    assert {"exact", "assignments", "draws", "p_min"} <= set(c["randomization"])
    assert {"estimate", "se", "df", "p"} <= set(c["classical"])
    assert {"estimate", "se", "rho", "p"} <= set(c["ar1"])
    assert {"prior", "mean", "ci95", "p_benefit", "p_above_mcid", "reference"} <= set(c["bayes"])
    assert {"delta", "p_randomization", "levels"} <= set(c["cliffs_delta"])
    b = r["blinding"]
    assert {"table", "bang", "james", "p_randomization", "brier", "by_week"} <= set(b)
    assert set(b["table"]) == {"active", "placebo", "unsure"}
    assert {"bi", "se", "limit95"} <= set(b["bang"]["active"])
    assert {"bi", "se", "ci95"} <= set(b["james"])
    assert isinstance(r["verdict"]["text"], str) and r["verdict"]["text"]
    # 6 blocks of 2: 64 allocations, enumerated; the mean difference by hand
    assert c["randomization"] == {**c["randomization"], "exact": True, "assignments": 64}
    y = {a: [row.ratings["y0"] for row in data.rows if row.arm == a] for a in ("active", "placebo")}
    assert c["estimate"] == pytest.approx(np.mean(y["active"]) - np.mean(y["placebo"]))


def test_undefined_statistics_are_null_not_nan() -> None:
    # every guess unsure: Bang's index is 0/0 (NaN in blindself.analysis.stats.blinding)
    data = trial(("active", "placebo"), 4, guess="unsure")
    r = analysis.analyze(data)
    text = json.dumps(r, allow_nan=False)  # raises on NaN or infinity
    assert "NaN" not in text
    assert r["blinding"]["bang"]["active"] == {"bi": None, "se": None, "limit95": None}
    # a constant outcome: no variation for the companions, notes instead of a crash
    rows = tuple(replace(row, ratings={"y0": 5.0}) for row in data.rows)
    r2 = analysis.analyze(replace(data, rows=rows))
    json.dumps(r2, allow_nan=False)
    c = r2["outcomes"][0]["contrasts"][0]
    assert c["estimate"] == 0 and c["classical"] is None and c["notes"]


# ------------------------------------------------------------------ randomization test
def brute_force_p(data: TrialData, a: str, b: str, outcome: str = "y0") -> tuple[float, int]:
    """Two-sided p of mean(a) - mean(b) over every order of every block (itertools), the
    periods of the other arms held fixed: the conditional reference set."""
    block = data.scheme.block
    orders = sorted(set(itertools.permutations(block)))
    obs = list(data.observed)
    days = [(r.period, r.ratings[outcome]) for r in data.rows if r.period is not None]

    def stat(alloc: list[str]) -> float:
        ya = [v for p, v in days if alloc[p] == a]
        yb = [v for p, v in days if alloc[p] == b]
        return sum(ya) / len(ya) - sum(yb) / len(yb)

    stats = []
    for combo in itertools.product(orders, repeat=data.scheme.n_blocks):
        alloc = [x for o in combo for x in o]
        if all(alloc[i] == obs[i] for i in range(len(obs)) if obs[i] not in (a, b)):
            stats.append(stat(alloc))
    t = stat(obs)
    greater = sum(s >= t - 1e-9 for s in stats) / len(stats)
    less = sum(s <= t + 1e-9 for s in stats) / len(stats)
    return min(1.0, 2 * min(greater, less)), len(stats)


def test_three_arm_contrasts_use_the_conditional_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # none is far below placebo: an unconditional reference set would mix that into the
    # active-placebo test
    data = trial(("none", "placebo", "active"), 4, effects={"none": -3.0, "active": 0.5}, seed=3)
    r = analysis.analyze(data)
    o = r["outcomes"][0]
    c = o["contrasts"][0]
    p, n = brute_force_p(data, "active", "placebo")
    assert n == 2**4 == c["randomization"]["assignments"]
    assert c["p_randomization"] == pytest.approx(p)
    pr = o["placebo_response"]
    p_pr, n_pr = brute_force_p(data, "placebo", "none")
    assert pr["randomized"] is True and pr["randomization"]["assignments"] == n_pr
    assert pr["p_randomization"] == pytest.approx(p_pr)
    assert pr["trend_adjusted"] is not None
    # the blinding test leaves the open none periods where they were
    assert r["blinding"]["randomization"]["assignments"] == 2**4
    assert set(r["blinding"]["arms"]) == {"placebo", "active"}
    # with Monte Carlo sets the same conditional test (12 blocks, 2^12 conditional orders)
    monkeypatch.setattr(contrasts, "MAX_EXACT", 100)
    monkeypatch.setattr(contrasts, "MC_DRAWS", 1999)
    big = trial(("none", "placebo", "active"), 12, effects={"none": -3.0}, seed=4)
    c = analysis.analyze(big)["outcomes"][0]["contrasts"][0]
    assert c["randomization"]["exact"] is False and c["randomization"]["draws"] == 1999
    assert c["randomization"]["assignments"] == 2**12


def test_monte_carlo_is_reproducible_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contrasts, "MAX_EXACT", 100)
    built = []

    def capture(*args: Any, **kwargs: Any) -> Any:
        built.append(assignment_set(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(contrasts, "assignment_set", capture)
    data = trial(("active", "placebo"), 10, effects={"active": 0.3}, seed=8)
    a = analysis.analyze(data)["outcomes"][0]["contrasts"][0]
    b = analysis.analyze(data)["outcomes"][0]["contrasts"][0]
    assert a["p_randomization"] == b["p_randomization"]
    assert a["randomization"]["draws"] == contrasts.MC_DRAWS >= 9999
    # 9999 draws from 2^10 allocations repeat the observed one: each repeat ties with it, so
    # the smallest p this set can give is 2 x (its copies) / 10000, not 2 / 10000.
    rows = np.asarray(built[0].matrix)
    copies = int((rows == rows[0]).all(axis=1).sum())
    assert copies > 1
    assert a["randomization"]["p_min"] == pytest.approx(2 * copies / (contrasts.MC_DRAWS + 1))
    # exact reference for comparison: 2^10 allocations; MC SE of p <= 0.005
    p, _ = brute_force_p(data, "active", "placebo")
    assert a["p_randomization"] == pytest.approx(p, abs=0.02)


def test_one_sided_and_smallest_p_caveat() -> None:
    # 2 blocks: 4 allocations, one-sided p >= 1/4; "greater" = better in the outcome's
    # direction
    plan = PLAN._replace(alternative="greater")
    data = trial(("active", "placebo"), 2, effects={"active": 5.0}, plan=plan)
    r = analysis.analyze(data)
    c = r["outcomes"][0]["contrasts"][0]
    assert c["alternative"] == "greater"
    assert c["p_randomization"] == 0.25 and c["randomization"]["p_min"] == 0.25
    assert c["randomization"]["reaches_alpha"] is False
    assert any("cannot reach p <= 0.05" in x for x in r["verdict"]["caveats"])
    lower = replace(data, outcomes=(data.outcomes[0]._replace(better="lower"),))
    c2 = analysis.analyze(lower)["outcomes"][0]["contrasts"][0]
    assert c2["alternative"] == "less" and c2["p_randomization"] == 1.0


def test_trend_adjusted_statistic() -> None:
    plan = PLAN._replace(statistic="trend-adjusted")
    data = trial(("active", "placebo"), 5, period_days=3, effects={"active": 1.0}, plan=plan)
    c = analysis.analyze(data)["outcomes"][0]["contrasts"][0]
    rows = [r for r in data.rows if r.arm]
    # reference: the OLS coefficient of y ~ 1 + active + day by the normal equations
    x = np.array([[1.0, r.arm == "active", r.day] for r in rows])
    y = np.array([r.ratings["y0"] for r in rows])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    assert c["estimate"] == pytest.approx(beta[1], rel=1e-10)
    assert c["randomization"]["statistic"] == "trend-adjusted"


# ------------------------------------------------------------------ companions
def test_listwise_drops_days_missing_any_outcome() -> None:
    data = trial(("active", "placebo"), 4, period_days=2, outcomes=2)
    # day 0 lacks y1: under listwise its y0 goes too
    rows = list(data.rows)
    rows[0] = replace(rows[0], ratings={"y0": rows[0].ratings["y0"], "y1": None})
    data = replace(data, rows=tuple(rows))
    pair = analysis.analyze(data)["outcomes"][0]
    lw = analysis.analyze(replace(data, plan=PLAN._replace(missing="listwise")))["outcomes"][0]
    assert sum(pair["n"].values()) == 16 and sum(lw["n"].values()) == 15
    assert lw["contrasts"][0]["classical"]["df"] == 13


def test_holm_across_active_arms_and_bh_over_secondaries() -> None:
    plan = PLAN._replace(correction="bh")
    data = trial(
        ("placebo", "low", "high"),
        5,
        effects={"low": 0.5, "high": 2.0},
        outcomes=3,
        doses={"low": 5.0, "high": 10.0},
        plan=plan,
        seed=2,
    )
    r = analysis.analyze(data)
    prim = r["outcomes"][0]["contrasts"]
    assert [c["active"] for c in prim] == ["low", "high"]
    # R: p.adjust(c(p1, p2), "holm") for two p-values
    p1, p2 = (c["p_randomization"] for c in prim)
    lo, hi = sorted([p1, p2])
    holm = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
    assert [c["p_adjusted"] for c in prim] == [pytest.approx(holm[p1]), pytest.approx(holm[p2])]
    # R: p.adjust(c(q1, q2), "BH") over the two secondary outcomes, per contrast
    for i in range(2):
        q = [o["contrasts"][i]["p_randomization"] for o in r["outcomes"][1:]]
        bh = [min(1, min(2 * q[0], max(q))), min(1, min(2 * q[1], max(q)))]
        got = [o["contrasts"][i]["p_adjusted"] for o in r["outcomes"][1:]]
        assert got == [pytest.approx(bh[0]), pytest.approx(bh[1])]


def test_smallest_p_after_holm_is_checked() -> None:
    # placebo/low/high in 6 blocks: each pairwise contrast has 2^6 conditional orders, two-sided
    # p >= 2/64 = 0.031 < 0.05, but Holm over the two active arms doubles it to 0.0625
    data = trial(("placebo", "low", "high"), 6, effects={"low": 9.0, "high": 9.0})
    r = analysis.analyze(data)
    prim = r["outcomes"][0]["contrasts"]
    assert [c["randomization"]["p_min"] for c in prim] == [2 / 64, 2 / 64]
    assert all(c["randomization"]["reaches_alpha"] for c in prim)
    assert any("smallest possible p is 0.0625" in x for x in r["verdict"]["caveats"])


def test_dose_trend_only_with_several_active_arms() -> None:
    data = trial(
        ("placebo", "low", "high"),
        4,
        effects={"low": 1.0, "high": 2.0},
        doses={"low": 0.05, "high": 0.1},
        seed=6,
    )
    o = analysis.analyze(data)["outcomes"][0]
    t = o["dose_trend"]
    assert t["scores"] == {"placebo": 0.0, "low": 0.05, "high": 0.1}
    assert t["score_source"] == "dose"
    # reference: least-squares slope of the three arm means on the doses (numpy.polyfit)
    means = [o["mean"][a] for a in ("placebo", "low", "high")]
    assert t["estimate"] == pytest.approx(np.polyfit([0, 0.05, 0.1], means, 1)[0])
    assert t["randomization"]["exact"] and t["randomization"]["assignments"] == 6**4
    no_doses = replace(data, arms=tuple(a._replace(dose=None) for a in data.arms))
    t2 = analysis.analyze(no_doses)["outcomes"][0]["dose_trend"]
    assert t2["score_source"] == "equally spaced" and t2["p_randomization"] == t["p_randomization"]
    two = trial(("active", "placebo"), 4)
    assert analysis.analyze(two)["outcomes"][0]["dose_trend"] is None


def test_baseline_placebo_response_is_labelled_non_randomized() -> None:
    data = trial(("active", "placebo"), 4, period_days=2, baseline=6, effects={"placebo": 1.0})
    r = analysis.analyze(data)
    pr = r["outcomes"][0]["placebo_response"]
    assert pr["randomized"] is False and "not randomized" in pr["source"]
    base = [row.ratings["y0"] for row in data.rows if row.day_type == "baseline"]
    plc = [row.ratings["y0"] for row in data.rows if row.arm == "placebo"]
    assert pr["estimate"] == pytest.approx(np.mean(plc) - np.mean(base))
    assert pr["trend_adjusted"] is not None
    assert any("run-in" in x for x in r["verdict"]["caveats"])


def test_expectancy_is_exploratory_with_the_mediator_caveat() -> None:
    data = trial(("active", "placebo"), 8, period_days=2, seed=9)
    rng = np.random.default_rng(1)
    rows = tuple(
        replace(r, guess=str(rng.choice(["active", "placebo", "unsure"]))) for r in data.rows
    )
    e = analysis.analyze(replace(data, rows=rows))["outcomes"][0]["expectancy"]
    assert e["label"] == "exploratory" and "mediator" in e["caveat"]
    assert e["model"]["formula"] == "y ~ arm + belief + day"
    n_sure = sum(1 for r in rows if r.guess != "unsure")
    cells = [e["table"][g][a]["n"] for g in ("active", "placebo") for a in ("active", "placebo")]
    assert sum(cells) == n_sure and e["n_unsure"] == len(rows) - n_sure


def test_verdict_keeps_the_three_questions_apart() -> None:
    data = trial(
        ("none", "placebo", "active"),
        6,
        period_days=2,
        seed=5,
        effects={"placebo": 1.0, "active": 3.0},
    )
    v = analysis.analyze(data)["verdict"]
    text = v["text"]
    assert "Drug vs placebo (randomized, blinded)" in text
    assert "Placebo vs nothing (randomized)" in text
    assert "blind" in text
    assert v["findings"] == ["benefit"]


# ------------------------------------------------------------------ CSV input
def csv_bytes(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in rows) + "\n").encode()


def test_csv_without_blocks_says_complete_randomization() -> None:
    rows = [["arm", "mood"]] + [[a, str(v)] for a, v in zip("ABABBANA", "45362735", strict=True)]
    opts = AnalyzeOptions(arm_column="arm", active=("A",), placebo="B")
    data, notes = build_data(csv_bytes(rows), "x.csv", opts)
    assert data.scheme.kind == "complete"
    assert "complete randomization of days" in data.scheme_note
    assert notes == ["1 row whose arm is not a declared arm value was skipped"]  # issue 16
    # the skipped day keeps its place in the day numbering (AR(1) distances, trend)
    assert [r.day for r in data.rows] == [0, 1, 2, 3, 4, 5, 7]
    report = analysis.analyze(data)
    assert data.scheme_note in report["verdict"]["caveats"]
    assert report["trial"]["scheme_note"] == data.scheme_note


def test_csv_with_blocks_uses_them() -> None:
    rows = [["date", "block", "arm", "mood"]] + [
        [f"2024-01-{d + 1:02d}", str(d // 2 + 1), a, str(5 + (a == "A"))]
        for d, a in enumerate("ABBAABBA")
    ]
    opts = AnalyzeOptions(arm_column="arm", active=("A",), placebo="B")
    data, _ = build_data(csv_bytes(rows), "x.csv", opts)
    assert data.scheme.kind == "blocks" and data.scheme.n_blocks == 4
    r = analysis.analyze(data)
    c = r["outcomes"][0]["contrasts"][0]
    # 4 blocks of 2: 16 allocations; every block favours A by 1, only 2 of 16 as extreme
    assert c["randomization"]["assignments"] == 16
    assert c["p_randomization"] == pytest.approx(2 / 16)
    assert not any("complete randomization" in x for x in r["verdict"]["caveats"])


def test_csv_date_column_found_case_insensitively() -> None:
    rows = [
        ["Date", "arm", "mood"],
        ["2024-01-01", "A", "5"],
        ["2024-01-04", "B", "4"],
        ["2024-01-05", "A", "6"],
        ["2024-01-09", "B", "3"],
    ]
    opts = AnalyzeOptions(arm_column="arm", active=("A",), placebo="B")
    data, _ = build_data(csv_bytes(rows), "x.csv", opts)
    assert [r.day for r in data.rows] == [0, 3, 4, 8]
    rows[2][0] = "5 Jan"  # not ISO: the rows are numbered instead, with a note
    data, notes = build_data(csv_bytes(rows), "x.csv", opts)
    assert [r.day for r in data.rows] == [0, 1, 2, 3]
    assert any("YYYY-MM-DD" in n for n in notes)


# ------------------------------------------------------------------ round trip
@pytest.mark.slow
def test_report_json_round_trips(invoke: Invoke, tmp_path: Path) -> None:
    d = tmp_path / "demo"
    demo = invoke(["demo", str(d)], make_context())
    assert demo.exit_code == 0
    # Issue 16: the simulated effect beside what the trial found.
    assert "Known effect of this simulated person: +1 point on mood on active dose days; the" in (
        demo.stdout
    )
    stored = (d / "report" / "report.json").read_text()
    r = invoke(["report", "--trial", str(d), "--format", "json"])
    assert r.exit_code == 0, r.output
    # The one difference: `report` says it has just checked the allocation (never stored).
    assert json.loads(r.stdout) == json.loads(stored) | {
        "trial": json.loads(stored)["trial"] | {"commitment_verified": True}
    }
    assert "commitment_verified" not in stored
    assert "NaN" not in stored


# ------------------------------------------------------------------ simulation checks
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "monte-carlo"])
def test_null_size_and_interval_coverage(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Week-long periods, AR(1) errors with rho 0.5: the randomization test rejects a true
    null at most alpha (+ 3 binomial SE) of the time, and the 95 % interval covers the
    simulated effect about 95 % of the time (Edgington and Onghena 2007, ch. 11)."""
    if mode == "monte-carlo":
        monkeypatch.setattr(contrasts, "MAX_EXACT", 64)
        monkeypatch.setattr(contrasts, "MC_DRAWS", 399)
    sims, effect = 200, 0.7
    rejected = covered = 0
    for s in range(sims):
        data = trial(
            ("active", "placebo"),
            8,
            period_days=7,
            rho=0.5,
            seed=1000 + s,
            effects={"active": effect},
            guess="placebo",
        )
        c = analysis.analyze(data)["outcomes"][0]["contrasts"][0]
        lo, hi = c["ci95"]
        covered += lo <= effect <= hi
        null = replace(
            data,
            rows=tuple(
                replace(r, ratings={"y0": r.ratings["y0"] - (effect if r.arm == "active" else 0)})
                for r in data.rows
            ),
        )
        rejected += analysis.analyze(null)["outcomes"][0]["contrasts"][0]["p_randomization"] <= 0.05
    se = math.sqrt(0.05 * 0.95 / sims)
    assert rejected / sims <= 0.05 + 3 * se
    assert abs(covered / sims - 0.95) <= 3 * se


def test_dose_trend_as_the_pre_registered_primary_test(invoke: Invoke, tmp_path: Path) -> None:
    """A protocol may pre-register the ordered trend as its primary test.

    docs/design.md#companion-estimates
    """
    plan = PLAN._replace(primary_test="dose-trend")
    data = trial(
        ("placebo", "low", "high"),
        5,
        effects={"low": 1.5, "high": 3.0},
        doses={"low": 0.05, "high": 0.1},
        seed=3,
        plan=plan,
    )
    report = analysis.analyze(data)
    o = report["outcomes"][0]
    assert report["trial"]["plan"]["primary_test"] == "dose-trend"
    assert o["dose_trend"]["role"].startswith("primary")
    first = report["verdict"]["sentences"][0]
    assert first.startswith("Dose trend (pre-registered primary test, randomized, blinded): y0")
    # The verdict's finding follows the trend test alone (6^5 exact allocations here).
    p = o["dose_trend"]["p_randomization"]
    assert report["verdict"]["findings"] == (["benefit"] if p <= 0.05 else ["no clear effect"])
    # plan: the trend is one test over placebo+doses re-shuffled within 5 blocks (3! = 6 per
    # block), so its smallest two-sided p is 2/6^5; no Holm factor.
    target = tmp_path / "dr.toml"
    assert invoke(["new", "dose-response", str(target)]).exit_code == 0
    target.write_text(
        target.read_text()
        .replace(
            'alternative = "two-sided"', 'alternative = "two-sided"\nprimary_test = "dose-trend"'
        )
        .replace("blocks = 12", "blocks = 5")
    )
    r = invoke(["plan", str(target)])
    assert r.exit_code == 0 and f"Smallest attainable p: {2 / 6**5:.3g} two-sided" in r.stdout
    assert "Warning" not in r.stdout
    two_arm = tmp_path / "two.toml"
    assert invoke(["new", "caffeine-day-pairs", str(two_arm)]).exit_code == 0
    two_arm.write_text(
        two_arm.read_text().replace(
            'alternative = "greater"', 'alternative = "greater"\nprimary_test = "dose-trend"'
        )
    )
    r = invoke(["plan", str(two_arm)])
    assert r.exit_code == 1
    assert r.stderr == (
        'Error: two.toml: analysis.primary_test is "dose-trend", which needs at least two active '
        'arms in the design; use "contrasts"\n'
    )
