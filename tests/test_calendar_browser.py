"""The printable calendar in Chromium (issue 16 item 4): A4 print fit and page count for a
16-week trial, no sideways scroll at 390 px, accessibility, and day kinds told apart without
colour."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_checks import DESKTOP, PHONE, assert_accessible, assert_no_sideways_scroll
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, make_context

pytestmark = pytest.mark.browser

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
# A4 minus the page's 10 mm margins, in CSS px (96 per inch).
A4_WIDTH = (210 - 20) / 25.4 * 96
A4_HEIGHT = (297 - 20) / 25.4 * 96
MAX_PAGES_16_WEEKS = 5  # measured: 4 (four weeks a page after the first page's key)


def calendar_page(invoke: Invoke, tmp: Path, text: str, mode: str) -> Path:
    protocol = tmp / "p.toml"
    protocol.write_text(re.sub(r'^blinding = "\w+"', f'blinding = "{mode}"', text, flags=re.M))
    trial = tmp / "trial"
    args = ["init", str(protocol), str(trial), "--start", START.isoformat(), "--no-sheet"]
    assert invoke(args, make_context(), env=ENV).exit_code == 0
    out = tmp / "calendar.html"
    r = invoke(["calendar", "--trial", str(trial), "-o", str(out)], make_context())
    assert r.exit_code == 0, r.output
    return out


def sixteen_weeks(invoke: Invoke, tmp: Path) -> str:
    """The weekly crossover template without its run-in: 16 blocks of Mon/Tue/Thu/Fri dose
    days, 112 days from a Monday, so exactly 16 calendar weeks."""
    protocol = tmp / "template.toml"
    assert invoke(["new", "weekly-crossover", str(protocol)]).exit_code == 0
    return re.sub(r"^baseline_days = \d+", "baseline_days = 0", protocol.read_text(), flags=re.M)


@pytest.mark.parametrize("mode", ["helper", "self"])
def test_a_sixteen_week_calendar_prints_on_a4(
    browser: Any, invoke: Invoke, tmp_path: Path, test_output: Path, mode: str
) -> None:
    page_file = calendar_page(invoke, tmp_path, sixteen_weeks(invoke, tmp_path), mode)
    page = browser.new_page(viewport=DESKTOP)
    page.goto(page_file.as_uri())
    page.emulate_media(media="print")
    weeks = page.locator("section.week").evaluate_all(
        "ws => ws.map(w => [w.getBoundingClientRect().width, w.getBoundingClientRect().height])"
    )
    assert len(weeks) == 16
    # Printed at A4 width (the page's CSS decides the layout, as when a person prints it).
    page.set_viewport_size({"width": int(A4_WIDTH), "height": int(A4_HEIGHT)})
    widths = page.locator("ol.days").evaluate_all(
        "os => os.map(o => o.scrollWidth - o.clientWidth)"
    )
    assert set(widths) == {0}, "a week is wider than the A4 page"
    heights = page.locator("section.week").evaluate_all(
        "ws => ws.map(w => w.getBoundingClientRect().height)"
    )
    assert max(heights) * 4 < A4_HEIGHT, heights  # four whole weeks to a page
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (test_output / f"calendar-16-weeks-{mode}.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert 1 < pages <= MAX_PAGES_16_WEEKS, pages
    page.close()


def washout_text() -> str:
    return SMALL_PROTOCOL.replace("baseline_days = 2", "baseline_days = 2\nwashout_days = 2")


@pytest.mark.parametrize("mode", ["helper", "self"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_calendar_with_washouts_fits_and_is_accessible(
    page: Any, invoke: Invoke, tmp_path: Path, mode: str, viewport: dict[str, int]
) -> None:
    out = calendar_page(invoke, tmp_path, washout_text().format(blinding=mode), mode)
    page.set_viewport_size(viewport)
    page.goto(out.as_uri())
    assert_no_sideways_scroll(page)
    assert_accessible(page)


def test_day_kinds_differ_without_colour(page: Any, invoke: Invoke, tmp_path: Path) -> None:
    """Each kind has its own symbol, words and border, so a black-and-white printout or a
    colour-blind reader tells them apart."""
    out = calendar_page(invoke, tmp_path, washout_text().format(blinding="self"), "self")
    page.goto(out.as_uri())
    page.emulate_media(media="print")
    cells = page.locator("li.day:not(.outside)").evaluate_all(
        """ls => ls.map(l => {
            const s = getComputedStyle(l);
            return [l.className, l.innerText, s.borderTopWidth, s.borderTopStyle];
        })"""
    )
    kinds: dict[str, set[tuple[str, str]]] = {}
    for cls, text, width, style in cells:
        kind = cls.split()[1]
        first = [x for x in text.splitlines() if x.strip()][1]  # after the date: what to do
        kinds.setdefault(kind, set()).add((first, f"{width} {style}"))
    assert kinds["dose"] == {("● Dose + rate", "3px solid")}
    assert kinds["washout"] == {("≈ Washout · rate", "1px dashed")}
    assert kinds["baseline"] == {("○ Rate only", "1px solid")}
    new_bags = page.locator("li.new-bag").evaluate_all(
        "ls => ls.map(l => getComputedStyle(l).borderLeftWidth)"
    )
    assert new_bags == ["6px"] * 4
