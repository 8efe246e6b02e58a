"""Preparation sheets for whoever fills the containers (docs/design.md#preparation-sheet).

The sheet is the one place the allocation exists in plaintext outside the seal; it is
written only to a path outside the trial directory.  JSON for scripts, HTML to print.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

from blindself.protocol.model import Protocol
from blindself.randomness import RandomSource, shuffle
from blindself.trial.allocation import AllocationDoc
from blindself.trial.codes import format_code
from blindself.trial.folder import PublicSchedule
from blindself.trial.schedule import Calendar

BLIND_BREAKERS = (
    "Weight: fill the placebo to the same weight as the active capsule (weigh a few of each).",
    "Colour and look: use opaque capsules of one colour and size; nothing visible through them.",
    "Taste and smell: choose a placebo filler with a similar taste; close capsules fully.",
    "Sound: capsules should not rattle differently; fill them equally full.",
    "Containers: identical, opaque envelopes or bags; nothing shows through against light.",
    "Labels: write codes with the same pen, in the same hand, on the same place.",
)


def sheet_json(
    protocol: Protocol, calendar: Calendar, doc: AllocationDoc, schedule: PublicSchedule
) -> dict[str, Any]:
    """The machine-readable sheet: codes, containers, blocks, periods and dates.

    Its format: docs/design.md#preparation-sheet.
    """
    containers = []
    for c in sorted(doc.containers, key=lambda c: c.code):
        dates: list[str] = []
        if c.period is not None:
            dates = [d.isoformat() for d in calendar.period_dates(c.period - 1)]
        containers.append(
            {
                "code": format_code(c.code),
                "arm": c.arm,
                "block": c.block,
                "period": c.period,
                "dates": dates,
            }
        )
    return {
        "trial": doc.trial_id,
        "blinding": doc.blinding,
        "codes": {format_code(c.code): c.arm for c in sorted(doc.containers, key=lambda c: c.code)},
        "containers": containers,
    }


def strip_order(doc: AllocationDoc, source: RandomSource) -> dict[str, int]:
    """Where each code's strip goes within its bag on the self-blinding sheet: a uniform
    permutation per bag drawn from the non-allocation stream (F2: in arm order, a strip's
    position beside its code told the arm; in code order, a code's rank would)."""
    blocks: dict[int, list[str]] = defaultdict(list)
    for c in sorted(doc.containers, key=lambda c: c.code):
        blocks[c.block].append(format_code(c.code))
    rank: dict[str, int] = {}
    for _, codes in sorted(blocks.items()):
        shuffle(codes, source)
        rank.update((code, i) for i, code in enumerate(codes))
    return rank


def render_sheet(
    path: Path,
    protocol: Protocol,
    calendar: Calendar,
    doc: AllocationDoc,
    schedule: PublicSchedule,
    order: dict[str, int],
) -> bytes:
    """The sheet's bytes in the format its suffix names (init hashes them before writing).
    ``order`` is :func:`strip_order`, drawn once so every HTML sheet of a trial agrees."""
    data = sheet_json(protocol, calendar, doc, schedule)
    if path.suffix.lower() == ".json":
        return (json.dumps(data, indent=2) + "\n").encode()
    return _render_html(protocol, calendar, data, order).encode()


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("blindself.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def qr_svg(code: str) -> str:
    """A standard QR code (never Micro QR, which phone cameras and zbar do not read) of
    ``code``, with the 4-module quiet zone the standard asks for; its printed size is set by
    the page's CSS (about 2.8 cm, readable by a phone camera at arm's length)."""
    import segno

    qr = segno.make(code, error="m", micro=False)
    return str(
        qr.svg_inline(
            border=4, omitsize=True, svgclass="qr", title="QR code of the code printed with it"
        )
    )


def _render_html(
    protocol: Protocol, calendar: Calendar, data: dict[str, Any], order: dict[str, int]
) -> str:
    per_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in data["containers"]:
        per_arm[c["arm"]].append(c)
    totals = []
    for arm in protocol.arms:
        n = len(per_arm.get(arm.name, []))
        capsules = n * protocol.design.period_days if arm.kind != "none" else 0
        dose = f"{arm.dose * capsules:g} {arm.unit or ''}".strip() if arm.dose else ""
        totals.append({"arm": arm, "containers": n, "capsules": capsules, "dose": dose})
    fill = {a.name: _fill_text(a.label, a.kind, protocol.design.period_days) for a in protocol.arms}
    blocks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in data["containers"]:
        blocks[c["block"]].append(c)
    # Self mode: one strip per envelope in the drawn order (neither arm nor code order); the arm
    # is printed only on the tab, which is cut off before sealing.
    bags = [
        {
            "number": b,
            "strips": [
                {"code": c["code"], "qr": qr_svg(c["code"]), "fill": fill[c["arm"]]}
                for c in sorted(cs, key=lambda c: order[c["code"]])
            ],
        }
        for b, cs in sorted(blocks.items())
    ]
    labels = []
    if data["blinding"] == "helper":
        labels = [
            {**c, "qr": qr_svg(c["code"])}
            for c in sorted(data["containers"], key=lambda c: c["period"] or 0)
        ]
    return (
        _environment()
        .get_template("sheet.html.j2")
        .render(
            protocol=protocol,
            calendar=calendar,
            data=data,
            totals=totals,
            bags=bags,
            labels=labels,
            breakers=BLIND_BREAKERS,
            tint=tint_pattern(),
            period_days=protocol.design.period_days,
        )
    )


def tint_pattern() -> str:
    """A security tint for the cover panel, as the tiles of an SVG ``<pattern>``: QR-sized
    modules (about 1 mm, half of them black) under rows of code-like characters in the code's
    font.  Folded, the code panel lies face down on it, so against a lamp the code and its QR
    code are seen through this clutter (F2).  Fixed (the same on every slip and sheet): it
    comes from a constant, not from any random stream.  Printed as foreground SVG, so it
    prints even with "background graphics" off."""
    import hashlib

    bits = hashlib.sha256(b"blindself security tint").digest()
    bits += hashlib.sha256(bits).digest()  # 512 bits: a 24 x 12 grid of 4 px modules
    cells = [
        f'<rect x="{4 * (i % 24)}" y="{4 * (i // 24)}" width="4" height="4"/>'
        for i in range(24 * 12)
        if bits[i // 8] >> (i % 8) & 1
    ]
    glyphs = [
        f'<text x="{x}" y="{y}">{t}</text>'
        for x, y, t in ((-6, 16, "K7QX-M3"), (10, 31, "W4NR-8H"), (-14, 46, "Z2PV-C9"))
    ]
    return "".join(cells + glyphs)


def _fill_text(label: str, kind: str, period_days: int) -> str:
    if kind == "none":
        return 'a card saying "no capsule this period"'
    return f"{label} × {period_days}" if period_days != 1 else label
