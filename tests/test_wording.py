"""Counted nouns (issue 16): "1 containers", "1 dose day(s)", "on 2 day(s)" are gone.

``blindself.wording`` has its doctests; these check the places a count meets a noun, with a
count of one, and that no "(s)" is left in any user-facing string.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, at, make_context, with_clock

from blindself.services.demo import _effect_words, _known
from blindself.services.planning import plan_protocol
from blindself.wording import count, counted

PACKAGE = Path(__file__).parent.parent / "blindself"
ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
ONE_BLOCK = SMALL_PROTOCOL.format(blinding="helper").replace("blocks = 4", "blocks = 1")


def test_count_and_counted() -> None:
    assert [count(n, "container") for n in (0, 1, 2)] == [
        "0 containers",
        "1 container",
        "2 containers",
    ]
    assert count(1, "entry", "entries") == "1 entry" and count(3, "entry", "entries") == (
        "3 entries"
    )
    assert counted("1", "day") == "1 day" and counted("-", "day") == "- days"


def test_no_string_in_the_package_writes_a_plural_in_parentheses() -> None:
    bad = []
    for path in [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.j2")]:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            tokens = tokenize.generate_tokens(io.StringIO(text).readline)
            strings = [t.string for t in tokens if t.type in (tokenize.STRING, 61, 62)]
        else:
            strings = [text]
        bad += [
            f"{path.name}: {s.strip()[:60]}"
            for s in strings
            if re.search(r"[a-z]\(s\)(?=[\s.,;:)!?]|$)", s)
        ]
    assert bad == []


def test_a_one_block_plan_says_container_and_capsule(tmp_path: Path) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(ONE_BLOCK)
    text = plan_protocol(protocol, START, make_context()).text()
    assert "  active         1 container,    1 capsule" in text
    assert "2 containers of 1 dose day," in text
    assert not re.search(r"\b1 (containers|capsules|days|dose days)\b", text)


def test_init_status_verify_and_the_preregistration_count_one(
    tmp_path: Path, invoke: Invoke
) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(ONE_BLOCK)
    trial = tmp_path / "t"
    ctx = make_context()
    r = invoke(
        ["init", str(protocol), str(trial), "--start", START.isoformat(), "--no-sheet"],
        ctx,
        env=ENV,
    )
    assert r.exit_code == 0, r.output
    assert "; 2 containers" in r.stdout
    prereg = (trial / "preregistration.md").read_text()
    assert "1 dose day per container" in prereg and "day(s)" not in prereg
    r = invoke(["status", "--trial", str(trial)], with_clock(ctx, at(START)))
    assert "of 1 day due" in r.stdout
    r = invoke(["verify", "--trial", str(trial)], ctx)
    assert "log: 1 entry, hash chain intact" in r.stdout


def test_a_one_day_stop_rule_says_on_1_day(tmp_path: Path, invoke: Invoke) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper")
        + '\n[[stop_rules]]\noutcome = "anxiety"\nthreshold = 9\ndays = 1\n'
    )
    trial = tmp_path / "t"
    ctx = make_context()
    args = ["init", str(protocol), str(trial), "--start", START.isoformat(), "--no-sheet"]
    assert invoke(args, ctx, env=ENV).exit_code == 0
    r = invoke(
        ["checkin", "--trial", str(trial), "--rate", "mood=3", "--rate", "anxiety=9"],
        with_clock(ctx, at(START)),
    )
    assert r.exit_code == 0, r.output
    assert "STOP RULE MET: anxiety reached 9 on 1 day. " in r.stderr


def test_the_demo_states_its_known_effect_beside_what_it_found() -> None:
    """The demo said its simulated person had "a known effect" but never which, nor next to
    the trial's estimate (issue 16)."""
    report = {
        "outcomes": [
            {"primary": False, "contrasts": []},
            {
                "primary": True,
                "contrasts": [{"estimate": 0.8125, "ci95": [-0.17, 1.8], "p_adjusted": 0.1265}],
            },
        ]
    }
    assert _known(1.0, "mood", report) == (
        "Known effect of this simulated person: +1 point on mood on active dose days; the "
        "trial found +0.81 points on mood (95 % interval -0.17 to +1.80), p = 0.127.\n"
    )
    empty = {"outcomes": [{"primary": True, "contrasts": []}]}
    assert "the trial found no estimate (not enough data)" in _known(2.5, "mood", empty)
    from blindself.protocol.loading import load_protocol

    micro = load_protocol(
        Path(__file__).parent.parent / "protocols" / "microdosing-resilience.toml"
    )
    assert _effect_words(1.0, micro) == (
        "+1 point on mood on active dose days (+0.33 the day after, half as much on the other "
        "outcomes)"
    )
