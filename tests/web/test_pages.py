"""The check-in pages through Flask's test client: the rules of ``blindself checkin``.

Every refusal re-shows the page with the services' message (422) and stores nothing.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, at, make_context
from web.support import (
    app_for,
    browser,
    day_iso,
    entries,
    make_trial,
    public_schedule,
    today_is,
)

from blindself.services.setup import init_trial
from blindself.trial.codes import format_code


def code_of(trial: Path, n: int) -> str:
    """The container code of day ``n`` as printed on the label (K7M2-X)."""
    return format_code(str(public_schedule(trial)["periods"][n - 2]["code"]))


def ratings(mood: str = "7", anxiety: str = "3") -> dict[str, str]:
    return {"rate-mood": mood, "rate-anxiety": anxiety}


def payloads(trial: Path) -> list[dict[str, object]]:
    return [json.loads(p) for _, kind, _, p in entries(trial) if kind != "init"]


def test_a_dose_day_checks_the_code_before_any_question(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(2)))
    page = b.get("/").get_data(as_text=True)
    assert f'Take container <strong class="code">{code_of(trial, 2)}' in page
    assert 'name="rate-mood"' not in page  # no rating before the code
    right = code_of(trial, 2)
    wrong = right[:-1] + ("0" if right[-1] != "0" else "1")
    r = b.post("/code", {"date": day_iso(2), "code": wrong, "action": "next"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "fails its check symbol" in page or "not a code of this trial" in page
    assert 'name="rate-mood"' not in page
    assert f'value="{wrong}"' in page  # what was typed stays in the box
    assert len(entries(trial)) == 1
    r = b.post("/code", {"date": day_iso(2), "code": code_of(trial, 2).lower(), "action": "next"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'name="rate-mood"' in page
    assert f'name="code" value="{code_of(trial, 2)}"' in page


def test_a_check_in_is_recorded_once_and_shown(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(2)))
    b.get("/")
    form = {
        "date": day_iso(2),
        "code": code_of(trial, 2),
        **ratings(),
        "guess": "active",
        "confidence": "80",
        "note": "a <b>note</b>",
    }
    r = b.post("/checkin", form)
    assert r.status_code == 303 and r.headers["Location"] == f"/day/{day_iso(2)}"
    page = b.get(r.headers["Location"]).get_data(as_text=True)
    assert "recorded (entry 2" in page
    assert "a &lt;b&gt;note&lt;/b&gt;" in page
    (p,) = payloads(trial)
    assert p["ratings"] == {"mood": 7, "anxiety": 3}
    assert (p["guess"], p["confidence"], p["taken"]) == ("active", 80, True)
    # Today is done: the check-in page now shows the day, and a resubmission changes nothing.
    assert b.get("/").headers["Location"] == f"/day/{day_iso(2)}"
    b.post("/checkin", form)
    assert "already recorded" in b.get(f"/day/{day_iso(2)}").get_data(as_text=True)
    assert len(entries(trial)) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate-mood": "11"}, "outside the scale 1-10"),
        ({"rate-mood": "0"}, "outside the scale 1-10"),
        ({"rate-mood": "nan"}, "is not a number"),
        ({"rate-mood": "lots"}, "is not a number"),
        ({"rate-mood": ""}, "missing ratings: mood"),
        ({"guess": ""}, "missing guess"),
        ({"guess": "verum"}, "choose one of"),
        ({"confidence": ""}, "missing: how sure are you"),
        ({"confidence": "40"}, "must be 50-100"),
        ({"code": "AAAA-A"}, "code"),
        ({"date": day_iso(3)}, "in the future"),
        ({"date": "yesterday"}, "is not a date"),
        # Review F4: the command line's rules (a repeated rating, ISO dates only).
        ({"rate-mood": ["5", "6"]}, "is given twice; give each rating once"),
        ({"date": day_iso(2).replace("-", "")}, "is not a date"),
        ({"note": "bell\x07"}, "control characters"),
    ],
)
def test_refusals_keep_the_form_and_store_nothing(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(2)))
    form = {"date": day_iso(2), "code": code_of(trial, 2), **ratings(), "guess": "active"}
    form["confidence"] = "70"
    r = b.post("/checkin", {**form, **change, "note": change.get("note", "kept note")})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert message in page, page
    assert 'role="alert"' in page
    if "note" not in change and "date" not in change:
        assert "kept note" in page
    assert len(entries(trial)) == 1


def test_did_not_take_it(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(2)))
    r = b.post("/code", {"date": day_iso(2), "code": "", "action": "skip"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "No capsule taken" in page
    assert 'name="guess"' not in page
    assert (
        b.post("/checkin", {"date": day_iso(2), "no_capsule": "1", **ratings()}).status_code == 303
    )
    (p,) = payloads(trial)
    assert (p["code"], p["taken"], p["guess"]) == (None, False, None)


def test_baseline_days_ask_no_code_and_no_guess(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(0)))
    page = b.get("/").get_data(as_text=True)
    assert "Baseline day" in page
    assert 'name="code" value=""' in page and 'name="guess"' not in page
    assert b.post("/checkin", {"date": day_iso(0), **ratings("5", "5")}).status_code == 303
    r = b.post("/day/" + day_iso(0), {**ratings("5", "5"), "guess": "active", "reason": "x"})
    assert r.status_code == 422 and "no guess is asked" in r.get_data(as_text=True)
    assert len(entries(trial)) == 2


@pytest.mark.parametrize("first", [True, False])
def test_the_guess_comes_first_when_the_protocol_says_so(tmp_path: Path, first: bool) -> None:
    protocol = tmp_path / "p.toml"
    text = SMALL_PROTOCOL.format(blinding="helper")
    protocol.write_text(
        text.replace("guess = true", f"guess = true\nguess_first = {str(first).lower()}")
    )
    trial = tmp_path / "t"
    init_trial(
        protocol, trial, passphrase=PASSPHRASE, ctx=make_context(), start=START, no_sheet=True
    )
    b = browser(app_for(trial, now=today_is(2)))
    page = b.post("/code", {"date": day_iso(2), "code": code_of(trial, 2), "action": "next"})
    html = page.get_data(as_text=True)
    assert (html.index('name="guess"') < html.index('name="rate-mood"')) is first


def test_a_wide_scale_gets_a_number_box(tmp_path: Path) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper").replace(
            'scale = [1, 10]\nbetter = "lower"', 'scale = [0, 100]\nbetter = "lower"'
        )
    )
    trial = tmp_path / "t"
    init_trial(
        protocol, trial, passphrase=PASSPHRASE, ctx=make_context(), start=START, no_sheet=True
    )
    b = browser(app_for(trial, now=today_is(0)))
    html = b.get("/").get_data(as_text=True)
    assert 'type="number"' in html and 'min="0" max="100"' in html
    assert 'type="radio" name="rate-mood" value="10"' in html


def test_a_day_is_corrected_with_a_reason(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(3)))
    form = {"date": day_iso(2), "code": code_of(trial, 2), **ratings(), "guess": "unsure"}
    assert b.post("/checkin", form).status_code == 303
    page = b.get(f"/day/{day_iso(2)}").get_data(as_text=True)
    assert "Correct this day" in page and 'value="7" required checked' in page
    fix = {**form, "rate-mood": "4"}
    r = b.post(f"/day/{day_iso(2)}", fix)  # no reason
    assert r.status_code == 422 and "say why you correct" in r.get_data(as_text=True)
    r = b.post(f"/day/{day_iso(2)}", {**fix, "rate-mood": "12", "reason": "typo"})
    assert r.status_code == 422 and "outside the scale" in r.get_data(as_text=True)
    assert len(entries(trial)) == 2
    r = b.post(f"/day/{day_iso(2)}", {**fix, "reason": "tapped 7, meant 4"})
    assert r.status_code == 303
    page = b.get(f"/day/{day_iso(2)}").get_data(as_text=True)
    assert "replaced (entry 3" in page and "(corrected)" in page
    _, kind, _, payload = entries(trial)[-1]
    assert kind == "correction"
    assert json.loads(payload)["reason"] == "tapped 7, meant 4"
    assert json.loads(payload)["ratings"]["mood"] == 4
    assert b.get(f"/day/{day_iso(1)}").status_code == 404  # nothing recorded there


def test_status_lists_missed_days_and_what_to_take_next(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(4)))
    b.post("/checkin", {"date": day_iso(1), **ratings()})
    page = b.get("/status").get_data(as_text=True)
    assert "day 5 of 10" in page
    assert "<strong>1</strong> of 5 days due checked in; missed: <strong>3</strong>" in page
    for n in (0, 2, 3):
        assert f'href="/?date={day_iso(n)}"' in page
    assert f'href="/?date={day_iso(1)}"' not in page
    assert f'take container <strong class="code">{code_of(trial, 4)}' in page
    assert "blindself unblind" in page and "blindself codebreak" in page
    assert "active" not in page and "placebo" not in page  # never an arm
    late = b.get(f"/?date={day_iso(2)}").get_data(as_text=True)
    assert "Check in: Wed 04 Mar 2026" in late


def test_self_blinding_names_the_bag_and_confirms_another_bags_envelope(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, blinding="self")
    b = browser(app_for(trial, now=today_is(2)))
    page = b.get("/").get_data(as_text=True)
    assert "Open any envelope from bag <strong>1</strong>" in page
    bag2 = format_code(public_schedule(trial)["bags"][1]["codes"][0])
    r = b.post("/code", {"date": day_iso(2), "code": bag2, "action": "next"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and f"{bag2} is from bag 2, but {day_iso(2)} is a bag 1 day" in page
    assert 'name="rate-mood"' not in page  # confirmed before any rating
    r = b.post("/code", {"date": day_iso(2), "code": bag2, "action": "confirm"})
    assert 'name="rate-mood"' in r.get_data(as_text=True)
    form = {"date": day_iso(2), "code": bag2, **ratings(), "guess": "unsure"}
    assert b.post("/checkin", form).status_code == 303
    assert "deviation flag (wrong-bag)" in b.get(f"/day/{day_iso(2)}").get_data(as_text=True)
    assert payloads(trial)[0]["deviation"] == ["wrong-bag"]


def test_another_days_container_is_confirmed_and_a_used_one_refused(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(3)))
    r = b.post("/code", {"date": day_iso(3), "code": code_of(trial, 5), "action": "next"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert f"{code_of(trial, 5)} is the container for {day_iso(5)}, not for {day_iso(3)}" in page
    first = {"date": day_iso(2), "code": code_of(trial, 2), **ratings(), "guess": "unsure"}
    assert b.post("/checkin", first).status_code == 303
    r = b.post("/code", {"date": day_iso(3), "code": code_of(trial, 2), "action": "next"})
    assert r.status_code == 422 and "already used on" in r.get_data(as_text=True)
    assert 'name="rate-mood"' not in r.get_data(as_text=True)
    assert len(entries(trial)) == 2


def test_calendar_shows_every_day_without_arms(tmp_path: Path) -> None:
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(3)))
    b.post("/checkin", {"date": day_iso(0), **ratings()})
    page = b.get("/calendar").get_data(as_text=True)
    assert page.count("<li class=") == 10
    assert f'href="/day/{day_iso(0)}">recorded' in page
    assert f'href="/?date={day_iso(1)}">check in' in page
    assert page.count(">later<") == 6
    assert code_of(trial, 9) in page
    assert "placebo" not in page and "active" not in page


def test_the_report_waits_for_unblinding_then_is_shown(tmp_path: Path) -> None:
    from blindself.services.unblinding import unblind_trial

    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(12)))
    r = b.get("/report")
    assert r.status_code == 200 and "still blinded" in r.get_data(as_text=True)
    assert "blindself unblind" in r.get_data(as_text=True)
    for n in range(10):
        form = {"date": day_iso(n), **ratings(str(3 + n % 5))}
        if n >= 2:
            form.update(code=code_of(trial, n), guess="unsure")
        assert b.post("/checkin", form).status_code == 303
    unblind_trial(trial, passphrase=PASSPHRASE, ctx=make_context(now=at(START, 23).replace(day=13)))
    r = b.get("/report")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == (trial / "report" / "report.html").read_text()
    assert "style-src 'self' 'unsafe-inline'" in r.headers["Content-Security-Policy"]
    assert "script-src 'none'" in r.headers["Content-Security-Policy"]
    page = b.get("/").get_data(as_text=True)
    assert "check-ins are closed" in page
    assert "Read the report" in b.get("/status").get_data(as_text=True)


def test_manifest_makes_it_installable(tmp_path: Path) -> None:
    b = browser(app_for(make_trial(tmp_path)), pair=False)
    r = b.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.mimetype == "application/manifest+json"
    m = json.loads(r.get_data())
    assert m["display"] == "standalone" and m["start_url"] == "/"
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in m["icons"]:
        assert b.get(icon["src"]).status_code == 200


ALERT = re.compile(r'role="alert"[^>]*>([^<]*)<')
FLAG = re.compile(r"--[a-z]")


def alert(r: Any) -> str:
    found = ALERT.search(r.get_data(as_text=True))
    assert found, r.get_data(as_text=True)
    return html.unescape(found.group(1))


def test_every_refusal_speaks_in_the_pages_own_terms(tmp_path: Path) -> None:
    """Web messages named command-line flags ("--rate evil: no such outcome", "check --date",
    "add --replace"): each refusal a form can meet now names fields and buttons instead."""
    trial = make_trial(tmp_path)
    b = browser(app_for(trial, now=today_is(4)))
    form = {"date": day_iso(2), "code": code_of(trial, 2), **ratings(), "guess": "active"}
    form["confidence"] = "70"
    checkin_cases: list[tuple[dict[str, Any], str]] = [
        ({"rate-evil": "5"}, "evil: no such outcome"),
        ({"rate-mood": ""}, "missing ratings: mood (rate each one)"),
        ({"rate-mood": "12"}, "mood 12 is outside the scale 1-10"),
        (
            {"guess": ""},
            "missing guess: choose which you think you took (active, placebo, "
            "unsure) and how sure you are",
        ),
        ({"guess": "verum"}, "guess 'verum': choose one of active, placebo, unsure"),
        ({"confidence": ""}, "missing: how sure are you of your guess"),
        ({"confidence": "40"}, "how sure you are (40 %) must be 50-100 (%)"),
        ({"date": day_iso(5)}, "is in the future (today is"),
        ({"code": ""}, "type the code on the container's label, or tap 'I did not take"),
        ({"date": day_iso(0), "code": code_of(trial, 2)}, "with no container; leave the code out"),
        ({"date": day_iso(0), "code": "", "no_capsule": "1"}, "no capsule was due"),
        ({"date": day_iso(0), "code": "", "guess": "active"}, "no guess is asked on"),
    ]
    seen = []
    for change, message in checkin_cases:
        r = b.post("/checkin", {**form, **change})
        assert r.status_code == 422, (change, r.get_data(as_text=True))
        seen.append(alert(r))
        assert message in seen[-1], (change, seen[-1])
    # A day already recorded, sent again with other values (two tabs): correct it, not --replace.
    assert b.post("/checkin", form).status_code == 303
    r = b.post("/checkin", {**form, "rate-mood": "2"})
    seen.append(alert(r))
    assert "already recorded with other values; open that day to correct it" in seen[-1]
    # A code used in another period (self mode: the period's own code, from the code step).
    self_trial = make_trial(tmp_path, blinding="self")
    s = browser(app_for(self_trial, now=today_is(4)))
    bag1 = [format_code(c) for c in public_schedule(self_trial)["bags"][0]["codes"]]
    first = {"date": day_iso(2), "code": bag1[0], **ratings(), "guess": "unsure"}
    assert s.post("/checkin", first).status_code == 303
    r = s.post("/code", {"date": day_iso(3), "code": bag1[0], "action": "next"})
    seen.append(alert(r))
    assert "correct that day first" in seen[-1] or "correct" in seen[-1], seen[-1]
    for text in seen:
        assert not FLAG.search(text), text
