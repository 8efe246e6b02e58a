"""View-model of a ``cgrc`` object (one contrast of a trial, one measure of a pool).

Turns the blinding-corrected effect of ``report.json`` / the pool report into display
strings and the curve's inline SVG; nothing is recomputed.  Always labelled a sensitivity
analysis: the guess is measured after randomization.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from blindself.report import plots
from blindself.report.text import f, fci, fp

CAVEAT = (
    "Sensitivity analysis (exploratory), after Szigeti et al. 2023: the observations are "
    "split by arm and guess and re-weighted as if the guesses had been right only half the "
    "time. The guess is measured after randomization, so this is not a randomized comparison; "
    "it assumes that guessing right or wrong shifts the outcome alike in both arms."
)
STRATA_LABELS = {
    "active_guessed_active": "took active, guessed active",
    "active_guessed_placebo": "took active, guessed placebo",
    "placebo_guessed_placebo": "took placebo, guessed placebo",
    "placebo_guessed_active": "took placebo, guessed active",
}


def cgrc_view(
    g: Mapping[str, Any] | None,
    *,
    outcome: str,
    uid: str,
    svg: Callable[[str], Any],
    figure: bool = True,
) -> dict[str, Any] | None:
    """Display strings of ``g`` (None when no guess was recorded)."""
    if not g or g.get("observed_cgr") is None:
        return None
    unit = "periods" if g.get("unit") == "period" else f"{g.get('unit', 'unit')}s"
    units = g.get("strata_units") or {}
    strata = [
        {"label": STRATA_LABELS.get(k, k), "n": str(n), "units": str(units.get(k, "-"))}
        for k, n in (g.get("strata") or {}).items()
    ]
    observed = next(
        (p for p in g.get("curve") or [] if p.get("cgr") == g.get("observed_cgr")), None
    )
    left_out = [
        f"{g[k]} {label}"
        for k, label in (
            ("unsure", "unsure"),
            ("no_guess", "without a guess"),
            ("other_guess", "naming another arm"),
        )
        if g.get(k)
    ]
    warn = ""
    if g.get("estimate") is None or g.get("ci95") is None:
        warn = f"Not estimated under a perfect blind: {g.get('reason')}."
    elif g.get("small_strata"):
        warn = (
            f"Rough: some arm x guess group draws on fewer than {g.get('min_stratum')} "
            f"{unit}, so the interval may be too narrow."
        )
    figure_svg = None
    if figure and any(p.get("estimate") is not None for p in g.get("curve") or []):
        figure_svg = svg(
            plots.cgrc_curve(
                g["curve"],
                observed=g.get("observed_cgr"),
                target=float(g.get("target_cgr", 0.5)),
                ylabel=f"{outcome}: active - placebo",
                uid=uid,
            )
        )
    return {
        "rows": [
            {
                "label": f"As observed ({100 * g['observed_cgr']:.0f} % correct guesses)",
                "est": f(observed.get("estimate") if observed else None, signed=True),
                "ci": fci(observed.get("ci95") if observed else None),
                "p": "",
            },
            {
                "label": f"Perfect blind ({100 * g.get('target_cgr', 0.5):.0f} % correct)",
                "est": f(g.get("estimate"), signed=True),
                "ci": fci(g.get("ci95")),
                "p": fp(g.get("p")),
            },
        ],
        "strata": strata,
        "unit": unit,
        "left_out": ", ".join(left_out),
        "warn": warn,
        "figure": figure_svg,
        "caveat": CAVEAT,
        "method": str(g.get("method", "")),
    }
