"""What every browser test checks the same way: axe-core, sideways scrolling, console, network.

Used with pytest-playwright's ``page`` fixture (tests/conftest.py points it at Debian's
Chromium).  axe-core comes bundled in the ``axe-playwright-python`` wheel, so a pinned pip
install brings it, with no npm step and nothing fetched at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# axe's own impact levels; the gate refuses these outright.
BLOCKING = ("serious", "critical")


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (rule id, impact, nodes)."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return list(result.response["violations"])


def axe_summary(violations: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """rule id -> (impact, number of elements), the form recorded in the tests and reports."""
    return {v["id"]: (v["impact"], len(v["nodes"])) for v in violations}


def assert_accessible(page: Any, allowed_moderate: dict[str, str] | None = None) -> None:
    """No serious or critical axe violation; a moderate or minor one only if listed with a
    reason (rule id -> why it stays)."""
    allowed = allowed_moderate or {}
    found = axe(page)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    unlisted = [v for v in found if v["impact"] not in BLOCKING and v["id"] not in allowed]
    detail = {v["id"]: [n["target"] for n in v["nodes"]][:5] for v in (*blocking, *unlisted)}
    assert not blocking and not unlisted, f"axe-core: {axe_summary(found)} at {detail}"


def sideways_overflow(page: Any) -> dict[str, Any]:
    """How far the document is wider than the viewport, and which elements stick out of it
    (a chart cut off at the right edge counts even inside a scrolling box)."""
    return dict(
        page.evaluate(
            """() => {
            const vw = document.documentElement.clientWidth;
            const out = [...document.querySelectorAll('body *:not(svg *)')]
              .filter(e => {
                const r = e.getBoundingClientRect();
                return r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5);
              })
              .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                        + (e.className && e.className.baseVal === undefined
                           ? '.' + String(e.className).split(' ').join('.') : ''));
            return {scrollWidth: document.documentElement.scrollWidth, viewport: vw, out: out};
        }"""
        )
    )


def assert_no_sideways_scroll(page: Any) -> None:
    o = sideways_overflow(page)
    assert o["scrollWidth"] <= o["viewport"], o
    assert o["out"] == [], o


@dataclass
class Watch:
    """Console messages, page errors and requests seen by one page."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def watch(page: Any) -> Watch:
    w = Watch()
    page.on(
        "console",
        lambda m: (
            w.errors.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda e: w.errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: w.requests.append(r.url))
    return w
