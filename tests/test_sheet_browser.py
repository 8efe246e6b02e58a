"""Printed materials as a person uses them (issues 11 and 19, docs/design.md T-49).

Every shipped template's sheet, in helper and in self mode, is rendered in Chromium; a real
decoder (Debian's zbarimg) reads every QR code from the screenshot.  The self-blinding slips
are checked from the rendered page: no slip text names an arm, the code and its QR sit on the
panel that folds shut, and the slips' boxes are the same for two different allocations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from browser_checks import DESKTOP, PHONE, assert_accessible, assert_no_sideways_scroll, axe
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, make_context

from blindself.protocol.loading import load_protocol

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(p.stem for p in (ROOT / "protocols").glob("*.toml"))
SHEETS = [(t, m) for t in TEMPLATES for m in ("helper", "self")]

# Moderate or minor axe-core findings that stay, with the reason (none today).  Before the
# fix (axe-core 4.x, 390 and 1280 px): sheet landmark-one-main + region (10 blocks helper,
# 13 self), calendar landmark-one-main + region (4); the sheet also scrolled sideways at 390 px.
SHEET_AXE_ALLOWED: dict[str, str] = {}
CALENDAR_AXE_ALLOWED: dict[str, str] = {}

pytestmark = pytest.mark.browser


def make_sheet(
    invoke: Invoke, tmp: Path, template: str | None, mode: str, alloc_seed: int = 1
) -> tuple[Path, dict[str, Any], Path]:
    """init a trial from a shipped template (or the small test protocol) in the given mode;
    returns the HTML sheet, the JSON sheet and the protocol file."""
    protocol = tmp / "p.toml"
    if template is None:
        protocol.write_text(SMALL_PROTOCOL.format(blinding=mode))
    else:
        assert invoke(["new", template, str(protocol)]).exit_code == 0
        text = re.sub(
            r'^blinding = "\w+"', f'blinding = "{mode}"', protocol.read_text(), flags=re.M
        )
        protocol.write_text(text)
    args = ["init", str(protocol), str(tmp / "trial"), "--start", START.isoformat()]
    args += ["--sheet", str(tmp / "s.html"), "--sheet", str(tmp / "s.json")]
    r = invoke(args, make_context(alloc_seed=alloc_seed), env=ENV)
    assert r.exit_code == 0, r.output
    return tmp / "s.html", json.loads((tmp / "s.json").read_text()), protocol


def zbar(png: Path) -> list[str]:
    """Every symbol zbarimg finds, as 'TYPE:data'."""
    exe = shutil.which("zbarimg")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("zbarimg (zbar-tools) missing, and CI=true requires the QR test to run")
        pytest.skip("zbarimg not installed (Debian's zbar-tools)")
    out = subprocess.run([exe, "-q", str(png)], capture_output=True, text=True, check=False)
    assert out.returncode in (0, 4), out.stderr  # 4: no symbol found
    return out.stdout.splitlines()


@pytest.mark.parametrize(("template", "mode"), SHEETS)
def test_every_printed_qr_code_decodes_to_its_code(
    browser: Any, invoke: Invoke, tmp_path: Path, test_output: Path, template: str, mode: str
) -> None:
    sheet, data, _ = make_sheet(invoke, tmp_path, template, mode)
    # Twice the CSS pixel density (about 190 dpi), still coarser than any printer.
    page = browser.new_page(viewport=DESKTOP, device_scale_factor=2)
    page.goto(sheet.as_uri())
    # What the printer gets: in self mode the screen shows no code (F2).
    page.emulate_media(media="print")
    shot = test_output / f"sheet-{template}-{mode}.png"
    page.screenshot(path=shot, full_page=True)
    found = zbar(shot)
    codes = sorted(c["code"] for c in data["containers"])
    # Standard QR only ("QR-Code:"): zbar reads no Micro QR, and neither do phone cameras.
    assert sorted(found) == sorted(f"QR-Code:{c}" for c in codes)
    assert len(found) == len(data["containers"]) == page.locator("svg.qr").count()
    # The human-readable code is printed with each QR code.
    holders = page.locator("svg.qr").evaluate_all(
        "qrs => qrs.map(q => q.parentElement.innerText.replace(/\\s+/g, ' '))"
    )
    assert sorted(next(c for c in codes if c in h) for h in holders) == codes
    page.close()


def slips(page: Any) -> list[dict[str, Any]]:
    """What each self-blinding strip shows, read from the rendered page."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('.strip')].map(s => {
                const box = e => { const r = e.getBoundingClientRect();
                                   return [r.x, r.y, r.width, r.height].map(Math.round); };
                const slip = s.querySelector('[data-slip]'), tab = s.querySelector('[data-tab]');
                const cover = slip.querySelector('.cover'), inner = slip.querySelector('.inner');
                const inside = e => { const a = e.getBoundingClientRect(),
                                      b = inner.getBoundingClientRect();
                  return a.left >= b.left && a.right <= b.right
                      && a.top >= b.top && a.bottom <= b.bottom; };
                return {tab: tab.innerText, slip: slip.innerText, cover: cover.innerText,
                        inner: inner.innerText, boxes: [box(cover), box(inner)],
                        coverBox: cover.getBoundingClientRect().toJSON(),
                        innerBox: inner.getBoundingClientRect().toJSON(),
                        codeHidden: [...inner.querySelectorAll('.code, svg.qr')].every(inside)
                                    && inner.querySelectorAll('.code, svg.qr').length == 2};
            })"""
        )
    )


def arm_words(protocol: Path) -> list[str]:
    """Everything that could name or hint at an arm: name, label, kind, dose with unit."""
    p = load_protocol(protocol)
    words: set[str] = set()
    for a in p.arms:
        words |= {a.name, a.label, a.kind}
        if a.dose:
            words |= {f"{a.dose:g}", f"{a.dose:g} {a.unit or ''}".strip()}
    return sorted(w for w in words if w)


def _names(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(word.lower())}(?![\w.])", text.lower()) is not None


CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]\b")
SELF_CASES = [None, *(t for t in TEMPLATES)]


@pytest.mark.parametrize("template", SELF_CASES, ids=lambda t: t or "small")
def test_no_slip_names_its_arm_and_the_layout_does_not_depend_on_it(
    page: Any, invoke: Invoke, tmp_path: Path, template: str | None
) -> None:
    seen = []
    for seed in (1, 2):
        base = tmp_path / f"alloc{seed}"
        base.mkdir()
        sheet, data, protocol = make_sheet(invoke, base, template, "self", alloc_seed=seed)
        page.set_viewport_size(DESKTOP)
        page.goto(sheet.as_uri())
        page.emulate_media(media="print")  # the paper; on screen the codes are hidden (F2)
        found = slips(page)
        assert len(found) == len(data["containers"])
        words = arm_words(protocol)
        codes = {c["code"] for c in data["containers"]}
        assert {m for s in found for m in CODE.findall(s["inner"])} == codes
        for s in found:
            # What goes into the envelope names no arm...
            assert not [w for w in words if _names(s["slip"], w)], (s["slip"], words)
            # ...while the tab that is cut off says what to fill (the test can see arms).
            assert any(_names(s["tab"], w) for w in [*words, "no capsule"]), s["tab"]
            # The code is on the slip only, on the panel that folds over the cover.
            assert not CODE.search(s["tab"]) and not CODE.search(s["cover"])
            assert len(CODE.findall(s["inner"])) == 1
            assert s["codeHidden"]
            cov, inn = s["coverBox"], s["innerBox"]
            assert abs(inn["left"] - cov["right"]) < 1.5  # they share the fold line
            assert (
                abs(inn["width"] - cov["width"]) < 1.5 and abs(inn["height"] - cov["height"]) < 1.5
            )
        seen.append(
            {
                "pairs": sorted((CODE.findall(s["inner"])[0], s["tab"]) for s in found),
                "boxes": [s["boxes"] for s in found],
                "slips": [CODE.sub("CODE", s["slip"]) for s in found],
            }
        )
    a, b = seen
    assert a["boxes"] == b["boxes"]  # no arm-dependent layout of what goes in an envelope
    assert a["slips"] == b["slips"]  # and the same words on every slip, codes aside
    if template is None:
        assert a["pairs"] != b["pairs"], "the two seeds must draw different allocations"


@pytest.mark.parametrize("template", [None, "microdosing-resilience"], ids=lambda t: t or "small")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_self_sheet_shows_no_code_on_screen(
    browser: Any,
    invoke: Invoke,
    tmp_path: Path,
    test_output: Path,
    template: str | None,
    viewport: dict[str, int],
) -> None:
    """F2: the person had to open the sheet in a browser to print it, and every code stood
    beside "Fill with: active" before anything could be folded.  On screen no code and no QR
    code can be read (zbar decodes none from the whole page; no code is in the visible text,
    nor selectable); each code panel says the codes appear only on paper.  The paper (print
    media) still carries them all."""
    sheet, data, _ = make_sheet(invoke, tmp_path, template, "self")
    codes = {c["code"] for c in data["containers"]}
    context = browser.new_context(viewport=viewport, device_scale_factor=2)
    page = context.new_page()
    page.goto(sheet.as_uri())
    name = f"sheet-screen-{template or 'small'}-{viewport['width']}.png"
    page.screenshot(path=test_output / name, full_page=True)
    assert zbar(test_output / name) == []
    visible = page.evaluate("() => document.body.innerText")
    assert not codes & set(CODE.findall(visible)), visible
    page.evaluate("() => document.execCommand('selectAll')")
    selected = page.evaluate("() => String(window.getSelection())")
    assert not codes & set(CODE.findall(selected))
    notes = page.locator(".inner").evaluate_all("es => es.map(e => e.innerText)")
    assert len(notes) == len(codes)
    assert all("only on paper" in n for n in notes), notes[:3]
    assert "print preview" in visible.lower()  # the sheet says what still shows the codes
    page.emulate_media(media="print")
    printed = test_output / f"sheet-print-{template or 'small'}-{viewport['width']}.png"
    page.screenshot(path=printed, full_page=True)
    assert sorted(zbar(printed)) == sorted(f"QR-Code:{c}" for c in codes)
    assert set(CODE.findall(page.evaluate("() => document.body.innerText"))) == codes
    context.close()


# Each code panel copied, mirrored, over its cover and multiplied: what a lamp behind a folded
# slip shows (both layers at once).  With the tint removed the same view decodes (the test's
# own control), so the check can fail.
SUPERIMPOSE = """tint => document.querySelectorAll('.strip').forEach(s => {
    const c = s.querySelector('.cover'), i = s.querySelector('.inner');
    const r = c.getBoundingClientRect(), q = i.getBoundingClientRect();
    const copy = i.cloneNode(true);
    copy.style.cssText = `position:absolute;left:${r.left + scrollX}px;top:${q.top + scrollY}px;`
      + `width:${q.width}px;height:${q.height}px;transform:scaleX(-1);`
      + 'mix-blend-mode:multiply;background:transparent;border:0';
    document.body.appendChild(copy);
    i.style.visibility = 'hidden';
    if (!tint) c.querySelector('svg.tint').style.visibility = 'hidden';
})"""


@pytest.mark.parametrize("tint", [True, False], ids=["tint", "control-without-tint"])
def test_folded_code_does_not_show_through_the_cover(
    browser: Any, invoke: Invoke, tmp_path: Path, test_output: Path, tint: bool
) -> None:
    """F2: folded, the code lay under one layer of blank paper; a bold code and QR code show
    through against a lamp.  The cover now carries a dense security tint: superimposed, no QR
    code decodes (zbar), while the unfolded slip still decodes."""
    sheet, data, _ = make_sheet(invoke, tmp_path, "melatonin-sleep", "self")
    page = browser.new_page(viewport=DESKTOP, device_scale_factor=2)
    page.goto(sheet.as_uri())
    page.emulate_media(media="print")
    page.evaluate(SUPERIMPOSE, tint)
    shot = test_output / f"sheet-folded-{'tint' if tint else 'control'}.png"
    page.screenshot(path=shot, full_page=True)
    found = zbar(shot)
    if tint:
        assert found == []
    else:
        assert len(found) > len(data["containers"]) // 2, found  # without it, they show
    page.close()


def test_sheet_prints_several_bags_per_page_and_fits_a_phone(
    browser: Any, invoke: Invoke, tmp_path: Path, test_output: Path
) -> None:
    sheet, _, _ = make_sheet(invoke, tmp_path, "microdosing-resilience", "self")
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    phone = context.new_page()
    phone.goto(sheet.as_uri())
    assert_no_sideways_scroll(phone)
    phone.screenshot(path=test_output / "sheet-self-phone.png")
    phone.locator("section.bag").first.screenshot(path=test_output / "sheet-self-phone-bag.png")
    context.close()

    page = browser.new_page(viewport=DESKTOP)
    page.goto(sheet.as_uri())
    page.emulate_media(media="print")
    # A4 minus the 10 mm margins, in CSS px (96 per inch).
    a4_height = (297 - 20) / 25.4 * 96
    a4_width = (210 - 20) / 25.4 * 96
    bags = page.locator("section.bag").evaluate_all(
        "bs => bs.map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])"
    )
    strips = page.locator(".strips").first.bounding_box()
    assert strips["width"] <= a4_width
    assert max(h for _, h in bags) * 3 < a4_height, bags  # at least three bags per page
    pdf = page.pdf(format="A4", print_background=True)
    (test_output / "sheet-self-a4.pdf").write_bytes(pdf)
    page.close()


@pytest.mark.parametrize("mode", ["helper", "self"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_sheet_is_accessible(
    page: Any, invoke: Invoke, tmp_path: Path, mode: str, viewport: dict[str, int]
) -> None:
    sheet, _, _ = make_sheet(invoke, tmp_path, None, mode)
    page.set_viewport_size(viewport)
    page.goto(sheet.as_uri())
    assert_no_sideways_scroll(page)
    assert_accessible(page, SHEET_AXE_ALLOWED)


@pytest.mark.parametrize("mode", ["helper", "self"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_participant_calendar_is_accessible(
    page: Any, invoke: Invoke, tmp_path: Path, mode: str, viewport: dict[str, int]
) -> None:
    make_sheet(invoke, tmp_path, None, mode)
    out = tmp_path / "calendar.html"
    r = invoke(["calendar", "--trial", str(tmp_path / "trial"), "-o", str(out)], make_context())
    assert r.exit_code == 0, r.output
    page.set_viewport_size(viewport)
    page.goto(out.as_uri())
    assert_no_sideways_scroll(page)
    assert_accessible(page, CALENDAR_AXE_ALLOWED)


def test_axe_is_live(page: Any) -> None:
    """The checker itself finds a known violation (a test that cannot fail proves nothing)."""
    page.set_content('<html><body><img src="x.png"><p style="color:#bbb">faint</p></body></html>')
    assert {v["id"] for v in axe(page)} >= {"image-alt", "color-contrast", "html-has-lang"}
