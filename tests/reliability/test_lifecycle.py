"""Model-based lifecycle test (docs/design.md T-48; issue 11): a fallible person, start to end.

Hypothesis draws a trial (helper and self mode; small synthetic designs and shipped
templates cut down to two blocks) and a day-by-day sequence of the mistakes the CLI
accepts: the right code, a code from the wrong bag or of another day, a swapped pair
then its ``correct --swap``, missed days, ``--no-capsule``, ``--replace`` corrections,
code-breaks and early unblinding.  Whatever happens, ``unblind`` must exit 0 and write
the report, and ``analyze report/data.csv`` must reproduce every estimate and p of the
report, exclusions included.

Profiles: 50 examples in CI (in-process, cheap KDF); ``BLINDSELF_LIFECYCLE_EXAMPLES=1000``
for a long run.  ``BLINDSELF_LIFECYCLE_STATS=FILE`` appends what each example did (JSON
lines), to report how many trials and mistake sequences ran.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, at, make_context, with_clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_texts import THREE_ARMS

from blindself.cli.main import cli
from blindself.errors import BlindselfError
from blindself.services.codebreak import codebreak_code
from blindself.services.corrections import swap_codes
from blindself.services.daily import record_checkin
from blindself.services.interruptions import end_pause, record_lost, record_pause
from blindself.services.setup import init_trial
from blindself.trial.checkins import CheckinRequest
from blindself.trial.folder import open_trial
from blindself.trial.progress import current_checkins
from blindself.trial.schedule import Calendar

ROOT = Path(__file__).resolve().parents[2]
LONG = "BLINDSELF_LIFECYCLE_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("BLINDSELF_LIFECYCLE_EXAMPLES", "50"))
# The CI profile draws the page without its matplotlib figures (about 4 s a report, measured
# in benchmarks/); the long profile draws everything.
FIGURES = ("outcome_figure", "decomposition", "guess_rate_by_week")
STATS = os.environ.get("BLINDSELF_LIFECYCLE_STATS")


COMPLETE = SMALL_PROTOCOL.replace(
    'kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 4',
    'kind = "complete"\ncounts = {{ active = 3, placebo = 3 }}',
)


def shipped(name: str, blinding: str) -> str:
    """A shipped template cut to two blocks and one baseline day, so an example stays fast."""
    text = (ROOT / "protocols" / f"{name}.toml").read_text()
    text = re.sub(r"(?m)^blocks = \d+", "blocks = 2", text)
    text = re.sub(r"(?m)^baseline_days = \d+", "baseline_days = 1", text)
    text = re.sub(r"(?m)^period_days = 7", "period_days = 2", text)
    return re.sub(r'(?m)^blinding = "\w+"', f'blinding = "{blinding}"', text)


DESIGNS = {
    "small-helper": lambda: SMALL_PROTOCOL.format(blinding="helper"),
    "small-self": lambda: SMALL_PROTOCOL.format(blinding="self"),
    "three-arms-self": lambda: THREE_ARMS.format(blinding="self"),
    "three-arms-helper": lambda: THREE_ARMS.format(blinding="helper"),
    "complete-helper": lambda: COMPLETE.format(blinding="helper"),
    "complete-self": lambda: COMPLETE.format(blinding="self"),
    "microdosing-resilience": lambda: shipped("microdosing-resilience", "self"),
    "placebo-response": lambda: shipped("placebo-response", "helper"),
}

ACTIONS = ["right", "right", "right", "other-code", "reused", "no-capsule", "missed", "replace"]


def run_cli(args: list[str], ctx: Any) -> Any:
    return CliRunner().invoke(cli, args, obj=ctx, env={"BLINDSELF_PASSPHRASE": PASSPHRASE})


def codes_in_use(trial_dir: Path) -> dict[str, int]:
    """Code -> 1-based period of every current check-in (the log's invariant)."""
    trial = open_trial(trial_dir, readonly=True)
    try:
        current = current_checkins(trial.store.entries())
        return {
            str(e.payload["code"]): int(e.payload["period"])
            for e in current.values()
            if e.payload.get("code")
        }
    finally:
        trial.close()


def calendar_of(trial_dir: Path) -> Calendar:
    trial = open_trial(trial_dir, readonly=True)
    try:
        return trial.calendar
    finally:
        trial.close()


def live(trial_dir: Path, data: st.DataObject, stats: Counter[str]) -> tuple[Any, Any]:
    """Check in day by day with drawn mistakes; returns the unblinding context and flags."""
    trial = open_trial(trial_dir, readonly=True)
    days = list(trial.calendar.days)
    schedule = trial.schedule
    protocol = trial.protocol
    trial.close()
    early = (
        data.draw(st.booleans().map(lambda b: b and True), label="early")
        and data.draw(st.integers(0, 3), label="early-weight") == 0
    )
    last = len(days) - 1
    # -1: stopped before the first day (F15: nothing to analyse must still make a report).
    stop = data.draw(st.integers(-1, last), label="early-day") if early else last
    # F14: whole bags (self) / whole blocks (helper) taken in another block's slot; each is
    # still a complete randomized block, so the comparison must keep them.
    if schedule.period_code:
        block_of = {d.period: d.block or 0 for d in days if d.period is not None}
        slots = [
            tuple(c for k, c in enumerate(schedule.period_code) if block_of.get(k) == b)
            for b in sorted(set(block_of.values()))
        ]
    else:
        slots = list(schedule.bags)
    n_blocks = len(slots)
    perm = list(range(n_blocks))
    if n_blocks > 1 and data.draw(st.integers(0, 2), label="bag-order") == 0:
        perm = data.draw(st.permutations(range(n_blocks)), label="bags")
        stats["whole-block-swap"] += 1
    guesses = [*protocol.arm_names, "unsure"]
    doses = max(Counter(d.period for d in days if d.is_dose and d.period is not None).values())
    # A careful person (no day-level mistakes) makes the whole-block rule below checkable.
    careful = data.draw(st.integers(0, 2), label="careful") == 0
    choices = ["right", "replace"] if careful else ACTIONS
    # Pauses and lost containers (issue 16): a pause from some day (maybe ended early), a
    # container lost on some dose day, replaced (helper mode: the same code) or not.
    pause_at = data.draw(st.integers(-1, max(last, 0)), label="pause-at")
    pause_days = data.draw(st.integers(1, 2), label="pause-days")
    lost_at = data.draw(st.integers(-1, max(last, 0)), label="lost-at")
    replaced = bool(schedule.period_code) and data.draw(st.booleans(), label="replaced")
    lost: dict[str, int] = {}  # code -> 1-based period of the day it was lost
    # the day an early unblinding happens (a date: pauses move the calendar meanwhile)
    stop_date = (
        (days[0].date - timedelta(days=1) if stop < 0 else days[stop].date) if early else date.max
    )
    n = -1
    when = days[0].date
    cal = calendar_of(trial_dir)  # read again whenever a pause moves it
    while True:
        d = cal.day(when)
        pause = cal.pause_of(when)
        if d is None or when > stop_date:
            break
        n += 1
        ctx = with_clock(make_context(), at(d.date, 21))
        when += timedelta(days=1)
        if pause is not None:
            if pause.start < d.date and data.draw(st.integers(0, 2), label=f"resume{n}") == 0:
                end_pause(trial_dir, d.date, ctx)  # back early: today is a trial day again
                stats["pause-ended"] += 1
                when, cal = d.date, calendar_of(trial_dir)
            continue
        if n == pause_at:
            pause_at = -1
            try:
                record_pause(trial_dir, d.date, pause_days, "ill", ctx)
            except BlindselfError:  # a weekdays: tail with nothing left to move
                stats["refused"] += 1
            else:
                stats["pause"] += 1
                when, cal = d.date, calendar_of(trial_dir)
                continue
        due = protocol.checkin.days == "all" or d.day_type in ("baseline", "dose")
        if not due:
            continue
        if d.is_dose and n >= lost_at >= 0:
            lost_at = -1
            used = codes_in_use(trial_dir)
            period = (d.period or 0) + 1
            mine = [c for c, p in used.items() if p == period]
            spare = [c for c in schedule.codes if c not in used and c not in lost]
            # helper mode: the day's scheduled container (the command's default)
            code = None if schedule.period_code else (mine or spare or [None])[0]
            if code is not None or schedule.period_code:
                got = record_lost(trial_dir, code, d.date, False, "dropped", ctx)
                lost[got.code.replace("-", "")] = period
                stats["lost-replaced" if replaced else "lost"] += 1
                stats["dose-mistake"] += 1
        action = data.draw(st.sampled_from(choices), label=f"day{n}") if d.is_dose else "right"
        if not d.is_dose and data.draw(st.integers(0, 9), label=f"miss{n}") == 0:
            action = "missed"
        stats[action] += 1
        if d.is_dose and action in ("other-code", "reused", "no-capsule", "missed"):
            stats["dose-mistake"] += 1
        if action == "missed":
            continue
        used = codes_in_use(trial_dir)
        must_accept = False
        period = None if d.period is None else d.period + 1
        code: str | None = None
        if d.is_dose and action != "no-capsule":
            mine = [c for c, p in used.items() if p == period]
            if schedule.period_code:
                b = d.block or 0
                right = schedule.period_code[d.period or 0]
                if len(slots[perm[b]]) == len(slots[b]):
                    right = slots[perm[b]][(d.period or 0) - sum(len(x) for x in slots[:b])]
            else:
                bag = slots[perm[d.block or 0]]
                right = (
                    mine[0]
                    if mine
                    else next((c for c in bag if c not in used and c not in lost), None)
                )
            free = [c for c in schedule.codes if c not in used or used[c] == period]
            # F22: a container of several doses already used in another period (opened a
            # period early and used on) is recorded as taken, with a flag.
            reusable = sorted(c for c, p in used.items() if p != period) if doses > 1 else []
            if action == "reused" and reusable:
                code = data.draw(st.sampled_from(reusable), label=f"code{n}")
                must_accept = bool(schedule.period_code) or not mine
                stats["reused"] += 1
            elif action == "other-code" and free:
                code = data.draw(st.sampled_from(sorted(free)), label=f"code{n}")
            else:
                code = (
                    right
                    if right is not None and (right not in used or used[right] == period)
                    else None
                )
            if code in lost and not replaced:
                code = None  # a lost container is not taken again
        mood = data.draw(st.integers(1, 10), label=f"mood{n}")
        ratings = {
            o.name: min(max(mood + i, o.scale[0]), o.scale[1])
            for i, o in enumerate(protocol.outcomes)
        }
        guess = (
            data.draw(st.sampled_from(guesses), label=f"guess{n}")
            if d.is_dose and protocol.checkin.guess
            else None
        )
        conf = None if guess in (None, "unsure") else 70
        if d.is_dose and code is None and guess is not None:
            guess, conf = "unsure", None
        req = CheckinRequest(
            date=d.date, code=code, ratings=ratings, guess=guess, confidence=conf,
            no_capsule=d.is_dose and code is None,
        )  # fmt: skip
        try:
            record_checkin(trial_dir, req, ctx)
        except BlindselfError as exc:
            assert not must_accept, exc
            stats["refused"] += 1
            stats["dose-mistake"] += int(d.is_dose)
            continue
        if action == "replace":
            later = replace(
                req, ratings={k: v for k, v in ratings.items()} | {protocol.outcomes[0].name: protocol.outcomes[0].scale[0]},
                replace=True, reason="typo",
            )  # fmt: skip
            try:
                record_checkin(trial_dir, later, ctx)
                stats["replaced"] += 1
            except BlindselfError:
                stats["refused"] += 1
    end = stop_date if early else cal.end
    end_ctx = with_clock(make_context(), at(end + timedelta(days=0 if early else 1), 22))
    # A swapped pair noticed later, corrected in one step.
    used = codes_in_use(trial_dir)
    if len(used) >= 2 and data.draw(st.integers(0, 2), label="swap") == 0:
        trial = open_trial(trial_dir, readonly=True)
        by_code = {
            str(e.payload["code"]): e.day
            for e in current_checkins(trial.store.entries()).values()
            if e.payload.get("code")
        }
        trial.close()
        a, b = data.draw(
            st.lists(st.sampled_from(sorted(by_code)), min_size=2, max_size=2, unique=True),
            label="pair",
        )
        try:
            from datetime import date as date_

            swap_codes(
                trial_dir,
                date_.fromisoformat(str(by_code[a])),
                date_.fromisoformat(str(by_code[b])),
                "mixed up",
                end_ctx,
                confirmed=True,  # F16: a swap making deviations is confirmed first
            )
            stats["swap"] += 1
        except BlindselfError:
            stats["refused"] += 1
    if data.draw(st.integers(0, 3), label="codebreak") == 0:
        code = data.draw(st.sampled_from(sorted(schedule.codes)), label="broken")
        codebreak_code(trial_dir, code, "side effect", end_ctx, passphrase=PASSPHRASE)
        stats["codebreak"] += 1
    stats["early"] += int(early)
    return end_ctx, early


def numbers(report: dict[str, Any]) -> dict[str, Any]:
    """Every estimate and p of a report (keyed by position), its caveats, arms and counts."""
    out: dict[str, Any] = {
        # F6: the code-breaks, the early unblinding's caveat and the arms as the protocol
        # names them come back from data.csv too.
        "codebreaks": report["adherence"]["codebreaks"],
        "caveats": sorted(report["verdict"]["caveats"]),
        "arms": [(a["name"], a["label"]) for a in report["trial"]["arms"]],
        "codebroken_days": report["adherence"]["codebroken_days"],
        "excluded_days": report["adherence"]["excluded_days"],
        "missed": report["adherence"]["missed"],
    }
    for i, o in enumerate(report["outcomes"]):
        out[f"{i}.n"] = sorted(o["n"].values())
        for j, c in enumerate(o["contrasts"]):
            for key in ("estimate", "p_randomization"):
                out[f"{i}.{j}.{key}"] = c.get(key)
            out[f"{i}.{j}.classical.p"] = (c.get("classical") or {}).get("p")
    return out


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return bool(a == b)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(design=st.sampled_from(sorted(DESIGNS)), alloc=st.integers(0, 2**16), data=st.data())
def test_any_accepted_mistakes_unblind_into_a_reproducible_report(
    design: str, alloc: int, data: st.DataObject
) -> None:
    stats: Counter[str] = Counter({design: 1})
    with ExitStack() as stack:
        if not LONG:
            from blindself.report import plots

            for name in FIGURES:
                stack.enter_context(mock.patch.object(plots, name, lambda *a, **k: "<svg></svg>"))
        lifecycle(design, alloc, data, stats, stack.enter_context(tempfile.TemporaryDirectory()))
    if STATS:
        with open(STATS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(stats) + "\n")


def lifecycle(design: str, alloc: int, data: st.DataObject, stats: Counter[str], tmp: str) -> None:
    if True:
        base = Path(tmp)
        protocol = base / "p.toml"
        protocol.write_text(DESIGNS[design]())
        trial = base / "t"
        init_trial(
            protocol, trial, passphrase=PASSPHRASE, ctx=make_context(alloc_seed=alloc),
            start=START, no_sheet=True,
        )  # fmt: skip
        ctx, early = live(trial, data, stats)
        args = ["unblind", "--trial", str(trial)]
        if early:
            args += ["--early", "--reason", "stopped"]
        r = run_cli(args, ctx)
        assert r.exit_code == 0, r.output
        for name in ("report.html", "report.json", "data.csv"):
            assert (trial / "report" / name).exists()
        report = json.loads((trial / "report" / "report.json").read_text())
        opened = open_trial(trial, readonly=True)
        paused = {d.date.isoformat() for d in opened.calendar.days if d.day_type == "pause"}
        opened.close()
        with (trial / "report" / "data.csv").open(encoding="utf-8") as fh:
            assert not paused & {row["date"] for row in csv.DictReader(fh)}  # never a row
        arms = {a.name: a.kind for a in open_trial(trial, readonly=True).protocol.arms}
        data_csv = str(trial / "report" / "data.csv")
        cmd = ["analyze", data_csv, "--arm-column", "allocation_arm", "--json"]
        for name, kind in arms.items():
            flag = {"active": "--active", "placebo": "--placebo", "none": "--none"}[kind]
            cmd += [flag, name]
        cmd += ["--protocol", str(protocol)]
        again = run_cli(cmd, ctx)
        assert again.exit_code == 0, again.output
        ours, theirs = numbers(report), numbers(json.loads(again.stdout))
        diff = {k: (v, theirs.get(k)) for k, v in ours.items() if not close(v, theirs.get(k))}
        assert not diff, diff
        excluded = report["adherence"]["excluded_days"]
        if not early and not stats["dose-mistake"] and not stats["swap"]:
            # Only whole blocks were moved (F14): every one is still a randomized block.
            assert not {"wrong-bag", "container-of-another-block", "two-containers"} & set(
                excluded
            ), (stats, excluded)
        stats["excluded:" + ",".join(sorted(excluded))] += 1
        # F24: the same trial shared passes every check pool applies (an accepted mistake never
        # reads as an edit), and the bundle leaves out exactly the days the report leaves out
        from blindself.services.pooling import _load_bundle
        from blindself.services.sharing import share_trial

        bundle_path = base / "b.json"
        bundle_path.write_text(json.dumps(share_trial(trial)))
        bundle = _load_bundle(bundle_path)
        left_out = Counter(r["excluded"] for r in bundle["rows"] if r["excluded"] and r["ratings"])
        mixups = {k: v for k, v in left_out.items() if k not in ("codebreak", "after-unblinding")}
        reported = {k: v for k, v in report["adherence"]["excluded_days"].items() if v}
        assert mixups == reported, (left_out, reported)
