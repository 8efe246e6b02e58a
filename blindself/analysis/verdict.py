"""Plain-language verdict sentences from report.json figures.

Keeps apart the three questions a self-experimenter asks: did the substance beat placebo
(randomized, blinded), did taking a capsule beat nothing (placebo response), and did the
blind hold.  Reads only the report document.
"""

from __future__ import annotations

from typing import Any

from blindself.wording import count


def chance(x: float) -> str:
    """A posterior probability as a percentage that never rounds to a certainty the model
    does not give (adv3 F11): 0.99956 is ">99.9 %", not "100 %"; near 0 or 1 one decimal."""
    if x > 0.999:
        return ">99.9 %"
    if x < 0.001:
        return "<0.1 %"
    return f"{100 * x:.1f} %" if x < 0.005 or x >= 0.995 else f"{100 * x:.0f} %"


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """The verdict block of report.json: ``text``, ``sentences``, ``findings``, ``caveats``."""
    trial = report["trial"]
    alpha = trial["plan"]["alpha"]
    primary = next(o for o in report["outcomes"] if o["primary"])
    sentences: list[str] = []
    caveats: list[str] = []
    findings: list[str] = []
    from_csv = trial.get("source") == "csv"
    planned = "" if from_csv else "pre-registered "
    trend = primary.get("dose_trend")
    trend_first = trial["plan"].get("primary_test") == "dose-trend"
    if trend_first:
        _trend_primary_sentence(primary, trend, alpha, planned, sentences, findings)
    for c in primary["contrasts"]:
        # With a trend as the primary test, each dose's own contrast is secondary.
        _drug_sentence(
            primary, c, alpha, planned, sentences, [] if trend_first else findings, caveats
        )
    if not primary["contrasts"]:
        sentences.append("No active arm was compared with placebo.")
        findings.append("insufficient")
    if not trend_first and trend and trend.get("estimate") is not None:
        sentences.append(
            f"Dose trend (secondary): {primary['name']} changed by {trend['estimate']:+.3g} "
            f"{trend['estimate_unit']} across placebo and the doses "
            f"(randomization p = {trend['p_randomization']:.3g})."
        )
    # the sensitivity analysis of each drug effect follows it; the blinding sentence stays last
    for c in primary["contrasts"]:
        _cgrc_sentence(primary, c, sentences, caveats)
    _placebo_sentence(primary, sentences, caveats)
    _blinding_sentence(report["blinding"], sentences, caveats)
    adh = report["adherence"]
    if adh.get("missed"):
        caveats.append(f"{_count(adh['missed'], 'scheduled day')} without a check-in.")
    if adh.get("not_taken"):
        one = adh["not_taken"] == 1
        caveats.append(
            f"{_count(adh['not_taken'], 'dose day')} without the capsule taken "
            + (
                "is analysed under the arm of its period"
                if one
                else "are analysed under the arm of their periods"
            )
            + " (intention to treat)."
        )
    if adh.get("codebreaks") or adh.get("codebroken_days"):
        caveats.append("Code-broken containers are excluded from the analysis.")
    if adh.get("excluded_days"):
        why = ", ".join(f"{n} {reason}" for reason, n in adh["excluded_days"].items())
        lost = (
            # a lost container is no mix-up: say what it was (docs/design.md#lost-containers)
            "; on lost-container days it was lost or damaged and not replaced"
            if "lost-container" in adh["excluded_days"]
            else ""
        )
        caveats.append(
            f"Days outside the randomized comparison are excluded ({why}): their container "
            f"was from another bag or block, a second one in the period, or none was opened{lost}."
        )
    if trial.get("early"):
        caveats.append(f"Unblinded early ({trial.get('early_reason')}).")
    if from_csv and trial.get("scheme", {}).get("kind") == "complete":
        caveats.append(
            trial.get("scheme_note")
            or "the scheme is taken as complete randomization of days (no block column)"
        )
    return {
        "text": " ".join(sentences),
        "findings": findings,
        "sentences": sentences,
        "caveats": list(dict.fromkeys(caveats)),
    }


def _trend_primary_sentence(
    primary: dict[str, Any],
    trend: dict[str, Any] | None,
    alpha: float,
    planned: str,
    sentences: list[str],
    findings: list[str],
) -> None:
    if not trend or trend.get("estimate") is None or trend.get("p_randomization") is None:
        sentences.append("Not enough data for the pre-registered dose trend test.")
        findings.append("insufficient")
        return
    est, p = trend["estimate"], trend["p_randomization"]
    better = (est > 0) == (primary["better"] == "higher") and est != 0
    head = (
        f"Dose trend ({planned}primary test, randomized, blinded): {primary['name']} changed by "
        f"{est:+.3g} {trend['estimate_unit']} from placebo through the doses; p = {p:.3g}"
    )
    if p <= alpha:
        findings.append("benefit" if better else "harm")
        sentences.append(f"{head}, below the {planned}alpha of {alpha:g}.")
    else:
        findings.append("no clear effect")
        sentences.append(f"{head}: no clear dose trend in this trial (not proof of none).")


def _drug_sentence(
    primary: dict[str, Any],
    c: dict[str, Any],
    alpha: float,
    planned: str,
    sentences: list[str],
    findings: list[str],
    caveats: list[str],
) -> None:
    est, p, ci = c["estimate"], c["p_adjusted"], c["ci95"]
    if est is None or p is None:
        sentences.append(f"Not enough data to compare {c['active']} with {c['placebo']}.")
        findings.append("insufficient")
        return
    better = (est > 0) == (primary["better"] == "higher") and est != 0
    direction = "better" if better else "worse"
    ci_text = f" (95 % interval {ci[0]:+.2f} to {ci[1]:+.2f})" if ci and None not in ci else ""
    adjusted = " (Holm-adjusted over the active arms)" if c.get("correction") == "holm" else ""
    head = (
        f"Drug vs placebo (randomized, blinded): on {primary['name']}, {c['active']} was "
        f"{abs(est):.2f} points {direction} than {c['placebo']}{ci_text}; p = {p:.3g}{adjusted}"
    )
    if p <= alpha:
        findings.append("benefit" if better else "harm")
        sentences.append(f"{head}, below the {planned}alpha of {alpha:g}.")
    else:
        findings.append("no clear effect")
        sentences.append(
            f"{head}: no clear difference from placebo in this trial "
            "(which is not proof of no effect)."
        )
    mcid = primary.get("mcid")
    b = c.get("bayes")
    if mcid and b and b.get("p_above_mcid") is not None:
        # The probability comes from another model (AR(1) errors, a trend when the plan has one,
        # and the "weak" effect prior centred on 0 of stats.bayes), so its estimate is named
        # beside it: it differs from the one above, and may even differ in sign.
        mean = b.get("mean")
        model = "Bayesian AR(1) model with a prior centred on 0" + (
            f", estimate {mean:+.2f}" if mean is not None else ""
        )
        sentences.append(
            f"Probability the benefit exceeds your smallest worthwhile change "
            f"({_count(mcid, 'point')}): {chance(b['p_above_mcid'])} ({model})."
        )
    r = c.get("randomization") or {}
    if r.get("p_min") is not None:
        # Holm over k active arms multiplies the smallest p by k
        k = c.get("family_size", 1) if c.get("correction") == "holm" else 1
        floor = min(1.0, r["p_min"] * max(k, 1))
        if floor > alpha:
            caveats.append(
                f"This design cannot reach p <= {alpha:g} (the smallest possible p is "
                f"{floor:.3g}): no result could count as significant; it needs more blocks."
            )


def _placebo_sentence(primary: dict[str, Any], sentences: list[str], caveats: list[str]) -> None:
    pr = primary.get("placebo_response")
    if not pr or pr.get("estimate") is None:
        return
    kind = "randomized" if pr["randomized"] else "compared with the run-in, not randomized"
    p = pr.get("p_randomization", pr.get("p"))
    p_text = f" (p = {p:.3g})" if p is not None else ""
    sentences.append(
        f"Placebo vs nothing ({kind}): taking a placebo capsule went with "
        f"{pr['estimate']:+.2f} points on {primary['name']}{p_text}."
    )
    if not pr["randomized"]:
        caveats.append(
            "The placebo response is measured against the baseline run-in, which came first: "
            "novelty, season and regression to the mean are mixed into it."
        )


def _blinding_sentence(bl: dict[str, Any], sentences: list[str], caveats: list[str]) -> None:
    state, sentence = blinding_judgement(bl)
    sentences.append(sentence)
    if state == "failed":
        caveats.append(
            "Guesses beat chance: treat the drug effect as possibly inflated by expectation."
        )


def blinding_judgement(bl: dict[str, Any]) -> tuple[str, str]:
    """``(state, sentence)`` on the blind; state is held, failed, unclear, untestable or none.

    "Held" needs positive evidence, not just a large p (absence of evidence is not evidence
    of blinding): the guesses are no better than chance (p > 0.05), James' index has its
    whole 95 % interval above 0.5 (0.5 = random guessing, 0 = all unblinded; James et al.
    1996) and every arm's Bang's index is compatible with 0 (its one-sided 95 % limit on the
    side of zero does not pass it; Bang et al. 2004).  "Failed" when the randomization test
    (p <= 0.05) or James' whole interval (below 0.5) shows right guesses beyond chance,
    e.g. 8 of 9 right (p = 0.0625) is failed, never held.  A design whose smallest possible
    p exceeds 0.05 cannot tell either way, and says so.
    """
    table = bl.get("table") or {}
    arms = list(bl.get("arms") or [])
    right = sum(int((table.get(a) or {}).get(a, 0)) for a in arms)
    definite = sum(int((table.get(g) or {}).get(a, 0)) for g in arms for a in arms)
    unsure = sum((table.get("unsure") or {}).values())
    p_b = bl.get("p_randomization")
    if p_b is None or definite == 0:
        if unsure:
            return "untestable", (
                "Blinding could not be tested: "
                + (f"all {unsure} guesses were" if unsure != 1 else "the only guess was")
                + " 'unsure' "
                "(which itself suggests the blind held)."
            )
        return "none", "Blinding was not assessed: no guesses were recorded."
    shown = f"You guessed {right} of {count(definite, 'period')} right" + (
        f" ({unsure} more answered 'unsure')" if unsure else ""
    )
    james = bl.get("james") or {}
    j_ci = james.get("ci95") or [None, None]
    bang = [b for b in (bl.get("bang") or {}).values() if b and b.get("bi") is not None]
    bang_zero = all(_bang_includes_zero(b) for b in bang)
    james_below = j_ci[1] is not None and j_ci[1] < 0.5
    james_above = j_ci[0] is not None and j_ci[0] > 0.5
    p_min = (bl.get("randomization") or {}).get("p_min")
    if p_min is not None and p_min > 0.05:
        return "untestable", (
            f"{shown}: too few periods to tell whether the blind held ({bl.get('n_periods', 0)} "
            f"guessed periods; even perfect guessing could not reach p <= 0.05, the smallest "
            f"possible p is {p_min:.3g})."
        )
    if p_b <= 0.05 or james_below:
        why = [f"p = {p_b:.3g}"]
        if james_below:
            why.append(f"James' index {james['bi']:.2f}, 95 % interval below 0.5")
        return "failed", (
            f"{shown}: the blind probably failed ({'; '.join(why)}); the drug-vs-placebo "
            "contrast may carry expectation."
        )
    if james_above and bang_zero:
        return "held", (
            f"{shown}: the blind held (guesses no better than chance, p = {p_b:.3g}; James' "
            f"index {james['bi']:.2f}, 95 % interval above 0.5; Bang's index compatible with 0 "
            "for every arm)."
        )
    why = [f"p = {p_b:.3g}"]
    if james.get("bi") is not None and j_ci[0] is None:
        why.append(f"James' index {james['bi']:.2f}, no interval on so few guesses")
    elif james.get("bi") is not None and not james_above:
        why.append(f"James' index {james['bi']:.2f}, 95 % interval reaching 0.5 or below")
    leaky = [a for a, b in (bl.get("bang") or {}).items() if b and _bang_above_zero(b)]
    if leaky:
        why.append(f"Bang's index above 0 on {', '.join(leaky)}")
    return "unclear", (
        f"{shown}: not clearly better than chance, but the guesses cannot show that the "
        f"blind held ({'; '.join(why)})."
    )


def _bang_above_zero(b: dict[str, Any]) -> bool:
    """Right guesses beyond chance on one arm: the one-sided 95 % limit is above 0."""
    return b.get("bi") is not None and b["bi"] > 0 and b["limit95"] > 0


def _bang_includes_zero(b: dict[str, Any]) -> bool:
    """Whether the one-sided 95 % interval of one arm's Bang's index contains 0."""
    bi, limit = b["bi"], b["limit95"]
    return bool(bi == 0 or (bi > 0 and limit <= 0) or (bi < 0 and limit >= 0))


def _cgrc_sentence(
    primary: dict[str, Any], c: dict[str, Any], sentences: list[str], caveats: list[str]
) -> None:
    """The exploratory blinding-corrected estimate (Correct Guess Rate Curve at 50 %)."""
    g = c.get("cgrc")
    if not g or g.get("observed_cgr") is None:
        return
    head = "Sensitivity analysis (exploratory, not randomized): "
    if g.get("estimate") is None:
        sentences.append(
            f"{head}the effect under a perfect blind cannot be estimated ({g['reason']})."
        )
        return
    ci = g.get("ci95")
    ci_text = (
        f" (95 % interval {ci[0]:+.2f} to {ci[1]:+.2f})" if ci else f" (no interval: {g['reason']})"
    )
    sentences.append(
        f"{head}had you guessed right only half the time (you were right "
        f"{100 * g['observed_cgr']:.0f} % of the time), the estimated effect of {c['active']} "
        f"on {primary['name']} would be {g['estimate']:+.2f} points{ci_text}. It re-weights "
        "your days by arm and guess; the guess comes after randomization, so it rests on "
        "its assumptions."
    )
    if g.get("small_strata"):
        caveats.append(
            f"The blinding-corrected estimate rests on fewer than {g['min_stratum']} periods "
            "in some arm x guess group: treat it as rough."
        )


def _count(n: float, noun: str) -> str:
    """'1 point', '2 points', '0.5 points'."""
    return f"{n:g} {noun}" if n == 1 else f"{n:g} {noun}s"
