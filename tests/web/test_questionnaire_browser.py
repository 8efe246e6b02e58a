"""A person fills in the GAD-7 on the phone page (Playwright on Debian's Chromium; issue 18).

The page is checked as the other browser tests check theirs (no sideways scrolling at 390 px,
a label on every input, 44 px touch targets, axe-core), the browser itself refuses a form
with an unanswered item, and the stored payload equals the one ``checkin --rate`` stores for
the same answers on a twin trial.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_checks import PHONE, assert_accessible, assert_no_sideways_scroll, watch
from helpers import PASSPHRASE, at, make_context
from web.support import Served, entries, live_today, live_trial
from web.test_questionnaires import PROTOCOL

GAD7 = [2, 1, 3, 0, 1, 2, 3]  # sum 12: "moderate"


@pytest.mark.browser
def test_a_person_fills_in_a_questionnaire_on_the_phone(
    browser: Any, tmp_path: Path, test_output: Path, invoke: Any
) -> None:
    from playwright.sync_api import expect

    (tmp_path / "web").mkdir()
    (tmp_path / "cli").mkdir()
    trial = live_trial(tmp_path / "web", days_ago=0, protocol_text=PROTOCOL)  # a baseline day
    twin = live_trial(tmp_path / "cli", days_ago=0, protocol_text=PROTOCOL)
    today = live_today().isoformat()
    with Served(trial) as server:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        try:
            page = context.new_page()
            seen = watch(page)

            def check(step: str) -> None:
                page.wait_for_load_state("load")
                assert_no_sideways_scroll(page)
                unlabelled = page.evaluate(
                    """() => [...document.querySelectorAll('input:not([type=hidden]), textarea')]
                        .filter(e => e.labels.length === 0).map(e => e.name)"""
                )
                assert unlabelled == [], step
                small = page.evaluate(
                    """() => [...document.querySelectorAll('label.choice span, label.point span')]
                        .filter(e => e.offsetParent !== null)
                        .map(e => e.getBoundingClientRect().height).filter(h => h < 44)"""
                )
                assert small == [], step
                assert_accessible(page)
                page.screenshot(path=test_output / f"web-questionnaire-{step}.png", full_page=True)

            page.goto(server.url)
            page.get_by_role("button", name="Pair this device").tap()
            gad = page.get_by_role("group", name="GAD-7")
            expect(gad).to_be_visible()
            expect(gad).to_contain_text("Over the last 2 weeks")
            check("1-form")

            page.locator('label.point:has(input[name="rate-mood"][value="6"])').tap()
            page.locator('label.point:has(input[name="rate-anxiety"][value="3"])').tap()
            items = gad.get_by_role("group")
            expect(items).to_have_count(7)
            for i, value in enumerate(GAD7[:-1]):
                item = items.nth(i)
                label = ["Not at all", "Several days", "More than half the days"][value] if value < 3 else "Nearly every day"  # fmt: skip
                item.get_by_role("radio", name=label, exact=True).tap()
                expect(item.get_by_role("radio", name=label)).to_be_checked()
            # The last item unanswered: the browser asks for it, nothing is sent or stored.
            page.get_by_role("button", name="Record").tap()
            last = page.locator('input[name="answer-gad7-7"]').first
            assert last.evaluate("e => e.validity.valueMissing")
            assert [k for _, k, _, _ in entries(trial)] == ["init"]
            items.nth(6).get_by_role("radio", name="Nearly every day", exact=True).tap()
            check("2-filled")
            page.get_by_role("button", name="Record").tap()
            expect(page.get_by_role("status")).to_contain_text(f"{today}: recorded")
            check("3-recorded")
            assert seen.errors == []
        finally:
            context.close()
    assert server.returncode == 0

    result = invoke(
        ["checkin", "--trial", str(twin), "--date", today, "--rate", "mood=6",
         "--rate", "anxiety=3", "--rate", "gad7=" + ",".join(map(str, GAD7))],
        make_context(now=at(live_today())),
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (web,) = [json.loads(p) for _, k, _, p in entries(trial) if k == "checkin"]
    (cli,) = [json.loads(p) for _, k, _, p in entries(twin) if k == "checkin"]
    web.pop("recorded_at")
    cli.pop("recorded_at")
    assert web == cli
    assert web["answers"]["gad7"] == {"items": GAD7, "score": 12, "scoring": "gad7/1"}
