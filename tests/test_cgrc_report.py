"""The blinding-corrected effect (issue 15) in report.json, the verdict, the HTML report and
the pool: wiring only; the numerics are tested in tests/stats/test_cgrc.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_checks import DESKTOP, PHONE, assert_accessible, assert_no_sideways_scroll
from helpers import Invoke
from test_analysis import trial
from test_pool_cli import CSV_OPTS, SZIGETI
from test_reference_data import SZ_ARGS, contrast, run

from blindself.analysis import engine as analysis
from blindself.analysis.dataset import TrialData
from blindself.analysis.stats import regression
from blindself.analysis.stats.cgrc import correct_guess_rate_curve
from blindself.report.page import render_html
from blindself.report.pool import render_pool_html, render_pool_text
from blindself.services.pooling import pool_inputs

FIELDS = {
    "observed_cgr", "target_cgr", "estimate", "ci95", "p", "curve", "strata", "draws",
    "method", "unsure", "no_guess", "small_strata", "reason", "label",
}  # fmt: skip


def guessed(data: TrialData, right: float, seed: int = 1, unsure: float = 0.1) -> TrialData:
    """Each dose day gets a guess: right with probability ``right``, else wrong or unsure."""
    rng = np.random.default_rng(seed)
    other = {"active": "placebo", "placebo": "active"}
    rows = []
    for r in data.rows:
        if r.arm in other:
            u = rng.random()
            g = "unsure" if u < unsure else (r.arm if rng.random() < right else other[r.arm])
            r = replace(r, guess=g)
        rows.append(r)
    return replace(data, rows=tuple(rows))


def test_each_contrast_has_a_cgrc_object_that_reproduces_the_trial() -> None:
    data = guessed(trial(("active", "placebo"), 10, period_days=4, effects={"active": 1.0}), 0.7)
    report = json.loads(json.dumps(analysis.analyze(data), allow_nan=False))
    c = report["outcomes"][0]["contrasts"][0]
    g = c["cgrc"]
    assert set(g) >= FIELDS
    assert g["target_cgr"] == 0.5 and g["unit"] == "period" and g["draws"] == 2000
    dose = [r for r in data.rows if r.arm in ("active", "placebo")]
    sure = [r for r in dose if r.guess != "unsure"]
    assert g["unsure"] == len(dose) - len(sure) and sum(g["strata"].values()) == len(sure)
    y = np.array([r.ratings["y0"] for r in sure])
    own = regression.classical(y, np.array([r.arm == "active" for r in sure], dtype=float))
    at_observed = next(p for p in g["curve"] if p["cgr"] == g["observed_cgr"])
    assert at_observed["estimate"] == pytest.approx(own.estimate, abs=1e-12)
    # seeded from the trial: re-analysis gives the same interval
    again = analysis.analyze(data)["outcomes"][0]["contrasts"][0]["cgrc"]
    assert again["ci95"] == g["ci95"]


def test_no_guess_no_cgrc_and_no_sentence() -> None:
    data = trial(("active", "placebo"), 6, period_days=2)
    data = replace(data, rows=tuple(replace(r, guess=None) for r in data.rows))
    report = analysis.analyze(data)
    assert report["outcomes"][0]["contrasts"][0]["cgrc"] is None
    assert "Sensitivity analysis" not in report["verdict"]["text"]


def test_verdict_sentence_is_labelled_a_sensitivity_analysis() -> None:
    data = guessed(trial(("active", "placebo"), 12, period_days=3, seed=4), 0.75)
    report = analysis.analyze(data)
    g = report["outcomes"][0]["contrasts"][0]["cgrc"]
    sentence = next(s for s in report["verdict"]["sentences"] if "perfect" in s or "half" in s)
    assert sentence.startswith("Sensitivity analysis (exploratory, not randomized): had you ")
    assert f"would be {g['estimate']:+.2f} points (95 % interval {g['ci95'][0]:+.2f}" in sentence
    assert "the guess comes after randomization" in sentence


def test_small_strata_are_said_and_an_empty_one_gives_no_number() -> None:
    # 3 periods per arm, guesses right 90 % of the time: the wrong-guess groups hold 2 periods
    thin = guessed(trial(("active", "placebo"), 3, period_days=3, seed=2), 0.9, seed=4)
    report = analysis.analyze(thin)
    g = report["outcomes"][0]["contrasts"][0]["cgrc"]
    assert g["strata_units"]["active_guessed_placebo"] == 2 and g["min_stratum"] == 3
    assert g["small_strata"] and g["estimate"] is not None
    assert any("rests on fewer than 3 periods" in c for c in report["verdict"]["caveats"])
    assert "Rough: some arm x guess group draws on fewer than 3 periods" in render_html(report)
    # always right: no wrong-guess stratum, the object says so instead of a number
    right = guessed(trial(("active", "placebo"), 4, period_days=2), 1.0, unsure=0.0)
    report = analysis.analyze(right)
    g = report["outcomes"][0]["contrasts"][0]["cgrc"]
    assert g["estimate"] is None and g["reason"].startswith("no observation active guessed")
    assert "cannot be estimated (no observation active guessed placebo" in report["verdict"]["text"]


def test_html_report_plots_the_curve_for_the_primary_outcome_only() -> None:
    data = guessed(trial(("active", "placebo"), 8, period_days=3, outcomes=2, seed=6), 0.7)
    html = render_html(analysis.analyze(data))
    assert html.count('aria-label="Correct guess rate curve"') == 1
    assert html.count("Would it survive a perfect blind?") == 2  # table for both outcomes
    assert "sensitivity analysis" in html


def test_pool_reports_the_curve_per_measure() -> None:
    opts = replace(CSV_OPTS, measures=("PANAS", "mood"))
    report = pool_inputs([SZIGETI], opts).report
    for m in report["measures"]:
        g = m["cgrc"]
        assert g["unit"] == "participant" and g["clusters"] == m["n_participants"]
        assert 0 < g["estimate"] < m["drug_effect"]["estimate"] / 2
    text = render_pool_text(report)
    assert text.count("correct guess rate curve (sensitivity analysis, not randomized)") == 2
    html = render_pool_html(report)
    assert html.count('aria-label="Correct guess rate curve"') == 2


def test_pool_without_a_guess_column_has_no_curve(tmp_path: Path) -> None:
    report = pool_inputs([SZIGETI], replace(CSV_OPTS, guess_column=None)).report
    assert report["measures"][0]["cgrc"] is None
    assert "perfect blind" not in render_pool_html(report)


def test_pool_curve_is_the_stats_module_on_the_measure_rows() -> None:
    import csv

    report = pool_inputs([SZIGETI], CSV_OPTS).report
    with SZIGETI.open() as f:
        rows = [r for r in csv.DictReader(f) if r["test_name"] == "PANAS"]
    y = np.array([float(r["value"]) for r in rows])
    act = np.array([r["condition"] == "MD" for r in rows], dtype=float)
    g = np.array([{"MD": 1.0, "PL": 0.0}.get(r["guess"], np.nan) for r in rows])
    direct = correct_guess_rate_curve(
        y, act, g, cluster=np.array([r["trial_id"] for r in rows]), rng=np.random.default_rng(0)
    )
    got = report["measures"][0]["cgrc"]
    assert got["estimate"] == pytest.approx(direct.estimate, abs=1e-12)
    assert got["strata"] == direct.to_json()["strata"]


@pytest.mark.browser
@pytest.mark.parametrize("which", ["trial", "pool"])
def test_cgrc_sections_are_accessible_and_fit_a_phone(
    browser: Any, tmp_path: Path, test_output: Path, which: str
) -> None:
    if which == "trial":
        data = guessed(trial(("active", "placebo"), 3, period_days=3, seed=2), 0.9, seed=4)
        html = render_html(analysis.analyze(data))  # with the small-strata warning
    else:
        html = render_pool_html(pool_inputs([SZIGETI], CSV_OPTS).report)
    page_file = tmp_path / f"{which}.html"
    page_file.write_text(html, encoding="utf-8")
    for viewport in (DESKTOP, PHONE):
        page = browser.new_context(viewport=viewport).new_page()
        page.goto(page_file.as_uri())
        assert page.locator("svg[aria-label='Correct guess rate curve']").count() == 1
        # Strict for both pages: the pool page had no <main> landmark (landmark-one-main and
        # region, moderate) until its content was put in one.
        assert_accessible(page)
        if viewport is PHONE:
            assert_no_sideways_scroll(page)
            page.screenshot(path=test_output / f"cgrc-{which}-phone.png", full_page=True)


def test_analyze_with_a_guess_column_end_to_end(invoke: Invoke) -> None:
    report, _ = run(invoke, SZIGETI, "--where", "test_name=mood", "--where", "tp=w4s1",
                    *SZ_ARGS, "--guess-column", "guess", "--outcomes", "value")  # fmt: skip
    g = contrast(report, "value")["cgrc"]
    # R: table(guess, condition): MD/MD 37, MD/PL 26, PL/MD 41, PL/PL 88 (every guess definite)
    assert g["strata"] == {
        "active_guessed_active": 37, "active_guessed_placebo": 41,
        "placebo_guessed_placebo": 88, "placebo_guessed_active": 26,
    }  # fmt: skip
    assert g["observed_cgr"] == pytest.approx((37 + 88) / 192)
    # gwern_lm.Rout "szigeti mood w4s1": lm(value ~ md) 0.4224021592, the curve's own point
    at_observed = next(p for p in g["curve"] if p["cgr"] == g["observed_cgr"])
    assert at_observed["estimate"] == pytest.approx(0.4224021592, abs=1e-9)
    assert g["estimate"] is not None and g["ci95"] is not None
    assert any(s.startswith("Sensitivity analysis") for s in report["verdict"]["sentences"])
