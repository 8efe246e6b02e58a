"""Numbers in the shipped templates are computed, not typed (issue 11 item 9).

Each template states its power on comment lines of one format the test parses::

    # power: [outcome=NAME [schedule=S ]][blocks=N ]effect=E sd=S rho=R sims=K seed=Z -> P (MC SE SE)

A line naming an outcome is ``blindself power --outcome NAME`` (a questionnaire on its own
schedule); with ``schedule=`` it is that outcome asked on another schedule (the alternative the
template weighed), with ``blocks=`` the design at another size
(docs/design.md#questionnaire-schedules-in-the-templates).

Two checks per line, both through ``blindself power``:

* the stated seed and number of simulations reproduce P exactly (to its printed digits), so
  an edited design, a changed simulator or a hand-typed figure fails;
* an independent seed with a few hundred simulations agrees with P within 3 combined Monte
  Carlo SEs, so the figure is not a lucky seed and its stated SE is honest.

Stale figures this caught: weekly-crossover said 0.52 and "13 blocks give 0.8" (0.480 and
0.756); microdosing-resilience said 0.46 (0.437).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from helpers import Invoke

PROTOCOLS = Path(__file__).parent.parent / "protocols"
TEMPLATES = sorted(PROTOCOLS.glob("*.toml"))
CLAIM = re.compile(
    r"^# power: (?P<args>(?:\w+=\S+ )+)-> (?P<power>[01]\.\d+) \(MC SE (?P<se>0\.\d+)\)$"
)
INDEPENDENT_SIMS = 400
INDEPENDENT_SEED = 20261207


def claims(path: Path) -> list[dict[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        m = CLAIM.match(line)
        if m:
            args = dict(kv.split("=", 1) for kv in m["args"].split())
            out.append({**args, "power": m["power"], "se": m["se"]})
    return out


ALL = [(p, c) for p in TEMPLATES for c in claims(p)]
IDS = [
    "-".join([p.stem, *(c[k] for k in ("outcome", "schedule", "blocks") if k in c)]) for p, c in ALL
]


def run_power(
    invoke: Invoke, tmp_path: Path, path: Path, claim: dict[str, str], **over: str
) -> dict:  # type: ignore[type-arg]
    text = path.read_text()
    if "blocks" in claim:
        text, n = re.subn(r"(?m)^blocks = \d+$", f"blocks = {claim['blocks']}", text)
        assert n == 1, f"{path.name}: no single design.blocks line to change"
    if "schedule" in claim:
        text = with_schedule(text, claim["outcome"], claim["schedule"])
    if text != path.read_text():
        path = tmp_path / path.name
        path.write_text(text)
    args = {k: claim[k] for k in ("outcome", "effect", "sd", "rho", "sims", "seed") if k in claim}
    args |= over
    r = invoke(["power", str(path), *[x for k, v in args.items() for x in (f"--{k}", v)], "--json"])
    assert r.exit_code == 0, r.output
    out: dict = json.loads(r.stdout)  # type: ignore[type-arg]
    return out


def with_schedule(text: str, outcome: str, schedule: str) -> str:
    """The protocol text with ``outcome``'s schedule line set to ``schedule``."""
    blocks = text.split("[[outcomes]]")
    named = [i for i, b in enumerate(blocks) if re.search(rf'(?m)^name = "{outcome}"$', b)]
    assert len(named) == 1, f"no single [[outcomes]] named {outcome}"
    block, n = re.subn(
        r'(?m)^schedule = "[^"]*"$', f'schedule = "{schedule}"', blocks[named[0]], count=2
    )
    assert n == 1, f"outcome {outcome}: no single schedule line to change"
    blocks[named[0]] = block
    return "[[outcomes]]".join(blocks)


def test_every_template_states_its_power_in_the_checked_format() -> None:
    for path in TEMPLATES:
        text = path.read_text()
        assert claims(path), f"{path.name} states no '# power:' line"
        for line in text.splitlines():
            # a figure in the old free-text format would escape the check
            if "Monte Carlo SE" in line or "MC SE" in line:
                assert CLAIM.match(line), f"{path.name}: unchecked power figure: {line}"
        for n in re.findall(r"about (\d+) (?:blocks|pairs) give 0\.8", text.replace("\n# ", " ")):
            at = [c for c in claims(path) if c.get("blocks") == n]
            assert at, f"{path.name}: 'about {n} ... give 0.8' has no power: line for blocks={n}"
            p, se = float(at[0]["power"]), float(at[0]["se"])
            assert p >= 0.8 - 3 * se, f"{path.name}: {n} blocks give {p}, not 0.8"


def test_every_questionnaire_in_a_template_states_its_power_on_its_own_schedule() -> None:
    """A questionnaire's schedule is a design choice; its power is stated beside it, on the
    schedule the template uses (a line without ``schedule=``)."""
    from blindself.protocol.loading import load_protocol

    for path in TEMPLATES:
        stated = {c["outcome"] for c in claims(path) if "outcome" in c and "schedule" not in c}
        for o in load_protocol(path).instruments:
            assert o.name in stated, f"{path.name}: no '# power: outcome={o.name} ...' line"


@pytest.mark.slow
@pytest.mark.parametrize("path, claim", ALL, ids=IDS)
def test_stated_power_reproduces_from_its_seed(
    invoke: Invoke, tmp_path: Path, path: Path, claim: dict[str, str]
) -> None:
    got = run_power(invoke, tmp_path, path, claim)
    digits = len(claim["power"].split(".")[1])
    assert f"{got['power']:.{digits}f}" == claim["power"], (path.name, claim, got["power"])
    assert f"{got['mc_se']:.3f}" == claim["se"]


@pytest.mark.parametrize("path, claim", ALL, ids=IDS)
def test_stated_power_agrees_with_an_independent_simulation(
    invoke: Invoke, tmp_path: Path, path: Path, claim: dict[str, str]
) -> None:
    got = run_power(
        invoke,
        tmp_path,
        path,
        claim,
        sims=str(INDEPENDENT_SIMS),
        seed=str(INDEPENDENT_SEED),
    )
    stated = float(claim["power"])
    tolerance = 3 * math.hypot(float(claim["se"]), got["mc_se"])
    assert abs(got["power"] - stated) <= tolerance, (path.name, claim, got["power"], tolerance)
