"""The self-contained HTML report (docs/design.md#report-document): one file, inline SVG, no
network.

:func:`render_html` turns ``report.json`` into a page-shaped view (every value already a
display string, made with the same helpers as the text and Markdown forms) and renders
``templates/report.html.j2``.  Nothing is recomputed: each number shown is one stored in the
report, so the three renderings agree.  Optional keys may be missing or ``None``.  The
sections of each outcome are built in :mod:`blindself.report.view`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from blindself.analysis.verdict import chance
from blindself.report import plots
from blindself.report.instruments import safety_view
from blindself.report.text import (
    blind_p,
    f,
    fci,
    fp,
    import_lines,
    interruption_lines,
    why_missing,
)
from blindself.report.view import (
    CORRECTION,
    decomposition_view,
    outcome_view,
    pct,
    randomization_note,
    seq,
)

_FINDINGS = {
    "benefit": ("better than placebo", "good"),
    "harm": ("worse than placebo", "bad"),
    "no clear effect": ("no clear difference from placebo", "neutral"),
    "insufficient": ("not enough data", "neutral"),
}


def render_html(report: dict[str, Any]) -> str:
    """Render a ``blindself-report/1`` document as one self-contained HTML page."""
    return str(_environment().get_template("report.html.j2").render(page=page_view(report)))


@functools.cache
def _environment() -> Any:
    import jinja2

    from blindself.wording import counted

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("blindself.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["count"] = counted
    return env


def page_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, as display strings and inline SVG (Markup)."""
    from markupsafe import Markup

    t = report["trial"]
    arms = seq(t.get("arms"))
    styles = plots.arm_styles(arms)
    placebo = t.get("placebo") or next((a["name"] for a in arms if a["kind"] == "placebo"), None)
    actives = seq(t.get("actives")) or [a["name"] for a in arms if a["kind"] == "active"]
    outcomes = seq(report.get("outcomes"))
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
        "outcomes": [outcome_view(o, i, ctx, t) for i, o in enumerate(outcomes)],
        "decomposition": decomposition_view(primary, ctx) if primary else None,
        "blinding": _blinding(report.get("blinding") or {}, ctx),
        "allocation": _allocation(report.get("allocation"), primary, styles) if primary else None,
        "safety": safety_view(outcomes),
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
    findings = seq(v.get("findings"))
    contrasts = seq(primary.get("contrasts")) if primary else []
    badges = []
    for i, finding in enumerate(findings):
        text, tone = _FINDINGS.get(finding, (str(finding), "neutral"))
        who = contrasts[i]["active"] if i < len(contrasts) and len(findings) > 1 else None
        badges.append({"text": f"{who}: {text}" if who else text, "tone": tone})
    sentences = seq(v.get("sentences")) or ([v["text"]] if v.get("text") else [])
    return {"badges": badges, "sentences": sentences, "caveats": seq(v.get("caveats"))}


def _headline(report: Mapping[str, Any], primary: Mapping[str, Any] | None) -> list[dict[str, str]]:
    cards: list[dict[str, str]] = []
    if primary:
        for c in seq(primary.get("contrasts"))[:2]:
            who = f"{c['active']} vs {c['placebo']}"
            why = why_missing(dict(c))
            est = c.get("estimate")
            cards.append(
                {
                    "value": f(est, signed=True) if est is not None else "not estimated",
                    "key": "estimate",
                    "caption": f"points on {primary['name']}, {who}"
                    + ("" if est is not None else f": {why}"),
                }
            )
            ci = c.get("ci95")
            has_ci = bool(ci) and None not in ci
            cards.append(
                {
                    "value": fci(ci) if has_ci else "no interval",
                    "key": "ci95",
                    "caption": "95 % interval (randomization test)"
                    + ("" if has_ci else f": {why}"),
                }
            )
            p = c.get("p_adjusted")
            p = p if p is not None else c.get("p_randomization")
            cards.append(
                {
                    "value": fp(p) if p is not None else "no p-value",
                    "key": "p",
                    "caption": "p-value (pre-registered test)"
                    + ("" if p is not None else f": {why}"),
                }
            )
            b = c.get("bayes") or {}
            if b.get("p_benefit") is not None:
                cards.append(
                    {
                        "value": chance(b["p_benefit"]),
                        "key": "p_benefit",
                        "caption": f"probability of any benefit (Bayesian AR(1) model with a prior "
                        f"centred on 0, estimate {f(b.get('mean'), signed=True)})",
                    }
                )
    bl = report.get("blinding") or {}
    if bl.get("p_randomization") is not None:
        cards.append(
            {
                "value": fp(bl["p_randomization"]),
                "key": "blind_p",
                "caption": "p-value of the blinding test: the chance of guessing at least this "
                "well if your guesses ignored the arm",
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
            ("Multiplicity correction", CORRECTION.get(plan["correction"], plan["correction"]))
        )
    if plan.get("statistic"):
        items.append(("Test statistic", plan["statistic"]))
    if plan.get("missing"):
        items.append(("Missing ratings", plan["missing"]))
    if t.get("scheme_note"):
        items.append(("Randomization", t["scheme_note"]))
    r = t.get("randomization") or {}
    if r.get("assignments") is not None:
        items.append(("Randomization test", randomization_note(r)))
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
    # Values brought in with blindself import, and the file each came from (its SHA-256).
    items += [("Imported values", line) for line in import_lines(t)]
    lines = interruption_lines(dict(t))
    pauses = [x.removeprefix("Pause: ") for x in lines if x.startswith("Pause: ")]
    if pauses:
        items.append(("Pauses", "; ".join(pauses)))
    lost = [x.removeprefix("Container ") for x in lines if x.startswith("Container ")]
    if lost:
        items.append(("Lost or damaged containers", "; ".join(lost)))
    return items


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
    if t.get("commitment_verified") is not True:
        # Set only by the command rendering the report, after hashing the allocation again.
        return {
            "hash": h,
            "state": "not checked",
            "tone": "neutral",
            "explain": "This report was rendered without checking the allocation against the "
            "commitment; check it with 'blindself verify'.",
        }
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

    codes = seq(t.get("codebroken") or t.get("codebreaks"))
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


def _blinding(bl: Mapping[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    arms = seq(bl.get("arms"))
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
    weeks = [(int(w["week"]), w.get("rate")) for w in seq(bl.get("by_week"))]
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
        "p": blind_p(dict(bl)),
        "brier": f(bl.get("brier"), 3),
        "figure": figure,
        "weeks": [
            {
                "week": str(w["week"]),
                "n": str(w.get("n", "-")),
                "rate": pct(w.get("rate")),
                "unsure": str(w.get("unsure", "-")),
            }
            for w in seq(bl.get("by_week"))
        ],
    }


def _allocation(
    days: Any, o: Mapping[str, Any], styles: Mapping[str, plots.ArmStyle]
) -> dict[str, Any]:
    """Every day of a container with its status (``report["allocation"]``); a report made
    before that list existed shows the primary outcome's analysed series instead."""
    series = [s for s in seq(days if days is not None else o.get("series")) if s.get("arm")]
    has_code = any(s.get("code") for s in series)
    rows = [
        {
            "date": s.get("date") or f"day {s['day']}",
            "day_type": s.get("day_type") or "",
            "code": s.get("code") or "",
            "arm": s["arm"],
            "colour": styles[s["arm"]].colour if s["arm"] in styles else plots.INK,
            "guess": s.get("guess") or "",
            "status": s.get("status") or "",
        }
        for s in series
    ]
    return {
        "has_code": has_code,
        "has_status": days is not None,
        "rows": rows,
        "outcome": o["name"],
    }
