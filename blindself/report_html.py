"""The self-contained HTML report (SPEC 10): one file, inline SVG, no network.

:func:`render_html` turns ``report.json`` into a page-shaped view (every value already a
display string, made with the same helpers as the text and Markdown forms) and renders
``templates/report.html.j2``.  Nothing is recomputed: each number shown is one stored in the
report, so the three renderings agree.  Optional keys may be missing or ``None``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from blindself import plots
from blindself.report import f, fci, fp

_FINDINGS = {
    "benefit": ("better than placebo", "good"),
    "harm": ("worse than placebo", "bad"),
    "no clear effect": ("no clear difference from placebo", "neutral"),
    "insufficient": ("not enough data", "neutral"),
}
_CORRECTION = {
    "holm": "Holm across the secondary outcomes",
    "bh": "Benjamini-Hochberg across the secondary outcomes",
    "none": "none",
}


def render_html(report: dict[str, Any]) -> str:
    """Render a ``blindself-report/1`` document as one self-contained HTML page."""
    return str(_environment().get_template("report.html.j2").render(page=page_view(report)))


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("blindself", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def _row(label: str, est: Any, ci: Any, p: Any, note: str = "", *, key: str = "") -> dict[str, str]:
    return {
        "label": label,
        "est": f(est, signed=True),
        "ci": fci(ci),
        "p": fp(p),
        "note": note,
        "key": key,
    }


def _seq(x: Any) -> list[Any]:
    return list(x) if isinstance(x, Sequence) and not isinstance(x, str) else []


def page_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, as display strings and inline SVG (Markup)."""
    from markupsafe import Markup

    t = report["trial"]
    arms = _seq(t.get("arms"))
    styles = plots.arm_styles(arms)
    placebo = t.get("placebo") or next((a["name"] for a in arms if a["kind"] == "placebo"), None)
    actives = _seq(t.get("actives")) or [a["name"] for a in arms if a["kind"] == "active"]
    outcomes = _seq(report.get("outcomes"))
    primary = next((o for o in outcomes if o.get("primary")), outcomes[0] if outcomes else None)
    ctx = {"styles": styles, "placebo": placebo, "actives": actives, "svg": Markup}
    view: dict[str, Any] = {
        "title": t.get("title") or "blindself trial",
        "question": t.get("question") or "",
        "subtitle": _subtitle(report),
        "verdict": _verdict(report, primary),
        "headline": _headline(report, primary),
        "arms": [
            {
                "name": a["name"],
                "kind": a["kind"],
                "label": a.get("label") or "",
                "colour": styles[a["name"]].colour,
            }
            for a in arms
        ],
        "plan": _plan(t, primary),
        "commitment": _commitment(t),
        "flow": _flow(report, primary),
        "outcomes": [_outcome(o, i, ctx, t) for i, o in enumerate(outcomes)],
        "decomposition": _decomposition(primary, ctx) if primary else None,
        "blinding": _blinding(report.get("blinding") or {}, ctx),
        "allocation": _allocation(primary, styles) if primary else None,
    }
    return view


def _subtitle(report: Mapping[str, Any]) -> str:
    t = report["trial"]
    parts = []
    if t.get("start") and t.get("end"):
        parts.append(f"{t['start']} to {t['end']}")
    if t.get("trial_id"):
        parts.append(f"trial {t['trial_id']}")
    if report.get("tool_version"):
        parts.append(f"blindself {report['tool_version']}")
    return " · ".join(parts)


def _verdict(report: Mapping[str, Any], primary: Mapping[str, Any] | None) -> dict[str, Any]:
    v = report.get("verdict") or {}
    findings = _seq(v.get("findings"))
    contrasts = _seq(primary.get("contrasts")) if primary else []
    badges = []
    for i, finding in enumerate(findings):
        text, tone = _FINDINGS.get(finding, (str(finding), "neutral"))
        who = contrasts[i]["active"] if i < len(contrasts) and len(findings) > 1 else None
        badges.append({"text": f"{who}: {text}" if who else text, "tone": tone})
    sentences = _seq(v.get("sentences")) or ([v["text"]] if v.get("text") else [])
    return {"badges": badges, "sentences": sentences, "caveats": _seq(v.get("caveats"))}


def _headline(report: Mapping[str, Any], primary: Mapping[str, Any] | None) -> list[dict[str, str]]:
    cards: list[dict[str, str]] = []
    if primary:
        for c in _seq(primary.get("contrasts"))[:2]:
            who = f"{c['active']} vs {c['placebo']}"
            cards.append(
                {
                    "value": f(c.get("estimate"), signed=True),
                    "key": "estimate",
                    "caption": f"points on {primary['name']}, {who}",
                }
            )
            cards.append(
                {
                    "value": fci(c.get("ci95")),
                    "key": "ci95",
                    "caption": "95 % interval (randomization test)",
                }
            )
            p = c.get("p_adjusted")
            cards.append(
                {
                    "value": fp(p if p is not None else c.get("p_randomization")),
                    "key": "p",
                    "caption": "p-value (pre-registered test)",
                }
            )
    bl = report.get("blinding") or {}
    if bl.get("p_randomization") is not None:
        cards.append(
            {
                "value": fp(bl["p_randomization"]),
                "key": "blind_p",
                "caption": "p that your guesses tracked the arm",
            }
        )
    adh = report.get("adherence") or {}
    if adh.get("checked_in") is not None and adh.get("scheduled") is not None:
        cards.append(
            {
                "value": f"{adh['checked_in']}/{adh['scheduled']}",
                "key": "adherence",
                "caption": "days checked in",
            }
        )
    return cards


def _plan(t: Mapping[str, Any], primary: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    plan = t.get("plan") or {}
    items: list[tuple[str, str]] = []
    if primary:
        good = {"higher": "higher is better", "lower": "lower is better"}.get(
            primary.get("better") or "", ""
        )
        q = f" ({primary['question']})" if primary.get("question") else ""
        items.append(("Primary outcome", f"{primary['name']}{q}" + (f"; {good}" if good else "")))
    alt = plan.get("alternative")
    if alt:
        text = {
            "greater": "one-sided: is the active arm better than placebo (in the outcome's good "
            "direction)?",
            "two-sided": "two-sided: does the active arm differ from placebo either way?",
        }.get(alt, alt)
        items.append(("Hypothesis", text))
    if plan.get("alpha") is not None:
        items.append(("Significance level (alpha)", f"{plan['alpha']:g}"))
    if plan.get("correction"):
        items.append(
            ("Multiplicity correction", _CORRECTION.get(plan["correction"], plan["correction"]))
        )
    if plan.get("statistic"):
        items.append(("Test statistic", plan["statistic"]))
    if plan.get("missing"):
        items.append(("Missing ratings", plan["missing"]))
    if t.get("scheme_note"):
        items.append(("Randomization", t["scheme_note"]))
    r = t.get("randomization") or {}
    if r.get("assignments") is not None:
        items.append(("Randomization test", _randomization_note(r)))
    if t.get("blinding"):
        items.append(
            (
                "Blinding",
                {
                    "self": "self-blinded (shuffled envelopes)",
                    "helper": "a helper prepared the containers",
                }.get(t["blinding"], t["blinding"]),
            )
        )
    if t.get("expectation") is not None:
        items.append(("Your expectation at the start", f"{t['expectation']:g} / 100"))
    if t.get("early"):
        items.append(("Unblinded early", t.get("early_reason") or "no reason recorded"))
    return items


def _randomization_note(r: Mapping[str, Any]) -> str:
    n = r.get("assignments")
    if r.get("exact"):
        text = f"exact: all {n:,} allocations the scheme allows"
    else:
        text = f"Monte Carlo: {r.get('draws') or 0:,} random allocations of {n:,} possible"
    if r.get("p_min") is not None:
        text += f"; smallest attainable p {fp(r['p_min'])}"
    return text


def _commitment(t: Mapping[str, Any]) -> dict[str, str]:
    h = t.get("commitment")
    if not h:
        note = (
            "Computed from a data file, not from a sealed trial: there is no commitment to check."
            if t.get("source") == "csv"
            else "No commitment recorded."
        )
        return {"hash": "", "state": "not available", "tone": "neutral", "explain": note}
    checked = t.get("published_commitment_checked")
    if checked is True:
        return {
            "hash": h,
            "state": "verified against the published value",
            "tone": "good",
            "explain": "The unsealed allocation hashes to the commitment recorded at init "
            "and to the value you published before the trial.",
        }
    if checked is False:
        return {
            "hash": h,
            "state": "MISMATCH with the published value",
            "tone": "bad",
            "explain": "The allocation does not match the value you published: the "
            "results cannot be trusted.",
        }
    return {
        "hash": h,
        "state": "verified against the value recorded at init",
        "tone": "good",
        "explain": "The unsealed allocation hashes to the commitment recorded at init. No "
        "published value was given; if you posted it before the trial, check it with "
        "'blindself verify --expect-commitment HEX'.",
    }


def _flow(report: Mapping[str, Any], primary: Mapping[str, Any] | None) -> dict[str, Any]:
    a = report.get("adherence") or {}
    t = report["trial"]

    def num(key: str) -> str:
        return "-" if a.get(key) is None else str(a[key])

    codes = _seq(t.get("codebreaks"))
    analysed = []
    if primary:
        n = primary.get("n") or {}
        analysed = [{"arm": k, "n": str(v)} for k, v in n.items() if v is not None]
    return {
        "scheduled": num("scheduled"),
        "checked_in": num("checked_in"),
        "missed": num("missed"),
        "dose_days": num("dose_days"),
        "not_taken": num("not_taken"),
        "deviations": num("deviations"),
        "codebreaks": num("codebreaks"),
        "codebroken_days": num("codebroken_days"),
        "codes": ", ".join(codes),
        "dates": f"{t['start']} to {t['end']}" if t.get("start") and t.get("end") else "",
        "analysed": analysed,
        "primary": primary["name"] if primary else "",
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
        for s in _seq(o.get("series"))
    ]


def _outcome(
    o: Mapping[str, Any], i: int, ctx: dict[str, Any], t: Mapping[str, Any]
) -> dict[str, Any]:
    styles = ctx["styles"]
    points = _points(o)
    scale = _seq(o.get("scale")) or None
    name = o["name"]
    unit = f"{name} ({scale[0]:g}-{scale[1]:g})" if scale and None not in scale else name
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
        "contrasts": [_contrast(c, o, t) for c in _seq(o.get("contrasts"))],
        "others": _others(o),
        "expectancy": _expectancy(o.get("expectancy")),
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
            + (_randomization_note(r) if r.get("assignments") is not None else ""),
            key="primary",
        ),
    ]
    if o.get("primary"):
        adj_note = (
            "Holm across the active arms"
            if len(_seq(o.get("contrasts"))) > 1
            else "primary outcome: not adjusted"
        )
    else:
        corr = c.get("correction") or (t.get("plan") or {}).get("correction") or "none"
        adj_note = _CORRECTION.get(corr, corr)
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
            extra = f"P(benefit) {_pct(x.get('p_benefit'))}"
            if x.get("p_above_mcid") is not None:
                extra += f"; P(benefit > {f(o.get('mcid'), 2)}) {_pct(x.get('p_above_mcid'))}"
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
    for d in _seq(o.get("day_after")):
        rows.append(
            _row(
                f"Day after a dose: {d['active']} vs {d['placebo']}",
                d.get("estimate"),
                d.get("ci95"),
                d.get("p_randomization"),
                f"off days; {d.get('n_days', '-')} days; randomization test",
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


def _decomposition(o: Mapping[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    contrasts = [c for c in _seq(o.get("contrasts")) if c.get("estimate") is not None]
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


def _blinding(bl: Mapping[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    arms = _seq(bl.get("arms"))
    table = bl.get("table") or {}
    rows = [
        {"guess": g, "cells": [{"n": str((counts or {}).get(a, 0)), "hit": g == a} for a in arms]}
        for g, counts in table.items()
    ]
    bang = [
        {
            "arm": a,
            "bi": f(v.get("bi"), 3),
            "se": f(v.get("se"), 3),
            "limit": f(v.get("limit95"), 3),
        }
        for a, v in (bl.get("bang") or {}).items()
        if v
    ]
    j = bl.get("james") or {}
    weeks = [(int(w["week"]), w.get("rate")) for w in _seq(bl.get("by_week"))]
    figure = None
    if any(r is not None for _, r in weeks):
        chance = 1 / len(arms) if arms else None
        figure = ctx["svg"](plots.guess_rate_by_week(weeks, chance=chance, uid="weeks"))
    return {
        "level": bl.get("level") or "",
        "n_periods": "-" if bl.get("n_periods") is None else str(bl["n_periods"]),
        "arms": arms,
        "rows": rows,
        "bang": bang,
        "james": {"bi": f(j.get("bi"), 3), "se": f(j.get("se"), 3), "ci": fci(j.get("ci95"))}
        if j
        else None,
        "p": fp(bl.get("p_randomization")),
        "brier": f(bl.get("brier"), 3),
        "figure": figure,
        "weeks": [
            {
                "week": str(w["week"]),
                "n": str(w.get("n", "-")),
                "rate": _pct(w.get("rate")),
                "unsure": str(w.get("unsure", "-")),
            }
            for w in _seq(bl.get("by_week"))
        ],
    }


def _allocation(o: Mapping[str, Any], styles: Mapping[str, plots.ArmStyle]) -> dict[str, Any]:
    series = [s for s in _seq(o.get("series")) if s.get("arm")]
    has_code = any(s.get("code") for s in series)
    rows = [
        {
            "date": s.get("date") or f"day {s['day']}",
            "day_type": s.get("day_type") or "",
            "code": s.get("code") or "",
            "arm": s["arm"],
            "colour": styles[s["arm"]].colour if s["arm"] in styles else plots.INK,
            "guess": s.get("guess") or "",
        }
        for s in series
    ]
    return {"has_code": has_code, "rows": rows, "outcome": o["name"]}
