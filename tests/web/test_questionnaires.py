"""Questionnaires on the web check-in (issue 18): the form, storage, refusals, the severe notice.

The page sends what ``checkin --rate NAME=a1,...`` sends, to the same service call, so the
stored payload is the command line's (compared here with a twin trial checked in by the CLI).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, at, make_context
from web.support import app_for, browser, entries

from blindself.services.setup import init_trial

# GAD-7 on every check-in day, the BRS on Wednesdays (START is a Monday: day 2).
QUESTIONNAIRES = """
[[outcomes]]
instrument = "gad7"
schedule = "every"

[[outcomes]]
name = "resilience"
instrument = "brs"
schedule = "weekly:wed"
"""
PROTOCOL = SMALL_PROTOCOL.format(blinding="self").replace(
    "[checkin]", QUESTIONNAIRES + "\n[checkin]"
)


def q_trial(tmp_path: Path, name: str = "trial", alloc_seed: int = 1) -> Path:
    protocol = tmp_path / "protocol-q.toml"
    protocol.write_text(PROTOCOL)
    directory = tmp_path / name
    init_trial(
        protocol,
        directory,
        passphrase=PASSPHRASE,
        ctx=make_context(alloc_seed=alloc_seed, other_seed=7),
        start=START,
        no_sheet=True,
    )
    return directory


def answers(name: str, values: list[str]) -> dict[str, str]:
    form = {f"answer-{name}-{i}": v for i, v in enumerate(values, start=1) if v}
    form[f"items-{name}"] = str(len(values))
    return form


def payloads(trial: Path) -> list[dict[str, Any]]:
    return [json.loads(p) for _, kind, _, p in entries(trial) if kind != "init"]


def test_a_due_day_shows_each_questionnaire_as_a_fieldset_of_radio_groups(tmp_path: Path) -> None:
    trial = q_trial(tmp_path)
    b = browser(app_for(trial, now=at(START)))
    page = b.get("/").get_data(as_text=True)
    assert page.count('class="questionnaire"') == 1  # the BRS is not due on a Monday
    assert "Generalized Anxiety Disorder" in page or "GAD-7" in page
    assert page.count('name="answer-gad7-') == 7 * 4  # 7 items x 4 options
    assert "1. Feeling nervous, anxious or on edge" in page
    assert 'name="items-gad7" value="7"' in page
    wednesday = b.get(f"/?date={(START + timedelta(days=2)).isoformat()}").get_data(as_text=True)
    assert wednesday.count('class="questionnaire"') == 0  # the future: refused page
    b2 = browser(app_for(trial, now=at(START + timedelta(days=2)), seed=5))
    wed = (START + timedelta(days=2)).isoformat()  # a dose day: the code step comes first
    page2 = b2.post("/code", {"date": wed, "code": "", "action": "skip"}).get_data(as_text=True)
    assert page2.count('class="questionnaire"') == 2
    assert page2.count('name="answer-resilience-') == 6 * 5


def test_the_page_stores_what_the_command_line_stores(tmp_path: Path, invoke: Any) -> None:
    """The same answers, with one skipped item, give byte-identical payloads (bar the clock)."""
    web = q_trial(tmp_path, "web")
    cli = q_trial(tmp_path, "cli")
    b = browser(app_for(web, now=at(START)))
    gad = ["1", "2", "3", "0", "1", "", "2"]  # item 6 skipped: prorated 9 * 7 / 6
    r = b.post(
        "/checkin",
        {"date": START.isoformat(), "rate-mood": "6", "rate-anxiety": "3", **answers("gad7", gad)},
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    result = invoke(
        ["checkin", "--trial", str(cli), "--date", START.isoformat(), "--rate", "mood=6",
         "--rate", "anxiety=3", "--rate", "gad7=1,2,3,0,1,-,2"],
        make_context(now=at(START)),
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (from_web,) = payloads(web)
    (from_cli,) = payloads(cli)
    assert from_web == from_cli
    assert from_web["answers"] == {
        "gad7": {"items": [1, 2, 3, 0, 1, None, 2], "score": 10.5, "scoring": "gad7/1"}
    }
    assert from_web["ratings"]["gad7"] == 10.5


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({}, "is due on 2026-03-02: answer its questions"),
        (answers("gad7", ["1", "1", "1", "1", "1", "1", "7"]), "question 7: choose one of"),
        (answers("gad7", ["1", "1"]), "has 7 questions: answer each one"),
        ({**answers("gad7", ["1"] * 7), "answer-gad7-x": "1"}, "is not a question of this form"),
        (answers("resilience", ["1"] * 6), "is not asked on 2026-03-02 (next due 2026-03-04)"),
    ],
)
def test_refused_answers_reshow_the_form_and_store_nothing(
    tmp_path: Path, form: dict[str, str], said: str
) -> None:
    trial = q_trial(tmp_path)
    b = browser(app_for(trial, now=at(START)))
    base = {"date": START.isoformat(), "rate-mood": "6", "rate-anxiety": "3"}
    if "items-gad7" not in form and form:
        form = {**form, **answers("gad7", ["1"] * 7)}
    r = b.post("/checkin", {**base, **form})
    page = r.get_data(as_text=True)
    assert r.status_code == 422, page
    assert said in page
    assert "--rate" not in page
    assert [kind for _, kind, _, _ in entries(trial)] == ["init"]
    assert 'class="questionnaire"' in page  # asked again, with the person's answers


def test_severe_notice_once_per_entry_into_the_band(tmp_path: Path) -> None:
    trial = q_trial(tmp_path)
    said = []
    for n, level in enumerate(["3", "3", "1", "3"]):
        when = START + timedelta(days=n)
        b = browser(app_for(trial, now=at(when), seed=n + 1))
        form = {"date": when.isoformat(), "rate-mood": "6", "rate-anxiety": "3"}
        if n >= 2:
            b.post("/code", {"date": when.isoformat(), "code": "", "action": "skip"})
            form["no_capsule"] = "1"
        if n == 2:
            form.update(answers("resilience", ["3"] * 6))
        r = b.post("/checkin", {**form, **answers("gad7", [level] * 7)})
        assert r.status_code == 303, r.get_data(as_text=True)
        page = b.get(f"/day/{when.isoformat()}").get_data(as_text=True)
        said.append("published &#39;severe&#39; range" in page)
        assert ("talking to a doctor" in page) == said[-1]
    assert said == [True, False, False, True]


def test_a_correction_starts_from_the_recorded_answers(tmp_path: Path) -> None:
    trial = q_trial(tmp_path)
    b = browser(app_for(trial, now=at(START)))
    form = {"date": START.isoformat(), "rate-mood": "6", "rate-anxiety": "3"}
    b.post("/checkin", {**form, **answers("gad7", ["1", "2", "0", "0", "1", "2", "3"])})
    page = b.get(f"/day/{START.isoformat()}").get_data(as_text=True)
    assert 'name="answer-gad7-7" value="3" required checked' in page
    assert 'name="answer-gad7-3" value="0" required checked' in page
    fixed = {**form, **answers("gad7", ["1", "2", "0", "0", "1", "2", "0"]), "reason": "typo"}
    r = b.post(f"/day/{START.isoformat()}", fixed)
    assert r.status_code == 303, r.get_data(as_text=True)
    last = payloads(trial)[-1]
    assert last["answers"]["gad7"]["items"] == [1, 2, 0, 0, 1, 2, 0]
    assert last["ratings"]["gad7"] == 6
