"""Render report.json as terminal text and Markdown (docs/design.md#report-document); shared display
helpers.

Renderers read only the report document, so every number shown is one stored there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blindself.analysis.verdict import chance
from blindself.wording import count

MISSING = "n/a"  # never a bare "-": each rendering says why a value is missing


def f(x: Any, digits: int = 2, signed: bool = False) -> str:
    """Format a number for display; 'n/a' for missing."""
    if x is None:
        return MISSING
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fp(p: Any) -> str:
    """Format a p-value."""
    if p is None:
        return MISSING
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def fci(ci: Any) -> str:
    if not ci or None in ci:
        return MISSING
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def contrast_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """One display row per outcome x contrast, shared by the text and Markdown forms."""
    rows = []
    for o in report["outcomes"]:
        for c in o["contrasts"]:
            ar = c.get("ar1") or {}
            b = c.get("bayes") or {}
            cd = c.get("cliffs_delta") or {}
            rows.append(
                {
                    "outcome": o["name"] + (" (primary)" if o["primary"] else ""),
                    "contrast": f"{c['active']} - {c['placebo']}",
                    "n": f"{o['n'].get(c['active'], 0)}/{o['n'].get(c['placebo'], 0)}",
                    "estimate": f(c["estimate"], signed=True),
                    "ci95": fci(c["ci95"]),
                    "p": fp(c["p_randomization"]),
                    "p_adj": fp(c["p_adjusted"]),
                    "ar1": f"{f(ar.get('estimate'), signed=True)} (p {fp(ar.get('p'))})"
                    if ar
                    else MISSING,
                    "bayes": f"{chance(b['p_benefit'])} (estimate {f(b.get('mean'), signed=True)})"
                    if b.get("p_benefit") is not None
                    else MISSING,
                    "cliff": f(cd.get("delta"), signed=True) if cd else MISSING,
                }
            )
    return rows


# What the blinding p-value is: the chance of guesses at least this accurate if they ignored
# the arm (not the probability "that the guesses tracked the arm").
BLIND_P = "blinding test (chance of guessing at least this well if the guesses ignored the arm)"


def blind_p(bl: dict[str, Any]) -> str:
    """The blinding test's p, or why there is none."""
    if bl.get("p_randomization") is not None:
        return f"p = {fp(bl['p_randomization'])}"
    if sum((bl.get("table") or {}).get("unsure", {}).values()):
        return "not tested (every guess was 'unsure')"
    return "not tested (no guesses recorded)"


def missing_reasons(report: dict[str, Any]) -> list[str]:
    """Why a contrast shows n/a: its own notes, or what the design cannot give."""
    out = []
    for o in report["outcomes"]:
        for c in o["contrasts"]:
            values = (c.get("estimate"), c.get("p_randomization"), c.get("p_adjusted"))
            if None not in values and c.get("ci95") and None not in c["ci95"]:
                continue
            out.append(f"n/a on {o['name']}, {c['active']} - {c['placebo']}: {why_missing(c)}")
    return out


def why_missing(c: dict[str, Any]) -> str:
    """One reason a contrast's estimate, interval or p is missing."""
    notes = [str(n) for n in c.get("notes") or []]
    if c.get("estimate") is None:
        return notes[0] if notes else "too few rated dose days to compare the arms"
    r = c.get("randomization") or {}
    p_min = r.get("p_min")
    no_ci = c.get("ci95") is None or None in (c.get("ci95") or [None])
    if (
        no_ci
        and p_min is not None
        and p_min > 0.05
        and r.get("periods", 0) < r.get("pair_periods", 0)
    ):
        # a sparse outcome: its own floor, not the design's (docs/design.md#sparse-floor)
        return (
            f"no 95 % interval: only {r['periods']} of {r['pair_periods']} periods have a value, "
            f"so the smallest possible p is {p_min:.3g} and no value can be excluded at 5 %"
        )
    if no_ci and p_min is not None and p_min > 0.05:
        return (
            f"no 95 % interval: this design's smallest possible p is {p_min:.3g}, so no "
            "value can be excluded at 5 %"
        )
    return notes[0] if notes else "not computable from these data"


def render_text(report: dict[str, Any]) -> str:
    t = report["trial"]
    lines = [f"{t['title']}", f"Question: {t['question']}", ""]
    lines.append("Verdict:")
    for s in report["verdict"]["sentences"]:
        lines.append(f"  {s}")
    for c in report["verdict"]["caveats"]:
        lines.append(f"  Caveat: {c}")
    lines += [f"  Note: {n}" for n in _safety(report)]
    lines.append("")
    lines.append(
        f"Plan: primary outcome {t['primary']}, {t['plan']['alternative']}, alpha {t['plan']['alpha']:g}, "
        f"correction {t['plan']['correction']}; {t['scheme_note']}."
    )
    r = t["randomization"]
    lines.append(
        "Randomization test: "
        + (
            f"exact over {r['assignments']} allocations"
            if r["exact"]
            else f"Monte Carlo, {r['draws']} draws of {r['assignments']} allocations"
        )
    )
    lines.append("")
    header = f"{'outcome':<24} {'contrast':<22} {'n':>7} {'effect':>7} {'95% CI':>17} {'p':>8} {'p adj':>8}"
    lines.append(header)
    for row in contrast_rows(report):
        lines.append(
            f"{row['outcome']:<24} {row['contrast']:<22} {row['n']:>7} {row['estimate']:>7} "
            f"{row['ci95']:>17} {row['p']:>8} {row['p_adj']:>8}"
        )
    lines += [f"  {x}" for x in missing_reasons(report)]
    lines.append("")
    bl = report["blinding"]
    lines.append(f"Blinding ({bl['level']}, {count(bl['n_periods'], 'period')}):")
    arms = bl["arms"]
    lines.append("  guess \\ actual  " + " ".join(f"{a:>10}" for a in arms))
    for g, counts in bl["table"].items():
        lines.append(f"  {g:<15} " + " ".join(f"{counts.get(a, 0):>10}" for a in arms))
    if bl.get("james"):
        lines.append(
            f"  James' BI {f(bl['james']['bi'], 3)} (0.5 = random guessing, 1 = fully blinded)"
        )
    if bl.get("bang"):
        lines.append(
            "  Bang's BI "
            + ", ".join(f"{a} {f(v['bi'], 3)}" for a, v in bl["bang"].items())
            + " (0 = random guessing, 1 = all correct, -1 = all wrong)"
        )
    lines.append(f"  {BLIND_P}: {blind_p(bl)}")
    a = report["adherence"]
    lines.append("")
    lines.append(
        f"Adherence: {a['checked_in']} of {count(a['scheduled'], 'day')} checked in, "
        f"{a['missed']} missed"
        + (f" ({a['imported_only']} with imported values)" if a.get("imported_only") else "")
        + ", "
        f"{count(a['not_taken'], 'container')} not taken, "
        f"{count(a['codebreaks'], 'code-break')}."
    )
    if t.get("commitment"):
        # "commitment_verified" is set only by the command rendering this report, after it
        # hashed the revealed allocation again; a stored report never carries it.
        check = t.get("published_commitment_checked")
        state = (
            {
                True: "matches the published value",
                False: "MISMATCH",
                None: "matches the value recorded at init",
            }[check]
            if t.get("commitment_verified") is True
            else "not checked when this report was rendered (run blindself verify)"
        )
        lines.append(f"Commitment {t['commitment'][:16]}...: {state}.")
    lines += import_lines(t)
    lines += interruption_lines(t)
    return "\n".join(lines) + "\n"


def import_lines(t: Mapping[str, Any]) -> list[str]:
    """Where imported outcome values came from, one line per outcome and source file."""
    return [
        f"{i['outcome']}: {i['values']} value{'s' if i['values'] != 1 else ''} imported from "
        f"{i['file']} (sha256 {str(i['sha256'])[:16]}...)"
        for i in t.get("imports") or []
    ]


def interruption_lines(t: dict[str, Any]) -> list[str]:
    """The pauses and the lost or damaged containers of a trial, one line each (if any)."""
    out = [
        f"Pause: {p['from']} to {p['to']} ({p['days']} day{'s' if p['days'] != 1 else ''}): "
        f"{p['reason']}"
        for p in t.get("pauses") or []
    ]
    for x in t.get("lost") or []:
        note = f": {x['note']}" if x.get("note") else ""
        out.append(f"Container {x['code']} {x['what']} on {x['date']}{note}")
    return out


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"} | {
    "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " "})  # fmt: skip


def _md(value: Any) -> str:
    """A data-derived string as Markdown text: no HTML, no emphasis, no table cell breaks.

    Reliability fix (F18): a CSV column named ``<img src=x onerror=alert(1)>`` went into the
    .md raw, which viewers that pass inline HTML run; a ``|`` broke the table.
    """
    return str(value).translate(_MD_SPECIAL)


def render_markdown(report: dict[str, Any]) -> str:
    t = report["trial"]
    out = [f"# {_md(t['title'])}", "", f"**Question:** {_md(t['question'])}", "", "## Verdict", ""]
    out += [f"- {_md(s)}" for s in report["verdict"]["sentences"]]
    out += [f"- *Caveat:* {_md(c)}" for c in report["verdict"]["caveats"]]
    out += [f"- *Note:* {_md(n)}" for n in _safety(report)]
    out += ["", "## Results", ""]
    out.append(
        "| outcome | contrast | n | effect | 95 % CI | p (randomization) | p adjusted | AR(1) | P(benefit), Bayesian AR(1) model, prior at 0 | Cliff's delta |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    keys = ("outcome", "contrast", "n", "estimate", "ci95", "p", "p_adj", "ar1", "bayes", "cliff")
    for r in contrast_rows(report):
        out.append("| " + " | ".join(_md(r[k]) for k in keys) + " |")
    out += ["", *map(_md, missing_reasons(report))] if missing_reasons(report) else []
    bl = report["blinding"]
    arms = [_md(a) for a in bl["arms"]]
    out += ["", "## Blinding", "", "| guess \\ actual | " + " | ".join(arms) + " |"]
    out.append("|---|" + "---|" * len(bl["arms"]))
    for g, counts in bl["table"].items():
        out.append(f"| {_md(g)} | " + " | ".join(str(counts.get(a, 0)) for a in bl["arms"]) + " |")
    out.append("")
    out.append(f"{BLIND_P[:1].upper()}{BLIND_P[1:]}: {_md(blind_p(bl))}.")
    a = report["adherence"]
    out += [
        "",
        "## Adherence",
        "",
        f"{a['checked_in']} of {count(a['scheduled'], 'day')} checked in; {a['missed']} missed; "
        f"{count(a['not_taken'], 'container')} not taken; {count(a['codebreaks'], 'code-break')}.",
        "",
    ]
    out += [*map(_md, import_lines(t)), ""] if import_lines(t) else []
    extra = interruption_lines(t)
    out += [*(f"- {_md(line)}" for line in extra), ""] if extra else []
    return "\n".join(out)


def _safety(report: Mapping[str, Any]) -> list[str]:
    """With questionnaires: no medical advice, and once the severe-band sentence
    (docs/design.md#instruments); nothing for a report of single ratings."""
    from blindself.report.instruments import safety_view

    said = safety_view(report.get("outcomes") or [])
    if said is None:
        return []
    return [said["no_advice"], *([said["severe"]] if said["severe"] else [])]
