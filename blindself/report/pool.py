"""Render a ``blindself-pool/1`` report as terminal text or one self-contained HTML page.

Both read only the report document.  The page holds, per measure, a results table, a forest
plot (the most precise participants' N-of-1 estimates, the random-effects pooled estimate
and the mixed-model estimate) and the condition x guess strata chart, as inline SVG drawn
with the helpers and palette of :mod:`blindself.report.plots`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from blindself.report import plots
from blindself.report.cgrc import cgrc_view
from blindself.report.text import f, fci, fp
from blindself.wording import count

#: The forest plot shows at most this many participants (the most precise ones).
FOREST_MAX = 40

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pooled analysis: {{ page.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{padding:.2rem .6rem;text-align:left;
border-bottom:1px solid #ddd}td.n{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}.note{color:#555;font-size:.9rem}
section{break-inside:avoid-page;margin-bottom:2rem}
@media print{body{margin:0;max-width:none}}
</style></head><body><main>
<h1>Pooled analysis: {{ page.title }}</h1>
<p>{{ page.subtitle }}</p>
{% for w in page.warnings %}<p class="warning"><b>Warning:</b> {{ w }}</p>{% endfor %}
{% for m in page.measures %}
<section>
<h2>{{ m.name }}</h2>
<p class="note">{{ m.model }}; {{ m.n }}</p>
<table><thead><tr><th>estimate</th><th>value</th><th>95 % interval</th><th>p</th></tr></thead>
<tbody>{% for r in m.rows %}<tr><td>{{ r.label }}</td><td class="n">{{ r.est }}</td>
<td class="n">{{ r.ci }}</td><td class="n">{{ r.p }}</td></tr>{% endfor %}</tbody></table>
{% if m.guess_note %}<p class="note">{{ m.guess_note }}</p>{% endif %}
{% if m.heterogeneity %}<p class="note">{{ m.heterogeneity }}</p>{% endif %}
{% if m.forest %}<figure>{{ m.forest|safe }}<figcaption class="note">{{ m.forest_note }}</figcaption></figure>{% endif %}
{% if m.strata %}<figure>{{ m.strata|safe }}<figcaption class="note">Model means of the four
condition x guess strata with 95 % intervals (y ~ arm * guess + covariates + (1 | participant)).
</figcaption></figure>{% endif %}
{% if m.blinding %}<p>Blinding: {{ m.blinding }}</p>{% endif %}
{% if m.cgrc %}{% set g = m.cgrc %}
<h3>Would it survive a perfect blind? (sensitivity analysis)</h3>
<p class="note">{{ g.caveat }}</p>{% if g.warn %}<p><b>{{ g.warn }}</b></p>{% endif %}
<table><thead><tr><th>share of correct guesses</th><th>estimate</th><th>95 % interval</th>
<th>p</th></tr></thead>
<tbody>{% for r in g.rows %}<tr><td>{{ r.label }}</td><td class="n">{{ r.est }}</td>
<td class="n">{{ r.ci }}</td><td class="n">{{ r.p }}</td></tr>{% endfor %}</tbody></table>
{% if g.figure %}<figure>{{ g.figure|safe }}<figcaption class="note">Correct guess rate curve:
the difference of means had the guesses been right a given share of the time, with its 95 %
interval (participants resampled); dashed: the observed share and 50 %.</figcaption></figure>
{% endif %}
<p class="note">Observations per group: {% for s in g.strata %}{{ s.label }} {{ s.n }}
({{ s.units }} {{ g.unit }}){% if not loop.last %}; {% endif %}{% endfor %}
{%- if g.left_out %}; left out: {{ g.left_out }}{% endif %}. {{ g.method }}.</p>{% endif %}
</section>
{% endfor %}
<h2>Notes</h2><ul>{% for n in page.notes %}<li>{{ n }}</li>{% endfor %}</ul>
<p class="note">{{ page.made_by }}</p>
</main></body></html>
"""


def render_pool_text(report: Mapping[str, Any]) -> str:
    """Plain-terminal summary of a pooled report (its notes are left to the caller)."""
    lines = [f"Pooled analysis of {count(report['inputs']['n_participants'], 'participant')} "
             f"({report['arms']['active']} vs {report['arms']['placebo']})"]  # fmt: skip
    lines += [f"Warning: {w}" for w in report.get("warnings", [])]
    for m in report["measures"]:
        lines.append("")
        lines.append(f"{m['measure']}: {count(m['n_observations'], 'observation')}, "
                     f"{count(m['n_participants'], 'participant')}")  # fmt: skip
        for label, est, ci, p in _rows(m):
            lines.append(f"  {label:<34} {est:>9} {ci:>20}  p {p}")
        if m.get("guess_note"):
            lines.append(f"  {m['guess_note']}")
        het = _heterogeneity(m)
        if het:
            lines.append(f"  {het}")
        bl = _blinding(m)
        if bl:
            lines.append(f"  blinding: {bl}")
        g = m.get("cgrc")
        if g and g.get("observed_cgr") is not None:
            lines.append(f"  correct guess rate curve (sensitivity analysis, not randomized): "
                         f"{100 * g['observed_cgr']:.0f} % correct guesses observed; "
                         + (f"at 50 % {f(g['estimate'], signed=True)} {fci(g['ci95'])} "
                            f"p {fp(g['p'])}" if g.get("estimate") is not None
                            else f"not estimated at 50 % ({g['reason']})"))  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"


def _rows(m: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []

    def add(label: str, e: Mapping[str, Any] | None) -> None:
        if e is not None:
            out.append((label, f(e.get("estimate"), signed=True), fci(e.get("ci95")),
                        fp(e.get("p"))))  # fmt: skip

    add("drug effect (mixed model)", m["drug_effect"])
    add("drug effect, guess-adjusted", m["drug_effect_guess_adjusted"])
    add("guess effect (guessed active)", m["guess_effect"])
    for c in (m["strata"] or {}).get("contrasts", []):
        add(c["label"], c)
    add("N-of-1 random-effects meta-analysis", m["meta_analysis"])
    return out


def _heterogeneity(m: Mapping[str, Any]) -> str:
    meta = m["meta_analysis"]
    if meta is None:
        return str(m.get("meta_note") or "")
    return (f"meta-analysis over {meta['k']} of "
            f"{count(meta['n_both_arms'], 'participant')} with both "
            f"arms ({meta['method']}): tau^2 {f(meta['tau2'])}, I^2 "
            f"{f(100 * meta['i2'] if meta['i2'] is not None else None, 0)} %")  # fmt: skip


def _blinding(m: Mapping[str, Any]) -> str:
    b = m["blinding"]
    if not b or b["correct_rate"] is None:
        return ""
    bang = b["bang"]
    return (f"{100 * b['correct_rate']:.0f} % of {count(b['n_definite'], 'definite guess', 'definite guesses')} correct vs "
            f"{100 * b['chance_rate']:.0f} % for a guesser who knows the arm ratio (p "
            f"{fp(b['p'])}); Bang's index active {f(bang['active']['bi'])}, placebo "
            f"{f(bang['placebo']['bi'])}")  # fmt: skip


def render_pool_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page (inline SVG, no network) for a pooled report."""
    arms = report["arms"]
    page = {
        "title": f"{arms['active']} vs {arms['placebo']}",
        "subtitle": f"{count(report['inputs']['n_participants'], 'participant')} from "
        f"{', '.join(report['inputs']['files'])}",
        "measures": [_measure(m, i) for i, m in enumerate(report["measures"])],
        "warnings": report.get("warnings", []),
        "notes": [*report["caveats"], *report["notes"]],
        "made_by": report.get("made_by", ""),
    }
    return str(_environment().from_string(_TEMPLATE).render(page=page))


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _measure(m: Mapping[str, Any], i: int) -> dict[str, Any]:
    n1 = sorted((r for r in m["n_of_1"] if r["se"]), key=lambda r: r["se"])
    shown = n1[:FOREST_MAX]
    forest = _forest(m, shown, f"pool-forest-{i}") if m["n_of_1"] else ""
    strata = _strata_chart(m["strata"], f"pool-strata-{i}") if m["strata"] else ""
    total = len(m["n_of_1"])
    return {
        "name": m["measure"],
        "model": m["model"],
        "n": f"{count(m['n_observations'], 'observation')} from "
        f"{count(m['n_participants'], 'participant')}",
        "rows": [dict(zip(("label", "est", "ci", "p"), r, strict=True)) for r in _rows(m)],
        "heterogeneity": _heterogeneity(m),
        "guess_note": m.get("guess_note") or "",
        "forest": forest,
        "forest_note": f"N-of-1 estimates (active - placebo) with 95 % intervals: the "
        f"{len(shown)} most precise of {total} participants; diamonds: pooled estimates.",
        "strata": strata,
        "blinding": _blinding(m),
        "cgrc": cgrc_view(m.get("cgrc"), outcome=m["measure"], uid=f"pool-cgrc-{i}", svg=str),
    }


def _forest(m: Mapping[str, Any], shown: list[Mapping[str, Any]], uid: str) -> str:
    pooled = [(label, e) for label, e in (("random-effects meta-analysis", m["meta_analysis"]),
                                          ("mixed model", m["drug_effect"])) if e]  # fmt: skip
    n = len(shown) + len(pooled)
    with plots._figure(6.4, 0.9 + 0.17 * n) as fig:
        ax = fig.add_axes((0.34, 0.9 / (0.9 + 0.17 * n), 0.62, 1 - 1.0 / (0.9 + 0.17 * n)))
        ax.axvline(0, color="#999999", lw=0.8)
        labels = []
        for k, r in enumerate(shown):
            yk = n - 1 - k
            half = 1.959963984540054 * r["se"]
            ax.plot([r["estimate"] - half, r["estimate"] + half], [yk, yk], "-",
                    color=plots.PLACEBO_COLOUR, lw=1)  # fmt: skip
            ax.plot([r["estimate"]], [yk], "s", color=plots.PLACEBO_COLOUR, ms=3.5)
            labels.append((yk, str(r["participant"])[:28]))
        for j, (label, e) in enumerate(pooled):
            yk = len(pooled) - 1 - j
            lo, hi = e["ci95"]
            if lo is not None and hi is not None:
                est = e["estimate"]
                ax.fill([lo, est, hi, est], [yk, yk + 0.3, yk, yk - 0.3],
                        color=plots.ACTIVE_COLOURS[0])  # fmt: skip
            labels.append((yk, label))
        ax.set_yticks([y for y, _ in labels], [plots._tx(t) for _, t in labels], fontsize=7.5)
        ax.set_ylim(-0.8, n - 0.2)
        ax.set_xlabel(plots._tx(f"{m['measure']}: active - placebo"))
        return plots._svg(fig, uid, f"Forest plot of {m['measure']}")


def _strata_chart(strata: Mapping[str, Any], uid: str) -> str:
    colour = {"active": plots.ACTIVE_COLOURS[0], "placebo": plots.PLACEBO_COLOUR}
    with plots._figure(6.4, 2.6) as fig:
        ax = fig.add_axes((0.11, 0.2, 0.6, 0.74))
        for c in strata["cells"]:
            x = (0 if c["guess"] == "placebo" else 1) + (0.08 if c["arm"] == "active" else -0.08)
            lo, hi = c["ci95"]
            if lo is not None and hi is not None:
                ax.plot([x, x], [lo, hi], "-", color=colour[c["arm"]], lw=1.2)
            ax.plot([x], [c["estimate"]], "o", color=colour[c["arm"]], ms=6,
                    label=f"took {c['arm']}" if c["guess"] == "placebo" else None)  # fmt: skip
        ax.set_xticks([0, 1], ["guessed placebo", "guessed active"])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel("model mean")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        return plots._svg(fig, uid, "Condition x guess strata")
