"""Planning that guides (issue 16 item 1): power warnings, a reproducible size search,
days and weeks, a default start with time to prepare, stated counts checked.

The issue, as a new user saw it: at 6 blocks `plan` showed "smallest attainable p 0.0312"
and no warning although `power` gave 0.105; "about 36 blocks" was not turned into days
(about 223); two `power` runs of the 16-block design suggested 39 and then 36 blocks; the
template's stale "16 blocks" went unflagged into preregistration.md; `--start` defaulted to
today.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, make_context

from blindself.analysis.stats.nested import nested_power, nested_setup, trials
from blindself.analysis.stats.power import power_of_design
from blindself.analysis.stats.simulation import _setup
from blindself.protocol.loading import load_protocol, parse_protocol
from blindself.services.claims import stated_counts
from blindself.services.planning import PREPARATION_DAYS, default_start
from blindself.trial.schedule import build_calendar

PROTOCOLS = Path(__file__).parent.parent / "protocols"
MICRO = PROTOCOLS / "microdosing-resilience.toml"
ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
DAY = date(2026, 12, 10)
# The template's comment line "For the two-sided randomization test with 16 blocks (32 dose
# days); about 36 blocks give 0.8."
CLAIM_LINE = next(
    i for i, line in enumerate(MICRO.read_text().splitlines(), 1) if "with 16 blocks (32" in line
)
# The GAD-7's comment counts the periods that have a score: stale too once the blocks change.
GAD7_LINE = next(
    i for i, line in enumerate(MICRO.read_text().splitlines(), 1) if "of the 32 periods" in line
)


def micro(tmp_path: Path, blocks: int) -> Path:
    path = tmp_path / "microdosing.toml"
    path.write_text(MICRO.read_text().replace("blocks = 16", f"blocks = {blocks}"))
    return path


def power_json(invoke: Invoke, path: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    r = invoke(["power", str(path), "--effect", "1", "--sd", "1.5", "--json", *extra])
    assert r.exit_code == 0, r.output
    out: dict = json.loads(r.stdout)  # type: ignore[type-arg]
    return out


def warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Warning: ")]


# --------------------------------------------------------------- the power warning


@pytest.mark.parametrize("blocks", [6, 16])
def test_plan_warns_with_the_simulations_own_figures(
    tmp_path: Path, invoke: Invoke, blocks: int
) -> None:
    path = micro(tmp_path, blocks)
    r = invoke(["plan", str(path), "--start", DAY.isoformat()])
    assert r.exit_code == 0, r.output
    [warning] = [w for w in warning_lines(r.stdout) if "will probably find nothing" in w]
    # The figures are those `blindself power` gives with its defaults (1,000 trials, seed 1).
    sim = power_json(invoke, path)
    assert sim["power"] < 0.5 and sim["seed"] == 1 and sim["sims"] == 1000
    assert f"power {sim['power']:.2f} (Monte Carlo SE {sim['mc_se']:.3f})" in warning
    assert "to detect a 1-point improvement in mood (its mcid)" in warning
    assert "assuming a day-to-day SD of 1.5 (a sixth of the scale)" in warning
    target = sim["target"]
    assert f"About {target['blocks']} blocks (" in warning
    assert f"now {blocks} blocks) reach 80 % power (simulated: {target['power']:.2f})" in warning
    # Blocks in days and weeks: the calendar of the suggested design from the plan's start.
    bigger = load_protocol(path)._replace(
        design=load_protocol(path).design._replace(blocks=target["blocks"])
    )
    days = len(build_calendar(bigger, DAY).days)
    assert f"({days} days, about {round(days / 7)} weeks;" in warning
    assert f"blindself power {path} --effect 1 --sd 1.5" in warning
    # And the JSON carries the same check.
    data = json.loads(invoke(["plan", str(path), "--json", "--start", DAY.isoformat()]).stdout)
    assert data["power"]["power"] == sim["power"] and data["power"]["target"] == target
    assert warning.removeprefix("Warning: ") in data["warnings"]


def test_the_suggested_size_holds_up_in_an_independent_simulation(
    tmp_path: Path, invoke: Invoke
) -> None:
    # 6 blocks: the check says about 36 (the "about 36 blocks", about 223 days).
    target = power_json(invoke, micro(tmp_path, 6))["target"]
    assert target["blocks"] == 36 and target["days"] == 223
    assert target["below"] == 35 and target["below_power"] < 0.8 <= target["power"]

    # Another seed, 2,000 trials: 36 blocks are within 3 SE of 80 %, 30 blocks clearly below.
    def independent(blocks: int) -> tuple[float, float]:
        p = load_protocol(micro(tmp_path, blocks))
        r = power_of_design(
            p, build_calendar(p, DAY), effect=1, sd=1.5, sims=2000, seed=7, suggest=False
        )
        return r.power, r.mc_se

    at, se = independent(36)
    assert abs(at - 0.8) <= 3 * se, at
    below, se = independent(30)
    assert below < 0.8 - 2 * se, below


def test_a_well_powered_design_gets_a_power_line_and_no_warning(
    tmp_path: Path, invoke: Invoke
) -> None:
    path = tmp_path / "melatonin.toml"
    path.write_text((PROTOCOLS / "melatonin-sleep.toml").read_text())
    r = invoke(["plan", str(path), "--start", DAY.isoformat()])
    assert "will probably find nothing" not in r.stdout
    sim = power_json(invoke, path)
    assert f"Power: {sim['power']:.2f} (Monte Carlo SE {sim['mc_se']:.3f})" in r.stdout


def test_without_an_mcid_the_effect_is_a_ninth_of_the_scale(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "p.toml"
    text = SMALL_PROTOCOL.format(blinding="helper").replace("mcid = 1.0\n", "")
    path.write_text(text.replace("scale = [1, 10]\nbetter", "scale = [0, 18]\nbetter", 1))
    r = invoke(["plan", str(path), "--start", DAY.isoformat()])
    [warning] = [w for w in warning_lines(r.stdout) if "will probably find nothing" in w]
    # 18 / 9 = 2 points, SD 18 / 6 = 3.
    assert "a 2-point improvement in mood (no mcid: a ninth of its scale)" in warning
    assert "SD of 3 (a sixth of the scale)" in warning


def test_init_shows_the_warning_and_writes_it_into_the_preregistration(
    tmp_path: Path, invoke: Invoke
) -> None:
    path = micro(tmp_path, 6)
    r = invoke(
        ["init", str(path), str(tmp_path / "t"), "--start", DAY.isoformat(), "--no-sheet"],
        make_context(),
        env=ENV,
    )
    assert r.exit_code == 0, r.output
    shown = [w for w in r.stderr.splitlines() if "will probably find nothing" in w]
    assert len(shown) == 1 and "About 36 blocks (223 days, about 32 weeks;" in shown[0]
    text = (tmp_path / "t" / "preregistration.md").read_text()
    section = text.split("## Warnings shown at registration")[1].split("## Protocol")[0]
    assert "This design will probably find nothing" in section
    assert f'"16 blocks" (line {CLAIM_LINE}) but design.blocks = 6' in section
    # A public document: the protocol's file name, never the folder it sits in.
    assert str(tmp_path) not in text and "blindself power microdosing.toml" in section


# --------------------------------------------------------------- the size search


def test_power_is_reproducible_and_its_size_search_does_not_jump(
    tmp_path: Path, invoke: Invoke
) -> None:
    path = micro(tmp_path, 16)
    first, second = power_json(invoke, path), power_json(invoke, path)
    assert first == second  # no --seed: the default seed, the same figures
    text = invoke(["power", str(path), "--effect", "1", "--sd", "1.5"]).stdout
    assert "another seed may move the answer by about" in text and "223 days" in text
    # Other seeds (fewer trials, so the test stays fast): each answer is a bracket of two
    # neighbouring sizes, and they stay within the stated Monte Carlo spread.
    found = []
    for seed in ("2", "3", "4"):
        t = power_json(invoke, path, "--seed", seed, "--sims", "400")["target"]
        assert t["below"] == t["blocks"] - 1 and t["below_power"] < 0.8 <= t["power"]
        found.append(t["blocks"])
        assert abs(t["blocks"] - 36) <= 4 * t["size_se"], (seed, t)


def test_nested_trials_extend_the_smaller_design() -> None:
    """Common random numbers: trial i of 11 blocks is trial i of 10 blocks plus a block."""
    small, big = (
        load_protocol(MICRO)._replace(design=load_protocol(MICRO).design._replace(blocks=b))
        for b in (10, 11)
    )
    rng = np.random.default_rng(0)
    setups = [_setup(p, build_calendar(p, DAY), rng) for p in (small, big)]
    (o10, y10), (o11, y11) = (trials(s, sd=1.5, rho=0.3, seed=5, batch=2, n=50) for s in setups)
    assert o11.shape == (50, 22) and (o11[:, :20] == o10).all()
    assert (y11[:, :20] == y10).all()
    assert not (o11[:, 20:] == o11[:, 20:][0]).all()  # the added block is drawn too
    # The Monte Carlo reference sets (17 and 18 blocks: past exact enumeration) nest too.
    refs = []
    for b in (17, 18):
        q = small._replace(design=small.design._replace(blocks=b))
        [c] = nested_setup(q, build_calendar(q, DAY), seed=5, size=b).contrasts
        assert not c.exact and c.rows is not None and c.rows.shape == (1999, 2 * b)
        refs.append(c.rows)
    assert (refs[1][:, :34] == refs[0]).all()
    assert (refs[0].reshape(1999, 17, 2).sum(axis=2) == 1).all()  # one active per block


@pytest.mark.parametrize("blocks", [8, 20])
def test_nested_power_agrees_with_the_plain_simulation(blocks: int) -> None:
    p = load_protocol(MICRO)
    p = p._replace(design=p.design._replace(blocks=blocks))
    cal = build_calendar(p, DAY)
    plain = power_of_design(p, cal, effect=1, sd=1.5, sims=3000, seed=11, suggest=False)
    setup = nested_setup(p, cal, seed=3, size=blocks)
    nested = nested_power(setup, effect=1, sd=1.5, rho=0.3, sims=2000, seed=3, size=blocks)
    se = (plain.power * (1 - plain.power) / 3000 + nested * (1 - nested) / 2000) ** 0.5
    assert abs(nested - plain.power) <= 3 * se + 1e-9, (nested, plain.power)
    assert nested == nested_power(setup, effect=1, sd=1.5, rho=0.3, sims=2000, seed=3, size=blocks)


def test_power_help_explains_how_to_choose_the_sd(invoke: Invoke) -> None:
    text = " ".join(invoke(["power", "--help"]).stdout.split())
    assert "Estimate it from a baseline week" in text and "reference data" in text
    assert "[default: 1]" in text  # --seed


# --------------------------------------------------------------- the default start


def test_the_default_start_leaves_time_to_prepare(tmp_path: Path, invoke: Invoke) -> None:
    today = START  # make_context's clock: START at 20:00 UTC
    path = tmp_path / "p.toml"
    path.write_text(SMALL_PROTOCOL.format(blinding="helper").replace("baseline_days = 2", ""))
    data = json.loads(invoke(["plan", str(path), "--json"], make_context()).stdout)
    # No baseline, daily dosing: the first day is the first dose day, 3 days away.
    assert data["start"] == (today + timedelta(days=3)).isoformat()
    r = invoke(["init", str(path), str(tmp_path / "t"), "--no-sheet"], make_context(), env=ENV)
    expect = (
        f"Starts {today + timedelta(days=3)} by default, so the first dose day "
        f"({today + timedelta(days=3)}) leaves 3 days to make and fill the containers "
        "(give --start to choose)"
    )
    assert expect in r.stdout


@pytest.mark.parametrize(
    "shape, start_in, dose_in",
    [
        ("baseline_days = 2", 1, 3),  # the baseline gives time: tomorrow
        ("baseline_days = 7", 1, 8),
        # START is a Monday: from tomorrow, the days up to next Monday are a run-in.
        ('baseline_days = 0\ndosing = "weekdays:mon"', 1, 7),
    ],
)
def test_default_start_rule(shape: str, start_in: int, dose_in: int) -> None:
    text = SMALL_PROTOCOL.format(blinding="helper").replace("baseline_days = 2", shape)
    text = text.replace('dosing = "daily"\n', "") if "dosing" in shape else text
    protocol = parse_protocol(text.encode())
    assert START.weekday() == 0
    start, note = default_start(protocol, START)
    assert start == START + timedelta(days=start_in)
    first = next(d.date for d in build_calendar(protocol, start).days if d.is_dose)
    assert first == START + timedelta(days=dose_in) and dose_in >= PREPARATION_DAYS
    assert f"leaves {dose_in} days" in note


# --------------------------------------------------------------- stated counts


def counts_of(text: str) -> list[tuple[str, str]]:
    protocol = parse_protocol(text.encode())
    found = stated_counts(protocol, text, build_calendar(protocol, DAY))
    return [(c.text, c.where) for c in found]


def test_the_6_block_edit_of_the_template_is_flagged(tmp_path: Path, invoke: Invoke) -> None:
    text = micro(tmp_path, 6).read_text()
    assert counts_of(text) == [
        ("16 active/placebo blocks", "the description"),
        ("16 blocks", f"line {CLAIM_LINE}"),
        ("32 dose days", f"line {CLAIM_LINE}"),
        ("32 periods", f"line {GAD7_LINE}"),
    ]
    r = invoke(["plan", str(tmp_path / "microdosing.toml"), "--start", DAY.isoformat()])
    [warning] = [w for w in warning_lines(r.stdout) if "contradict" in w]
    assert f'"16 blocks" (line {CLAIM_LINE}) but design.blocks = 6' in warning
    assert f'"32 dose days" (line {CLAIM_LINE}) but the calendar has 12 dose days' in warning
    assert counts_of(MICRO.read_text()) == []  # as shipped: consistent


@pytest.mark.parametrize(
    "comment, flagged",
    [
        ("# 9 blocks", ["9 blocks"]),
        ("# 4 blocks, 8 containers, 10 days", []),  # all true of SMALL_PROTOCOL
        ("# 9 pairs", ["9 pairs"]),
        ("# about 30 blocks give 0.8", []),
        ("# 30 blocks would be better", []),
        ("# at least 40 days", []),
        ('# its recall: "over the last 5 weeks"', []),
        ("# every 3 weeks", []),
        ("# a 14-day trial", []),
        ("# 1 day on, 2 days off", []),
        ("# 12 days", ["12 days"]),
        ("# 5 weeks", ["5 weeks"]),
        ("# 2 weeks", []),  # 10 days round up to 2 weeks
        ("# power: blocks=30 effect=1 sd=1.5 rho=0.3 sims=2000 seed=1 -> 0.9 (MC SE 0.01)", []),
    ],
)
def test_stated_count_rules(comment: str, flagged: list[str]) -> None:
    # SMALL_PROTOCOL: 4 blocks of 2, daily, 2 baseline days: 10 days, 8 dose days.
    text = comment + "\n" + SMALL_PROTOCOL.format(blinding="helper")
    assert [t for t, _ in counts_of(text)] == flagged


def test_an_inline_comment_counts_but_a_hash_inside_a_string_does_not() -> None:
    text = SMALL_PROTOCOL.format(blinding="helper")
    text = text.replace("blocks = 4\n", "blocks = 4  # 9 blocks\n")
    text = text.replace('question = "Does', 'question = "#1: 9 blocks? Does')
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "# 9 blocks" in x)
    assert counts_of(text) == [("9 blocks", f"line {line}")]


def test_no_template_leans_on_another_for_its_safety_text() -> None:
    for path in PROTOCOLS.glob("*.toml"):
        text = path.read_text()
        others = set(re.findall(r"[\w-]+\.toml", text)) - {"THIS.toml", path.name}
        assert not others, (path.name, others)
    weekly = (PROTOCOLS / "weekly-crossover.toml").read_text()
    safety = weekly.split("# Safety:")[1].split("\n\n")[0]
    for needed in ("lithium", "MAOIs", "psychosis", "no medical or legal advice"):
        assert needed in safety


def test_a_design_too_slow_to_simulate_at_every_plan_says_so(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Three arms under max_run need a reference set per simulated trial: 5 s of CPU for the
    placebo-response template with max_run = 2, 6 s at 40 dose-response blocks, measured;
    plan and init skip the check and say how to run it."""
    path = tmp_path / "pr.toml"
    text = (PROTOCOLS / "placebo-response.toml").read_text()
    path.write_text(re.sub(r"(?m)^(blinding = .*)$", r"\1\nmax_run = 2", text, count=1))
    r = invoke(["plan", str(path), "--start", DAY.isoformat()])
    assert r.exit_code == 0, r.output
    assert "Power: not simulated here for more than two arms under max_run" in r.stdout
    assert f"; blindself power {path} --effect E --sd S simulates" in r.stdout
    data = json.loads(invoke(["plan", str(path), "--json", "--start", DAY.isoformat()]).stdout)
    assert data["power"] is None
    # A dose trend over two doses as the primary test is another test than the simulated one.
    text = (PROTOCOLS / "dose-response.toml").read_text()
    path.write_text(
        text.replace(
            'alternative = "two-sided"', 'alternative = "two-sided"\nprimary_test = "dose-trend"'
        )
    )
    r = invoke(["plan", str(path), "--start", DAY.isoformat()])
    assert "Power: not simulated here for a dose trend as the primary test" in r.stdout
    assert "will probably find nothing" not in r.stdout


def test_the_check_is_kept_in_the_cache_folder_and_survives_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan then init, or many init processes, simulate a design once (services/power_check)."""
    from blindself.analysis.stats import power as power_mod
    from blindself.services import power_check

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    protocol = load_protocol(micro(tmp_path, 6))
    power_check._simulated.cache_clear()
    first = power_check.check_power(protocol, DAY)
    assert first is not None and first.warning
    [stored] = list((tmp_path / "cache" / "blindself" / "power-check").glob("*.json"))
    assert set(json.loads(stored.read_text())) == {"power", "mc_se", "target"}

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("simulated again")

    monkeypatch.setattr(power_mod, "power_of_design", never)
    power_check._simulated.cache_clear()
    assert power_check.check_power(protocol, DAY) == first  # read from the file
    stored.write_text("{not json")
    power_check._simulated.cache_clear()
    with pytest.raises(AssertionError, match="simulated again"):
        power_check.check_power(protocol, DAY)  # a damaged file is ignored
    # An unwritable cache folder costs only the simulation.
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a folder")
    power_check._simulated.cache_clear()
    assert power_check.check_power(protocol, DAY) == first
