"""View-models of one outcome for the HTML report: figure, means, contrasts, other analyses.

:func:`outcome_view` and :func:`decomposition_view` turn one outcome of ``report.json`` into
display strings and inline SVG for ``templates/report.html.j2``; page assembly and rendering
live in :mod:`blindself.report.page`.  Nothing is recomputed: each number shown is one stored
in the report.  Optional keys may be missing or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from blindself.analysis.verdict import chance
from blindself.report import plots
from blindself.report.cgrc import cgrc_view
from blindself.report.instruments import band_ranges, instrument_view
from blindself.report.text import f, fci, fp

#: How each ``plan.correction`` is described on the page.
CORRECTION = {
    "holm": "Holm across the secondary outcomes",
    "bh": "Benjamini-Hochberg across the secondary outcomes",
    "none": "none",
}


def pct(x: Any, shown: Callable[[float], str] | None = None) -> str:
    """A proportion as a whole percentage (or as ``shown`` gives it), ``-`` when missing."""
    if x is None:
        return "-"
    return shown(x) if shown is not None else f"{100 * x:.0f} %"


def seq(x: Any) -> list[Any]:
    """``x`` as a list when it is a sequence (not a string), else an empty list."""
    return list(x) if isinstance(x, Sequence) and not isinstance(x, str) else []


def randomization_note(r: Mapping[str, Any]) -> str:
    """One line on a randomization test's reference set and its smallest attainable p."""
    n = r.get("assignments")
    if r.get("exact"):
        text = f"exact: all {n:,} allocations the scheme allows"
    else:
        text = f"Monte Carlo: {r.get('draws') or 0:,} random allocations of {n:,} possible"
    if r.get("p_min") is not None:
        text += f"; smallest attainable p {fp(r['p_min'])}"
    return text


def _row(label: str, est: Any, ci: Any, p: Any, note: str = "", *, key: str = "") -> dict[str, str]:
    return {
        "label": label,
        "est": f(est, signed=True),
        "ci": fci(ci),
        "p": fp(p),
        "note": note,
        "key": key,
    }


def _points(o: Mapping[str, Any]) -> list[plots.Point]:
    return [
        plots.Point(
            int(s["day"]),
            s.get("date"),
            s.get("arm"),
            s.get("day_type") or "dose",
            s.get("y"),
            s.get("guess"),
        )
        for s in seq(o.get("series"))
    ]


def outcome_view(
    o: Mapping[str, Any], i: int, ctx: dict[str, Any], t: Mapping[str, Any]
) -> dict[str, Any]:
    """The section of outcome ``o`` (``i``-th in the report) in trial ``t``.

    ``ctx`` holds the page's ``styles`` (arm name to :class:`plots.ArmStyle`), the
    ``placebo`` and ``actives`` arm names, and ``svg`` (wraps figure text as safe markup).
    """
    styles = ctx["styles"]
    points = _points(o)
    scale = seq(o.get("scale")) or None
    name = o["name"]
    unit = f"{name} ({scale[0]:g}-{scale[1]:g})" if scale and None not in scale else name
    questionnaire = instrument_view(o)
    ranges = band_ranges(o["instrument"], scale) if questionnaire and scale else []
    figure = None
    if any(p.y is not None for p in points):
        figure = ctx["svg"](
            plots.outcome_figure(
                points,
                styles,
                o.get("mean") or {},
                placebo=ctx["placebo"],
                actives=ctx["actives"],
                ylabel=unit,
                scale=scale,
                uid=f"outcome{i}",
                bands=ranges,
                # A questionnaire is compared on whichever day of its period it was asked
                # (docs/design.md#instruments).
                compared=("dose", "off") if questionnaire else ("dose",),
            )
        )
    legend = [
        {"symbol": sym, "colour": colour, "label": label}
        for sym, colour, label in plots.series_legend(
            styles, ctx["placebo"], ctx["actives"], any(p.day_type == "baseline" for p in points)
        )
    ]
    mean, n, sd = o.get("mean") or {}, o.get("n") or {}, o.get("sd") or {}
    means = [
        {
            "arm": a,
            "colour": s.colour,
            "n": "-" if n.get(a) is None else str(n[a]),
            "mean": f(mean.get(a)),
            "sd": f(sd.get(a)),
        }
        for a, s in styles.items()
        if a in n or a in mean
    ]
    better = o.get("better")
    return {
        "name": name,
        "anchor": f"outcome-{i}",
        "primary": bool(o.get("primary")),
        "question": o.get("question") or "",
        "better": f"{better} is better" if better else "",
        "scale": f"{scale[0]:g} to {scale[1]:g}" if scale and None not in scale else "",
        "mcid": "" if o.get("mcid") is None else f"{o['mcid']:g}",
        "figure": figure,
        "legend": legend,
        "means": means,
        "contrasts": [
            {
                **_contrast(c, o, t),
                "cgrc": cgrc_view(
                    c.get("cgrc"),
                    outcome=name,
                    uid=f"cgrc{i}-{k}",
                    svg=ctx["svg"],
                    figure=bool(o.get("primary")),
                ),
            }
            for k, c in enumerate(seq(o.get("contrasts")))
        ],
        "others": _others(o),
        "expectancy": _expectancy(o.get("expectancy")),
        "instrument": questionnaire,
    }


def _contrast(c: Mapping[str, Any], o: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    alt = {"greater": "one-sided, higher", "less": "one-sided, lower", "two-sided": "two-sided"}
    r = c.get("randomization") or {}
    rows = [
        _row(
            "Randomization test (pre-registered)",
            c.get("estimate"),
            c.get("ci95"),
            c.get("p_randomization"),
            f"{alt.get(c.get('alternative') or '', 'two-sided')}; "
            + (randomization_note(r) if r.get("assignments") is not None else ""),
            key="primary",
        ),
    ]
    if o.get("primary"):
        adj_note = (
            "Holm across the active arms"
            if len(seq(o.get("contrasts"))) > 1
            else "primary outcome: not adjusted"
        )
    else:
        corr = c.get("correction") or (t.get("plan") or {}).get("correction") or "none"
        adj_note = CORRECTION.get(corr, corr)
    rows.append(
        {
            "label": "Adjusted p",
            "est": "",
            "ci": "",
            "p": fp(c.get("p_adjusted")),
            "note": adj_note,
            "key": "adjusted",
        }
    )
    cl = c.get("classical")
    if cl:
        note = f"y ~ arm, independent errors; SE {f(cl.get('se'))}, df {f(cl.get('df'), 0)}"
        rows.append(
            _row(
                "Classical regression (OLS)",
                cl.get("estimate"),
                cl.get("ci95"),
                cl.get("p"),
                note,
                key="classical",
            )
        )
    ar = c.get("ar1")
    if ar:
        note = f"AR(1) errors and a linear trend; rho {f(ar.get('rho'))}, SE {f(ar.get('se'))}"
        rows.append(
            _row(
                "AR(1) regression (GLS)",
                ar.get("estimate"),
                ar.get("ci95"),
                ar.get("p"),
                note,
                key="ar1",
            )
        )
    b = c.get("bayes")
    priors: list[dict[str, str]] = []
    if b:
        for label, x in (("weakly informative prior", b), ("reference prior", b.get("reference"))):
            if not x:
                continue
            extra = f"P(benefit) {pct(x.get('p_benefit'), chance)}"
            if x.get("p_above_mcid") is not None:
                extra += (
                    f"; P(benefit > {f(o.get('mcid'), 2)}) {pct(x.get('p_above_mcid'), chance)}"
                )
            rows.append(
                {
                    "label": f"Bayesian, {label}",
                    "est": f(x.get("mean"), signed=True),
                    "ci": fci(x.get("ci95")),
                    "p": "",
                    "note": extra,
                    "key": "bayes" if x is b else "bayes_ref",
                }
            )
            priors.append({"label": label, "prior": x.get("prior") or ""})
    cd = c.get("cliffs_delta")
    if cd:
        rows.append(
            {
                "label": "Cliff's delta",
                "est": f(cd.get("delta"), signed=True),
                "ci": "",
                "p": fp(cd.get("p_randomization")),
                "key": "cliff",
                "note": "P(active day rated higher) − P(lower), −1 to +1",
            }
        )
    return {
        "title": f"{c['active']} vs {c['placebo']}",
        "rows": rows,
        "priors": priors,
        "reaches_alpha": r.get("reaches_alpha", True) is not False,
    }


def _others(o: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for d in seq(o.get("day_after")):
        rows.append(
            _row(
                f"Day after a dose: {d['active']} vs {d['placebo']}",
                d.get("estimate"),
                d.get("ci95"),
                d.get("p_randomization"),
                f"off days; {d.get('n_days', '-')} days; randomization test",
            )
        )
    dt = o.get("dose_trend")
    if dt:
        rows.append(
            _row(
                "Dose trend (placebo through the doses)",
                dt.get("estimate"),
                None,
                dt.get("p_randomization"),
                f"{dt.get('estimate_unit') or ''}; {dt.get('role') or ''}",
                key="dose_trend",
            )
        )
    pr = o.get("placebo_response")
    if pr:
        label = "Placebo response (placebo vs nothing)"
        p = pr.get("p_randomization", pr.get("p"))
        rows.append(
            _row(
                label,
                pr.get("estimate"),
                pr.get("ci95"),
                p,
                ("randomized" if pr.get("randomized") else "NOT randomized")
                + f": {pr.get('source') or ''}",
                key="placebo_response",
            )
        )
        ta = pr.get("trend_adjusted")
        if ta:
            rows.append(
                _row(
                    "Placebo response, trend-adjusted",
                    ta.get("estimate"),
                    ta.get("ci95"),
                    ta.get("p"),
                    "linear day trend in the model",
                )
            )
    co = o.get("carryover")
    if co:
        rows.append(
            _row(
                "Carry-over from the previous period",
                co.get("estimate"),
                co.get("ci95"),
                co.get("p"),
                co.get("formula") or "",
            )
        )
    if o.get("trend_per_week") is not None:
        rows.append(
            {
                "label": "Trend over the trial",
                "est": f(o["trend_per_week"], signed=True),
                "ci": "",
                "p": "",
                "note": "points per week (y ~ arm + day)",
                "key": "trend",
            }
        )
    return rows


def _expectancy(e: Any) -> dict[str, Any] | None:
    if not e:
        return None
    table = e.get("table") or {}
    arms = [x for x in (e.get("active"), e.get("placebo")) if x]
    cells = []
    for g in arms:
        row = []
        for a in arms:
            cell = (table.get(g) or {}).get(a) or {}
            row.append(f"{f(cell.get('mean'))} (n {cell.get('n', '-')})")
        cells.append({"guess": g, "cells": row})
    model = e.get("model") or {}
    rows = [
        _row(
            f"{term} ({model.get('formula', '')})",
            (model.get(term) or {}).get("estimate"),
            (model.get(term) or {}).get("ci95"),
            (model.get(term) or {}).get("p"),
        )
        for term in ("arm", "belief")
        if model.get(term)
    ]
    return {
        "arms": arms,
        "cells": cells,
        "rows": rows,
        "n_unsure": str(e.get("n_unsure", "-")),
        "caveat": e.get("caveat") or "",
        "label": e.get("label") or "exploratory",
    }


def decomposition_view(o: Mapping[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The effect decomposition of outcome ``o`` (placebo response, then each contrast).

    None when no contrast has an estimate; ``ctx`` as for :func:`outcome_view`.
    """
    contrasts = [c for c in seq(o.get("contrasts")) if c.get("estimate") is not None]
    if not contrasts:
        return None
    styles = ctx["styles"]
    pr = o.get("placebo_response") or {}
    steps = []
    base = 0.0
    randomized = bool(pr.get("randomized"))
    if pr.get("estimate") is not None:
        label = "placebo vs nothing" + ("" if randomized else "\n(run-in, NOT randomized)")
        colour = styles[ctx["placebo"]].colour if ctx["placebo"] in styles else plots.INK
        steps.append(
            plots.Step(
                label,
                0.0,
                pr["estimate"],
                _ci(pr.get("ci95")),
                f(pr["estimate"], signed=True),
                colour,
                randomized,
            )
        )
        base = pr["estimate"]
    for c in contrasts:
        colour = styles[c["active"]].colour if c["active"] in styles else plots.INK
        steps.append(
            plots.Step(
                f"{c['active']} vs {c['placebo']}\n(randomized)",
                base,
                c["estimate"],
                _ci(c.get("ci95")),
                f(c["estimate"], signed=True),
                colour,
                True,
            )
        )
    note = None
    if pr.get("estimate") is not None and not randomized:
        note = (
            "Placebo response measured against the baseline run-in, which came first: "
            "not randomized (time and novelty are mixed into it)."
        )
    elif pr.get("estimate") is None:
        note = "No placebo-response measure in this trial (no 'none' arm and no run-in)."
    better = o.get("better")
    ylabel = f"change in {o['name']}" + (f" ({better} is better)" if better else "")
    svg = plots.decomposition(steps, ylabel=ylabel, note=note, uid="decomp")
    return {
        "svg": ctx["svg"](svg),
        "note": note or "",
        "outcome": o["name"],
        "randomized": randomized,
    }


def _ci(ci: Any) -> tuple[float, float] | None:
    if not ci or len(ci) != 2 or None in ci:
        return None
    return (float(ci[0]), float(ci[1]))
