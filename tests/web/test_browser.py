"""A day of check-ins in a real browser (Playwright on Debian's Chromium; conftest.py).

A phone (390 x 844, touch) and a desktop (1280 x 800) each pair with the printed link, are
refused a wrong code and an out-of-range rating on the page with nothing stored, check in
by tapping, correct the day, and read the status, calendar and (blinded) report pages.
Every page: no sideways scrolling, a label on every input, no axe-core violation, no console
error; on the phone every control is at least 44 px tall.  Screenshots go to test-output/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_checks import DESKTOP, PHONE, assert_accessible, assert_no_sideways_scroll, watch
from helpers import SMALL_PROTOCOL
from web.support import Served, entries, live_today, live_trial, public_schedule

from blindself.trial.codes import format_code

# Mood on 1-10 (a row of buttons), anxiety on 0-100 (a number box the browser can bound).
PROTOCOL = SMALL_PROTOCOL.format(blinding="helper").replace(
    'scale = [1, 10]\nbetter = "lower"', 'scale = [0, 100]\nbetter = "lower"'
)
DEVICES = {
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
    "desktop": {"viewport": DESKTOP},
}
MIN_TARGET_PX = 44  # WCAG 2.5.5 / Apple HIG touch target
TARGETS = "button, summary, nav a, a.button, label.point span, label.choice span, label.check"


def kinds(trial: Path) -> list[str]:
    return [kind for _, kind, _, _ in entries(trial)]


@pytest.mark.browser
@pytest.mark.parametrize("device", list(DEVICES))
def test_a_day_of_check_ins_in_the_browser(
    browser: Any, tmp_path: Path, test_output: Path, device: str
) -> None:
    from playwright.sync_api import expect

    trial = live_trial(tmp_path, protocol_text=PROTOCOL)
    today = live_today().isoformat()
    code = format_code(public_schedule(trial)["periods"][1]["code"])  # day 3: period 2
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    phone = device == "phone"
    with Served(trial) as server:
        context = browser.new_context(**DEVICES[device])
        try:
            page = context.new_page()
            seen = watch(page)

            def tap(locator: Any) -> None:
                locator.tap() if phone else locator.click()

            def check(step: str) -> None:
                page.wait_for_load_state("load")
                assert_no_sideways_scroll(page)
                unlabelled = page.evaluate(
                    """() => [...document.querySelectorAll(
                        'input:not([type=hidden]), textarea, select')]
                        .filter(e => e.labels.length === 0).map(e => e.name)"""
                )
                assert unlabelled == [], step
                if phone:
                    small = page.evaluate(
                        """([sel, least]) => [...document.querySelectorAll(sel)]
                            .filter(e => e.offsetParent !== null)
                            .map(e => [e.textContent.trim().slice(0, 20),
                                       e.getBoundingClientRect().height])
                            .filter(([, h]) => h < least)""",
                        [TARGETS, MIN_TARGET_PX],
                    )
                    assert small == [], (step, small)
                assert_accessible(page)
                page.screenshot(path=test_output / f"web-{device}-{step}.png", full_page=True)

            # Pair with the printed link.
            page.goto(server.url)
            check("1-pair")
            tap(page.get_by_role("button", name="Pair this device"))
            expect(page.get_by_role("heading", level=1)).to_contain_text("Check in")
            assert page.url == f"{server.base}/"
            check("2-code")

            # A wrong code is refused before any question; nothing is stored.
            page.get_by_label("Container code").fill(wrong)
            tap(page.get_by_role("button", name="Check the code"))
            expect(page.get_by_role("alert")).to_contain_text("check")
            expect(page.get_by_label("Container code")).to_have_value(wrong)
            assert page.locator('input[name="rate-mood"]').count() == 0
            assert kinds(trial) == ["init"]
            check("3-code-refused")
            page.get_by_label("Container code").fill(code.lower())
            tap(page.get_by_role("button", name="Check the code"))
            expect(page.locator(".lead")).to_contain_text(code)

            # Fill by tapping; an out-of-range rating is refused on the page, nothing stored.
            tap(page.locator("label.choice", has_text="placebo"))
            tap(page.locator('label.choice:has(input[name="confidence"][value="70"])'))
            tap(page.locator('label.point:has(input[name="rate-mood"][value="7"])'))
            anxiety = page.get_by_label("anxiety")
            anxiety.fill("150")
            page.get_by_label("Note").fill("headache in the morning")
            tap(page.get_by_role("button", name="Record"))
            assert anxiety.evaluate("e => e.validity.rangeOverflow")  # the browser refused
            assert kinds(trial) == ["init"]
            # A browser without that check sends it: the server refuses it the same way.
            page.locator("form").evaluate("f => { f.noValidate = true; }")
            tap(page.get_by_role("button", name="Record"))
            expect(page.get_by_role("alert")).to_contain_text("outside the scale 0-100")
            assert kinds(trial) == ["init"]
            expect(page.get_by_label("Note")).to_have_value("headache in the morning")
            expect(page.locator('input[name="rate-mood"][value="7"]')).to_be_checked()
            check("4-rating-refused")
            page.get_by_label("anxiety").fill("35")
            check("5-ratings")
            tap(page.get_by_role("button", name="Record"))
            expect(page.get_by_role("status")).to_contain_text(f"{today}: recorded")
            assert kinds(trial) == ["init", "checkin"]
            check("6-recorded")

            # Correct the day, with a reason.
            tap(page.get_by_text("Correct this day"))
            tap(page.locator('label.point:has(input[name="rate-mood"][value="4"])'))
            page.get_by_label("Reason for the correction").fill("tapped 7, meant 4")
            tap(page.get_by_role("button", name="Save the correction"))
            expect(page.get_by_role("status")).to_contain_text(f"{today}: replaced")
            expect(page.get_by_role("heading", level=2)).to_contain_text("(corrected)")
            assert kinds(trial) == ["init", "checkin", "correction"]
            fixed = json.loads(entries(trial)[-1][3])
            assert fixed["ratings"] == {"mood": 4, "anxiety": 35}
            assert fixed["reason"] == "tapped 7, meant 4"
            check("7-corrected")

            # Status: progress, missed days by date, what to take next; never an arm.
            tap(page.get_by_role("navigation").get_by_role("link", name="Status"))
            progress = page.get_by_label("Progress")
            expect(progress).to_contain_text("day 4 of 10")
            expect(progress).to_contain_text("1 of 4 days due checked in; missed: 3")
            expect(page.get_by_label("Missed days").get_by_role("link")).to_have_count(3)
            next_code = format_code(public_schedule(trial)["periods"][2]["code"])
            expect(page.get_by_label("Next")).to_contain_text(next_code)
            text = page.locator("main").inner_text()
            assert "placebo" not in text and "active" not in text
            check("8-status")

            tap(page.get_by_role("navigation").get_by_role("link", name="Calendar"))
            expect(page.locator("ol.calendar li")).to_have_count(10)
            check("9-calendar")
            tap(page.get_by_role("navigation").get_by_role("link", name="Report"))
            expect(page.locator("main")).to_contain_text("blindself unblind")
            check("10-report-blind")
            # Chromium logs each 4xx page load; the two refusals above are 422 on purpose.
            refusals = [e for e in seen.errors if "status of 422 (UNPROCESSABLE ENTITY)" in e]
            assert len(refusals) == 2
            assert [e for e in seen.errors if e not in refusals] == []
            assert all(u.startswith(server.base) for u in seen.requests)
        finally:
            context.close()
    assert server.returncode == 0


@pytest.mark.browser
def test_installable_as_an_app(browser: Any, tmp_path: Path) -> None:
    """The manifest loads under the CSP, with its icons, so Add to Home Screen opens the app."""
    trial = live_trial(tmp_path)
    with Served(trial) as server:
        context = browser.new_context(**DEVICES["phone"])
        try:
            page = context.new_page()
            seen = watch(page)
            page.goto(server.url)
            cdp = context.new_cdp_session(page)
            manifest = cdp.send("Page.getAppManifest")
            assert manifest["errors"] == [], manifest["errors"]
            parsed = json.loads(manifest["data"])
            assert parsed["display"] == "standalone"
            for icon in parsed["icons"]:
                r = page.request.get(server.base + icon["src"])
                assert r.ok, icon
            assert seen.errors == []
        finally:
            context.close()
