"""Questionnaires in the report (issue 18): the course with the published bands as context,
the no-medical-advice note and the severe sentence once; a simulated 16-week trial (the demo:
microdosing-resilience, BRS at each period's end, GAD-7 every Sunday) whose scores'
analysis reproduces from report/data.csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_checks import PHONE, assert_accessible, assert_no_sideways_scroll
from helpers import Invoke, make_context

from blindself.protocol.instrument import load_instrument
from blindself.report.instruments import band_ranges, safety_view, severe_dates


def as_report(name: str) -> dict[str, Any]:
    """An instrument as the analysis puts it on its outcome (engine._instrument)."""
    i = load_instrument(name)
    return {
        "title": i.title,
        "scoring": i.scoring_version,
        "reference": i.reference,
        "bands": [{"from": b.start, "label": b.label, "severe": b.severe} for b in i.bands],
    }


def test_bands_read_as_their_sources_publish_them() -> None:
    # GAD-7: Spitzer et al. 2006, cut points 5, 10, 15 on 0-21.
    assert [b.text for b in band_ranges(as_report("gad7"), [0, 21])] == [
        "0–4 minimal anxiety",
        "5–9 mild anxiety",
        "10–14 moderate anxiety",
        "15–21 severe anxiety",
    ]
    # PHQ-8: Kroenke et al. 2009, 5/10/15/20 on 0-24.
    assert [b.text for b in band_ranges(as_report("phq8"), [0, 24])][-2:] == [
        "15–19 moderately severe",
        "20–24 severe",
    ]
    # BRS: Smith et al. 2013 p. 177, 1.00-2.99 low, 3.00-4.30 normal, 4.31-5.00 high.
    assert [b.text for b in band_ranges(as_report("brs"), [1, 5])] == [
        "1.00–2.99 low resilience",
        "3.00–4.30 normal resilience",
        "4.31–5.00 high resilience",
    ]


def outcome(name: str, scale: list[float], ys: list[float | None]) -> dict[str, Any]:
    series = [{"day": k, "date": f"2026-03-{k + 1:02d}", "y": y} for k, y in enumerate(ys)]
    return {"name": name, "scale": scale, "instrument": as_report(name), "series": series}


def test_severe_sentence_names_the_days_once_and_only_for_severe_bands() -> None:
    gad = outcome("gad7", [0, 21], [3, None, 15, 14.5, 21])  # 14.5: a prorated moderate
    assert severe_dates(gad) == ["2026-03-03", "2026-03-05"]
    said = safety_view([gad])
    assert said is not None
    assert said["severe"].count("talking to a doctor") == 1
    assert "GAD-7 on 2 days (first 2026-03-03)" in said["severe"]
    assert "no medical advice" in said["no_advice"]
    calm = safety_view([outcome("gad7", [0, 21], [14, 3])])
    assert calm is not None and calm["severe"] is None
    assert severe_dates(outcome("brs", [1, 5], [1.0, 5.0])) == []  # the BRS has no severe band
    assert safety_view([{"name": "mood", "scale": [1, 10], "series": []}]) is None


# ----------------------------------------------------------------- a simulated 16-week trial
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from blindself.services.demo import run_demo

    directory = tmp_path_factory.mktemp("demo") / "trial"
    run_demo(directory, make_context(alloc_seed=5, other_seed=6), seed=18)
    return directory


@pytest.mark.slow
def test_the_demo_report_shows_each_questionnaire_with_its_bands_as_context(demo: Path) -> None:
    report = json.loads((demo / "report" / "report.json").read_text())
    by_name = {o["name"]: o for o in report["outcomes"]}
    assert by_name["resilience"]["instrument"]["scoring"] == "brs/1"
    assert by_name["gad7"]["instrument"]["bands"][-1] == {
        "from": 15,
        "label": "severe anxiety",
        "severe": True,
    }
    assert "instrument" not in by_name["mood"]
    html = (demo / "report" / "report.html").read_text()
    assert html.count("blindself gives no medical advice") == 1
    assert html.count("talking to a doctor") == (
        1 if any(map(severe_dates, by_name.values())) else 0
    )
    assert 'data-k="bands-resilience"' in html and 'data-k="bands-gad7"' in html
    assert "context for your own course, not a diagnosis" in html
    assert "3.00–4.30 normal resilience" in html and "15–21 severe anxiety" in html
    assert 'data-k="bands-mood"' not in html
    from blindself.report.text import render_markdown, render_text

    text, markdown = render_text(report), render_markdown(report)
    assert text.count("Note: blindself gives no medical advice") == 1
    assert markdown.count("*Note:* blindself gives no medical advice") == 1
    assert text.count("talking to a doctor") == html.count("talking to a doctor")
    # The BRS at each period's end: one score per period (the last day), 32 periods.
    asked = [s for s in by_name["resilience"]["series"] if s["y"] is not None]
    assert 28 <= len(asked) <= 32
    assert len({s["date"] for s in asked}) == len(asked)


@pytest.mark.slow
def test_the_demo_scores_reproduce_from_data_csv(demo: Path, invoke: Invoke) -> None:
    """Issue 18 'must hold': the scores' analysis reproduces from report/data.csv alone."""
    report = json.loads((demo / "report" / "report.json").read_text())
    r = invoke(
        ["analyze", str(demo / "report" / "data.csv"), "--arm-column", "allocation_arm",
         "--active", "active", "--placebo", "placebo", "--outcomes",
         "mood,anxiety,stress_recovery,rumination,presence,resilience,gad7", "--json"]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    again = {o["name"]: o for o in json.loads(r.stdout)["outcomes"]}
    for o in report["outcomes"]:
        if o["name"] not in ("resilience", "gad7"):
            continue
        assert again[o["name"]]["n"] == o["n"]
        assert again[o["name"]]["mean"] == pytest.approx(o["mean"])
        c, ca = o["contrasts"][0], again[o["name"]]["contrasts"][0]
        assert ca["estimate"] == pytest.approx(c["estimate"], nan_ok=True)
        assert ca["p_randomization"] == pytest.approx(c["p_randomization"], nan_ok=True)


@pytest.mark.slow
@pytest.mark.browser
def test_the_course_view_fits_a_phone_and_passes_axe(
    demo: Path, browser: Any, test_output: Path
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto((demo / "report" / "report.html").as_uri())
        assert_no_sideways_scroll(page)
        assert_accessible(page)  # strict: no moderate finding allowed either
        note = page.get_by_role("note", name="No medical advice")
        assert "no medical advice" in note.inner_text()
        section = page.locator("section.outcome", has=page.locator('[data-k="bands-gad7"]'))
        section.screenshot(path=test_output / "report-questionnaire-gad7.png")
        assert "not a diagnosis" in section.inner_text()
    finally:
        context.close()
