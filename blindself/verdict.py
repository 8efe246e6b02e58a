"""Plain-language verdict sentences from report.json figures.

Keeps apart the three questions a self-experimenter asks: did the substance beat placebo
(randomized, blinded), did taking a capsule beat nothing (placebo response), and did the
blind hold.  Reads only the report document.
"""

from __future__ import annotations

from typing import Any


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    trial = report["trial"]
    alpha = trial["plan"]["alpha"]
    primary = next(o for o in report["outcomes"] if o["primary"])
    sentences: list[str] = []
    caveats: list[str] = []
    findings = []
    for c in primary["contrasts"]:
        est, p, ci = c["estimate"], c["p_adjusted"], c["ci95"]
        if est is None or p is None:
            sentences.append(f"Not enough data to compare {c['active']} with {c['placebo']}.")
            findings.append("insufficient")
            continue
        better = (est > 0) == (primary["better"] == "higher") and est != 0
        direction = "better" if better else "worse"
        ci_text = f" (95 % interval {ci[0]:+.2f} to {ci[1]:+.2f})" if ci and None not in ci else ""
        if p <= alpha:
            findings.append("benefit" if better else "harm")
            sentences.append(
                f"Drug vs placebo (randomized, blinded): on {primary['name']}, {c['active']} was "
                f"{abs(est):.2f} points {direction} than {c['placebo']}{ci_text}; "
                f"p = {p:.3g}, below the pre-registered alpha of {alpha:g}."
            )
        else:
            findings.append("no clear effect")
            sentences.append(
                f"Drug vs placebo (randomized, blinded): on {primary['name']}, {c['active']} was "
                f"{abs(est):.2f} points {direction} than {c['placebo']}{ci_text}; p = {p:.3g}: "
                "no clear difference from placebo in this trial (which is not proof of no effect)."
            )
        mcid = primary.get("mcid")
        b = c.get("bayes")
        if mcid and b and b.get("p_above_mcid") is not None:
            sentences.append(
                f"Probability the benefit exceeds your smallest worthwhile change ({mcid:g} "
                f"points): {100 * b['p_above_mcid']:.0f} %."
            )
        if not c["randomization"]["reaches_alpha"]:
            caveats.append(
                f"This design cannot reach p <= {alpha:g} (smallest possible p "
                f"{c['randomization']['p_min']:.3g}); it needs more blocks."
            )
    pr = primary.get("placebo_response")
    if pr and pr.get("estimate") is not None:
        kind = "randomized" if pr["randomized"] else "compared with the run-in, not randomized"
        sentences.append(
            f"Placebo vs nothing ({kind}): taking a placebo capsule went with "
            f"{pr['estimate']:+.2f} points on {primary['name']}."
        )
        if not pr["randomized"]:
            caveats.append(
                "The placebo response is measured against the baseline run-in, which came first: "
                "novelty, season and regression to the mean are mixed into it."
            )
    bl = report["blinding"]
    if bl.get("p_randomization") is not None:
        p_b = bl["p_randomization"]
        if p_b <= 0.05:
            sentences.append(
                f"The blind may have leaked: you guessed the arm more often than chance (p = {p_b:.3g}); "
                "part of any difference may be expectation."
            )
            caveats.append(
                "Guesses beat chance: treat the drug effect as possibly inflated by expectation."
            )
        else:
            sentences.append(
                f"The blind held: your guesses were no better than chance (p = {p_b:.3g})."
            )
    adh = report["adherence"]
    if adh.get("missed"):
        caveats.append(f"{adh['missed']} scheduled days have no check-in.")
    if adh.get("codebreaks"):
        caveats.append("Code-broken containers are excluded from the analysis.")
    if trial.get("early"):
        caveats.append(f"Unblinded early ({trial.get('early_reason')}).")
    if trial.get("source") == "csv" and trial.get("scheme", {}).get("kind") == "complete":
        caveats.append(trial.get("scheme_note", ""))
    return {
        "text": " ".join(sentences),
        "findings": findings,
        "sentences": sentences,
        "caveats": caveats,
    }
