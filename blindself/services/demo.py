"""``blindself demo``: a complete simulated trial, start to report.

A simulated person runs the shipped microdosing protocol: a known drug effect on mood,
day-to-day autocorrelated noise, a little expectation (guesses slightly better than chance
when the effect is felt), and a few missed days.  The demo plays both roles: it reads the
preparation sheet as the preparer would, then checks in as the participant, through the
same services the commands use.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from blindself.errors import DataError
from blindself.protocol.loading import Protocol, parse_protocol
from blindself.protocol.model import Outcome
from blindself.services.context import Context
from blindself.services.daily import record_checkin
from blindself.services.setup import init_trial
from blindself.services.unblinding import unblind_trial
from blindself.trial.checkins import CheckinRequest
from blindself.trial.questionnaires import due_instruments
from blindself.trial.schedule import build_calendar
from blindself.wording import count, noun

DEMO_TEMPLATE = "microdosing-resilience.toml"


@dataclass(frozen=True)
class DemoResult:
    """``known`` says the simulated effect next to what the trial found (issue 16)."""

    directory: Path
    summary: str
    report_html: Path
    known: str = ""


def run_demo(
    directory: Path,
    ctx: Context,
    *,
    effect: float = 1.0,
    echo: Callable[[str], None] = lambda _s: None,
    seed: int | None = None,
) -> DemoResult:
    """Create, run and unblind a simulated trial in ``directory``."""
    import numpy as np

    if not math.isfinite(effect):
        # Checked before anything is written: NaN or infinity failed half-way (F13).
        raise DataError("--effect must be a finite number of rating points")

    rng = np.random.default_rng(seed)
    raw = resources.files("blindself.protocols").joinpath(DEMO_TEMPLATE).read_bytes()
    protocol = parse_protocol(raw, DEMO_TEMPLATE)
    today = ctx.now().date()
    n_days = len(build_calendar(protocol, today).days)
    start = today - timedelta(days=n_days + 1)
    work = Path(tempfile.mkdtemp(prefix="blindself-demo-"))
    try:
        protocol_path = work / "protocol.toml"
        protocol_path.write_bytes(raw)
        sheet = work / "sheet.json"
        passphrase = "demo passphrase, not a secret"  # noqa: S105 - a simulated trial
        echo(f"1. init: drawing and sealing a {protocol.title!r} trial from {start}")
        init = init_trial(
            protocol_path,
            directory,
            passphrase=passphrase,
            ctx=ctx,
            start=start,
            sheets=(sheet,),
        )
        echo(f"   commitment {init.commitment}")
        prep = json.loads(sheet.read_text())
        arm_of = prep["codes"]
        bags: dict[int, list[str]] = {}
        for c in prep["containers"]:
            bags.setdefault(c["block"], []).append(c["code"])
        for codes in bags.values():
            rng.shuffle(codes)  # the physical shuffle of each bag
        echo(
            f"2. check-ins: a simulated person rates "
            f"{count(len(protocol.daily_outcomes), 'outcome')} for {count(n_days, 'day')} and "
            f"answers {count(len(protocol.instruments), 'questionnaire')} when due; the known "
            f"effect: {_effect_words(effect, protocol)}"
        )
        noise = 0.0
        period_code: dict[int, str] = {}
        current_arm: str | None = None
        for day in init.calendar.days:
            noise = 0.5 * noise + rng.normal(0, 1.1)
            if rng.random() < 0.04:
                continue  # a forgotten day
            code = None
            if day.is_dose and day.period is not None and day.block is not None:
                if day.period not in period_code:
                    period_code[day.period] = bags[day.block + 1].pop()
                code = period_code[day.period]
                current_arm = arm_of[code]
            elif day.day_type == "baseline":
                current_arm = None
            lift = 0.0
            if current_arm == "active":
                lift = effect if day.is_dose else effect / 3
            ratings = {}
            for i, o in enumerate(protocol.daily_outcomes):
                lo, hi = o.scale
                sign = 1.0 if o.better == "higher" else -1.0
                centre = 6.0 if o.better == "higher" else 4.0
                value = centre + sign * lift * (1.0 if i == 0 else 0.5) + noise + rng.normal(0, 0.6)
                ratings[o.name] = float(min(hi, max(lo, round(value))))
            guess = confidence = None
            if day.is_dose and code is not None:
                felt = current_arm == "active" and rng.random() < 0.55
                if rng.random() < 0.15:
                    guess = "unsure"
                else:
                    guess = "active" if felt or rng.random() < 0.3 else "placebo"
                    confidence = int(rng.integers(50, 90))
            answers = {
                o.name: _answers(o, lift, noise, rng)
                for o in due_instruments(protocol, init.calendar, day.date)
            }
            when = datetime.combine(day.date, time(20, 0), tzinfo=UTC)
            day_ctx = replace(ctx, clock=_fixed(when))
            record_checkin(
                directory,
                CheckinRequest(
                    date=day.date,
                    code=code,
                    ratings=ratings,
                    guess=guess,
                    confidence=confidence,
                    answers=answers,
                ),
                day_ctx,
            )
        echo("3. unblind: opening the seal, checking the commitment, analysing")
        after = datetime.combine(init.calendar.end + timedelta(days=1), time(12, 0), tzinfo=UTC)
        result = unblind_trial(
            directory, replace(ctx, clock=_fixed(max(after, ctx.now()))), passphrase=passphrase
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return DemoResult(
        directory.absolute(),
        result.summary,
        directory.absolute() / "report" / "report.html",
        _known(effect, protocol.primary.name, result.report),
    )


def _effect_words(effect: float, protocol: Protocol) -> str:
    """What the simulation adds on active days (see the loop in ``run_demo``)."""
    primary = protocol.primary.name
    return (
        f"{effect:+g} {noun(abs(effect), 'point')} on {primary} on active dose days "
        f"({effect / 3:+.2g} the day after, half as much on the other outcomes)"
    )


def _known(effect: float, primary: str, report: dict[str, Any]) -> str:
    """The simulated effect beside the trial's estimate of it."""
    outcome = next(o for o in report["outcomes"] if o["primary"])
    found = "no estimate (not enough data)"
    for c in outcome["contrasts"][:1]:
        est, ci, p = c.get("estimate"), c.get("ci95"), c.get("p_adjusted")
        if est is not None:
            interval = (
                f" (95 % interval {ci[0]:+.2f} to {ci[1]:+.2f})" if ci and None not in ci else ""
            )
            p_text = f", p = {p:.3g}" if p is not None else ""
            found = f"{est:+.2f} {noun(abs(est), 'point')} on {primary}{interval}{p_text}"
    return (
        f"Known effect of this simulated person: {effect:+g} {noun(abs(effect), 'point')} on "
        f"{primary} on active dose days; the trial found {found}.\n"
    )


def _answers(o: Outcome, lift: float, noise: float, rng: Any) -> tuple[str, ...]:
    """A simulated person's answers to a questionnaire: item scores a little better with
    the drug's lift and the day's mood, entered as option values (reversed items mirrored)."""
    instrument = o.instrument
    if instrument is None:  # due_instruments yields questionnaires only
        return ()
    lo, hi = instrument.item_range
    sign = 1.0 if instrument.better == "higher" else -1.0
    centre = (lo + hi) / 2 - sign * 0.5
    out = []
    for item in instrument.items:
        score = centre + sign * (0.4 * lift + 0.3 * noise) + rng.normal(0, 0.5)
        value = int(min(hi, max(lo, round(score))))
        out.append(str(lo + hi - value if item.reversed else value))
    return tuple(out)


def _fixed(when: datetime) -> Callable[[], datetime]:
    return lambda: when
