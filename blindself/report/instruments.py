"""Questionnaire outcomes in the report: the course of a score with its published bands as
context, never a diagnosis, and the safety sentences (docs/design.md#instruments).

The analysis puts an ``instrument`` key (title, scoring version, reference, bands) on a
questionnaire's outcome; a single rating has none, and nothing here changes its section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONTEXT = "context for your own course, not a diagnosis"
NO_ADVICE = (
    "blindself gives no medical advice. A questionnaire's published bands are shown as "
    "context for your own course, not as a diagnosis; only a health professional who talks "
    "with you can judge what a score means for you."
)
SEVERE_TINT = "#FBE3E3"
TINTS = ("#F3F4F6", "#E9EBEF")


@dataclass(frozen=True)
class BandRange:
    """One published band on the score's scale: ``lo`` up to ``hi`` (the next band's start)."""

    lo: float
    hi: float
    label: str
    severe: bool
    text: str  # e.g. "5–9 mild anxiety" or "1.00–2.99 low resilience"


def band_ranges(instrument: Mapping[str, Any], scale: Sequence[float]) -> list[BandRange]:
    """The bands of ``instrument`` (the report's ``instrument`` key) over ``scale``.

    A sum score's bands are shown in whole points ("5–9"); a mean score's in hundredths
    ("3.00–4.30"), as their sources publish them (Spitzer et al. 2006; Smith et al. 2013).

    Examples
    --------
    >>> gad = {"scoring": "gad7/1", "bands": [{"from": 0, "label": "minimal", "severe": False},
    ...        {"from": 15, "label": "severe", "severe": True}]}
    >>> [b.text for b in band_ranges(gad, [0, 21])]
    ['0–14 minimal', '15–21 severe']
    """
    bands = list(instrument.get("bands") or [])
    whole = all(float(b["from"]).is_integer() for b in bands) and float(scale[1]).is_integer()
    out = []
    for k, b in enumerate(bands):
        lo = float(b["from"])
        hi = float(bands[k + 1]["from"]) if k + 1 < len(bands) else float(scale[1])
        last = k + 1 == len(bands)
        if whole:
            text = f"{lo:g}–{hi if last else hi - 1:g}"
        else:
            text = f"{lo:.2f}–{hi if last else hi - 0.01:.2f}"
        out.append(
            BandRange(lo, hi, str(b["label"]), bool(b.get("severe")), f"{text} {b['label']}")
        )
    return out


def severe_dates(o: Mapping[str, Any]) -> list[str]:
    """The days (ISO) on which the questionnaire's score lay in a band marked severe."""
    instrument = o.get("instrument")
    if not instrument:
        return []
    ranges = band_ranges(instrument, o["scale"])
    severe = [r for r in ranges if r.severe]
    if not severe:
        return []
    start = min(r.lo for r in severe)
    return [
        str(s.get("date"))
        for s in o.get("series") or []
        if s.get("y") is not None and float(s["y"]) >= start
    ]


def instrument_view(o: Mapping[str, Any]) -> dict[str, Any] | None:
    """What an outcome's section adds for a questionnaire: its bands as labelled context."""
    instrument = o.get("instrument")
    if not instrument:
        return None
    ranges = band_ranges(instrument, o["scale"])
    measured = sum(1 for s in o.get("series") or [] if s.get("y") is not None)
    return {
        "title": instrument.get("title") or o["name"],
        "scoring": instrument.get("scoring") or "",
        "reference": instrument.get("reference") or "",
        "measured": measured,
        "bands": ", ".join(r.text for r in ranges),
        "context": CONTEXT,
    }


def safety_view(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The page's safety note, once: no medical advice; and, if any score lay in a published
    severe band, that talking to a professional is a good idea."""
    questionnaires = [o for o in outcomes if o.get("instrument")]
    if not questionnaires:
        return None
    severe = []
    for o in questionnaires:
        days = severe_dates(o)
        if days:
            title = o["instrument"].get("title") or o["name"]
            n = len(days)
            severe.append(f"{title} on {n} day{'s' if n != 1 else ''} (first {min(days)})")
    said = None
    if severe:
        said = (
            "A score was in its published 'severe' range: "
            + "; ".join(severe)
            + ". This is not a diagnosis, but talking to a doctor or another health "
            "professional about how you feel is a good idea."
        )
    return {"no_advice": NO_ADVICE, "severe": said}


def shade_bands(ax: Any, ranges: Sequence[BandRange]) -> None:
    """Shade each band behind the scores and name it at the right edge (matplotlib axes)."""
    from matplotlib.transforms import blended_transform_factory

    edge = blended_transform_factory(ax.transAxes, ax.transData)
    for k, r in enumerate(ranges):
        colour = SEVERE_TINT if r.severe else TINTS[k % 2]
        ax.axhspan(r.lo, r.hi, color=colour, zorder=0, lw=0)
        ax.text(
            0.995,
            (r.lo + r.hi) / 2,
            r.label.replace("$", r"\$"),  # matplotlib would read $...$ as mathtext
            transform=edge,
            ha="right",
            va="center",
            fontsize=7,
            color="#6B7280",
            zorder=1,
        )
