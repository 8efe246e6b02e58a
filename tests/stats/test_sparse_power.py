"""Power for an outcome measured on its own schedule (issue 18; analysis.stats.sparse_power).

Checks: reproducible from a seed; with one score per period it is the power of the design's
per-period outcome (stats.power) with the per-score SD; two independent scores per period
have the power of one score of SD / sqrt(2) (the variance of a mean of two); and against an
external analytic number, the paired t-test's noncentral-t power (blocks of two with
independent noise: the randomization test of the within-block differences).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from blindself.analysis.stats.power import power_of_design
from blindself.analysis.stats.sparse_power import sparse_power, sparse_schedule
from blindself.protocol.loading import parse_protocol
from blindself.protocol.model import Protocol
from blindself.trial.schedule import Calendar, build_calendar

START = date(2000, 1, 3)  # a Monday


TEXT = """
[trial]
title = "t"
question = "q"
[[arms]]
name = "active"
kind = "active"
[[arms]]
name = "placebo"
kind = "placebo"
[design]
block = ["active", "placebo"]
blocks = {blocks}
period_days = {period_days}
[[outcomes]]
name = "mood"
question = "?"
scale = [1, 10]
better = "higher"
primary = true
[[outcomes]]
instrument = "gad7"
schedule = "{schedule}"
[checkin]
days = "{days}"
"""


def protocol(
    *, blocks: int, period_days: int, schedule: str, days: str = "all"
) -> tuple[Protocol, Calendar]:
    text = TEXT.format(blocks=blocks, period_days=period_days, schedule=schedule, days=days)
    p = parse_protocol(text.encode(), "t.toml")
    return p, build_calendar(p, START)


def gad7(p: Protocol) -> Any:
    return next(o for o in p.outcomes if o.name == "gad7")


def agree(a: Any, b: Any, extra: float = 0.0) -> None:
    """Two simulated powers agree within 4 combined Monte Carlo SEs (plus ``extra``)."""
    se = math.sqrt(a.mc_se**2 + b.mc_se**2)
    assert abs(a.power - b.power) <= 4 * se + extra, (a.power, b.power, se)


def test_the_schedule_counts_scores_per_period() -> None:
    p, cal = protocol(blocks=4, period_days=14, schedule="weekly:sun")
    s = sparse_schedule(p, cal, gad7(p))
    assert s.per_period().tolist() == [2] * 8  # two Sundays in every 14-day period
    p, cal = protocol(blocks=4, period_days=14, schedule="fortnightly:sun")
    assert sparse_schedule(p, cal, gad7(p)).per_period().tolist() == [1] * 8


def test_reproducible_from_a_seed() -> None:
    p, cal = protocol(blocks=6, period_days=7, schedule="weekly:sun")
    a = sparse_power(p, cal, gad7(p), effect=3, sd=4, sims=300, seed=5)
    b = sparse_power(p, cal, gad7(p), effect=3, sd=4, sims=300, seed=5)
    c = sparse_power(p, cal, gad7(p), effect=3, sd=4, sims=300, seed=6)
    assert a == b
    assert a.power != c.power or a.design == c.design  # another seed: another draw
    assert a.design["periods_measured"] == 12 and a.design["scores_per_period"] == [1]


@pytest.mark.slow
def test_one_score_per_period_is_the_per_period_outcomes_power() -> None:
    """Daily dosing, one-day periods, check-ins on dose days: asked 'every' check-in, the
    questionnaire has one score per period on the dose days, as the primary rating does."""
    p, cal = protocol(blocks=8, period_days=1, schedule="every", days="dose")
    assert sparse_schedule(p, cal, gad7(p)).per_period().tolist() == [1] * 16
    sparse = sparse_power(p, cal, gad7(p), effect=1, sd=1, rho=0.3, sims=2000, seed=1)
    daily = power_of_design(p, cal, effect=1, sd=1, rho=0.3, sims=2000, seed=2, suggest=False)
    agree(sparse, daily)
    assert 0.3 < sparse.power < 0.9  # a case where the comparison can fail


@pytest.mark.slow
def test_two_scores_per_period_are_one_score_of_sd_over_root_two() -> None:
    weekly, cal_w = protocol(blocks=6, period_days=14, schedule="weekly:sun")
    fortnightly, cal_f = protocol(blocks=6, period_days=14, schedule="fortnightly:sun")
    two = sparse_power(weekly, cal_w, gad7(weekly), effect=2, sd=4, rho=0, sims=2000, seed=3)
    one = sparse_power(
        fortnightly, cal_f, gad7(fortnightly), effect=2, sd=4 / math.sqrt(2), rho=0,
        sims=2000, seed=4,
    )  # fmt: skip
    agree(two, one)
    single = sparse_power(
        fortnightly, cal_f, gad7(fortnightly), effect=2, sd=4, rho=0, sims=2000, seed=5
    )
    assert two.power > single.power + 4 * math.hypot(two.mc_se, single.mc_se)


@pytest.mark.slow
def test_near_the_paired_t_tests_noncentral_t_power() -> None:
    """External reference: the two-sided paired t-test's power with n = 10 pairs, difference
    SD sd * sqrt(2), from the noncentral t distribution (Cohen 1988, ch. 2), computed here
    with scipy.stats.nct (0.514; the formula of R's power.t.test with strict = TRUE, type =
    "paired").  The randomization test of the same differences is close to it, not equal:
    0.05 allowed beside the Monte Carlo error."""
    from scipy import stats

    n, effect, sd = 10, 1.0, 1.0
    d = effect / (sd * math.sqrt(2))
    crit = stats.t.ppf(0.975, n - 1)
    nc = d * math.sqrt(n)
    t_power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    assert t_power == pytest.approx(0.514, abs=0.001)
    p, cal = protocol(blocks=n, period_days=7, schedule="weekly:sun")
    r = sparse_power(p, cal, gad7(p), effect=effect, sd=sd, rho=0, sims=3000, seed=7)
    assert abs(r.power - t_power) <= 0.05 + 3 * r.mc_se, (r.power, t_power)


def test_power_command_states_the_sparse_outcomes_power(invoke: Any, tmp_path: Any) -> None:
    path = tmp_path / "p.toml"
    path.write_text(TEXT.format(blocks=6, period_days=7, schedule="weekly:sun", days="all"))
    args = ["power", str(path), "--outcome", "gad7", "--effect", "3", "--sd", "4"]
    r = invoke([*args, "--sims", "200", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Power ")
    assert "for gad7 (GAD-7, weekly:sun)" in r.stdout
    assert "12 of 12 periods have a score (1 per period)" in r.stdout
    assert "Assumes: every due questionnaire answered" in r.stdout
    again = invoke([*args, "--sims", "200", "--seed", "1"])
    assert again.stdout == r.stdout  # reproducible from the seed
    bad = invoke([*args[:3], "nope", *args[4:]])
    assert bad.exit_code == 1
    assert (
        bad.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: --outcome 'nope': no such outcome (outcomes: ")
    )


def test_plan_states_each_questionnaires_scores_and_its_power_command(invoke: Any) -> None:
    from importlib import resources

    path = resources.files("blindself.protocols").joinpath("microdosing-resilience.toml")
    r = invoke(["plan", str(path), "--start", "2026-03-02"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stdout.splitlines() if x.startswith("Questionnaire ")]
    # period-end: the last day of each of the 32 Fadiman periods; every Sunday from Monday
    # 2026-03-02: 14 days, the first (03-08) in the 7-day run-in (not compared), so 13 periods
    # (the counts the template's comments state).
    assert lines[0].startswith(
        "Questionnaire resilience (Brief Resilience Scale, period-end): asked on 32 days, "
        "32 of 32 periods have a score"
    )
    assert lines[1].startswith(
        "Questionnaire gad7 (GAD-7, weekly:sun): asked on 14 days, 13 of 32 periods have a score"
    )
    assert lines[1].endswith("blindself power PROTOCOL --outcome gad7 --effect E --sd SD")


SPARSE_PRIMARY = """
[trial]
title = "t"
question = "q"
[[arms]]
name = "active"
kind = "active"
[[arms]]
name = "placebo"
kind = "placebo"
[design]
block = ["active", "placebo"]
blocks = 20
[[outcomes]]
name = "phq"
instrument = "phq8"
schedule = "{schedule}"
primary = true
[[outcomes]]
name = "mood"
question = "?"
scale = [1, 10]
better = "higher"
"""


def test_a_sparse_primary_questionnaire_is_not_given_a_daily_ratings_power(
    invoke: Any, tmp_path: Any
) -> None:
    """Review adv3 F3: a primary PHQ-8 asked only at baseline and end got the daily power 0.963,
    and plan did not warn; the trial then unblinded to "Not enough data"."""
    import json

    path = tmp_path / "p.toml"
    path.write_text(SPARSE_PRIMARY.format(schedule="baseline-and-end"))
    r = invoke(["plan", str(path), "--start", "2027-01-04"])
    assert r.exit_code == 0, r.output
    # 40 one-day periods; the questionnaire is asked on the first and the last day only.
    assert (
        "Warning: the primary outcome phq (baseline-and-end) is scored in only 2 of 40 periods: "
        "too few to compare 2 arms (at least 4 are needed)"
    ) in r.stdout
    assert "Power: not simulated here for a primary questionnaire" in r.stdout
    assert "simulates phq on its schedule" in r.stdout
    args = ["--effect", "1", "--sd", "1", "--seed", "1", "--sims", "200", "--json"]
    default = invoke(["power", str(path), *args])
    chosen = invoke(["power", str(path), *args, "--outcome", "phq"])
    assert default.exit_code == 0 and chosen.exit_code == 0, default.output + chosen.output
    # `power` without --outcome simulates the primary questionnaire on its schedule
    assert json.loads(default.stdout) == json.loads(chosen.stdout)
    assert json.loads(default.stdout)["power"] == 0.0  # 1 score per arm at the most


def test_a_weekly_primary_questionnaire_with_enough_periods_is_not_warned(
    invoke: Any, tmp_path: Any
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(SPARSE_PRIMARY.format(schedule="weekly:mon"))
    r = invoke(["plan", str(path), "--start", "2027-01-04"])
    assert r.exit_code == 0, r.output
    # Mondays of 40 days from Monday 2027-01-04: 6 scored periods >= 4
    assert "is scored in only" not in r.stdout
    assert "asked on 6 days, 6 of 40 periods have a score" in r.stdout
