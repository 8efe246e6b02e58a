"""Preparing a trial (issue 5): sheets, the participant's calendar, plan, templates, stop rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, Invoke, at, day, make_context, with_clock
from test_template_power import claims

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
TEMPLATES = sorted(
    p.stem for p in (Path(__file__).resolve().parents[1] / "protocols").glob("*.toml")
)


def init(
    invoke: Invoke,
    tmp: Path,
    blinding: str,
    alloc_seed: int = 1,
    sheets: tuple[str, ...] = ("s.json",),
    text: str | None = None,
) -> Path:
    protocol = tmp / "p.toml"
    protocol.write_text(text or SMALL_PROTOCOL.format(blinding=blinding))
    args = ["init", str(protocol), str(tmp / "trial"), "--start", START.isoformat()]
    for s in sheets:
        args += ["--sheet", str(tmp / s)]
    r = invoke(args, make_context(alloc_seed=alloc_seed), env=ENV)
    assert r.exit_code == 0, r.output
    return tmp / "trial"


def test_helper_sheet_json_follows_spec(tmp_path: Path, invoke: Invoke) -> None:
    init(invoke, tmp_path, "helper")
    sheet = json.loads((tmp_path / "s.json").read_text())
    assert set(sheet) >= {"trial", "codes", "containers"}
    assert len(sheet["containers"]) == 8
    for c in sheet["containers"]:
        assert set(c) >= {"code", "arm", "block", "period", "dates"}
        assert sheet["codes"][c["code"]] == c["arm"]
        assert c["block"] == (c["period"] - 1) // 2 + 1
        # one dose day per period, on the period's calendar day (2 baseline days first)
        assert c["dates"] == [day(c["period"] + 1).isoformat()]
    periods = sorted(c["period"] for c in sheet["containers"])
    assert periods == list(range(1, 9))


def test_self_sheet_leaves_period_to_the_shuffle(tmp_path: Path, invoke: Invoke) -> None:
    init(invoke, tmp_path, "self", sheets=("s.json", "s.html"))
    sheet = json.loads((tmp_path / "s.json").read_text())
    for c in sheet["containers"]:
        assert c["period"] is None and c["dates"] == []
    per_block: dict[int, list[str]] = {}
    for c in sheet["containers"]:
        per_block.setdefault(c["block"], []).append(c["arm"])
    assert all(sorted(arms) == ["active", "placebo"] for arms in per_block.values())
    html = (tmp_path / "s.html").read_text()
    assert html.count('class="qr"') == 8  # a QR code per slip
    assert "shuffle them well" in html and "count them" in html
    for c in sheet["containers"]:
        assert html.count(c["code"]) == 1


def test_codes_on_sheets_do_not_depend_on_the_allocation(tmp_path: Path, invoke: Invoke) -> None:
    """Same non-allocation stream, different allocations: identical codes in identical order."""
    seen = []
    for seed in range(1, 7):
        base = tmp_path / str(seed)
        base.mkdir()
        init(invoke, base, "self", alloc_seed=seed)
        sheet = json.loads((base / "s.json").read_text())
        seen.append(
            ([c["code"] for c in sheet["containers"]], [c["arm"] for c in sheet["containers"]])
        )
    codes = {tuple(c) for c, _ in seen}
    arms = {tuple(a) for _, a in seen}
    assert len(codes) == 1 and list(seen[0][0]) == sorted(seen[0][0])
    assert len(arms) > 1


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_participant_calendar_has_no_arm(tmp_path: Path, invoke: Invoke, blinding: str) -> None:
    outputs = []
    for seed in (1, 2):
        base = tmp_path / str(seed)
        base.mkdir()
        trial = init(invoke, base, blinding, alloc_seed=seed)
        ctx = make_context(alloc_seed=seed)
        ics = invoke(["calendar", "--trial", str(trial), "--remind-at", "07:45"], ctx)
        assert ics.exit_code == 0
        invoke(["calendar", "--trial", str(trial), "-o", str(base / "cal.html")], ctx)
        page = (base / "cal.html").read_text()
        for text in (ics.stdout, page):
            assert "placebo" not in text  # arm names appear nowhere; the pages are equal below
        assert (
            ics.stdout.count("BEGIN:VEVENT") == 10
            and "DTSTART:20260302T074500Z" in ics.stdout
            and ics.stdout.count("TRIGGER;RELATED=START:P0D") == 10
        )
        invoke(["calendar", "--trial", str(trial), "-o", str(base / "cal.ics")], ctx)
        raw = (base / "cal.ics").read_bytes()
        assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
        assert [line for line in raw.split(b"\r\n") if len(line) > 75] == []
        outputs.append((ics.stdout, page))
    assert outputs[0] == outputs[1]


def test_plan_prints_allocations_and_warns_when_alpha_is_out_of_reach(
    tmp_path: Path, invoke: Invoke
) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper").replace("blocks = 4", "blocks = 3")
    )
    r = invoke(["plan", str(protocol), "--start", START.isoformat()])
    assert r.exit_code == 0
    # 3 blocks of [active, placebo]: 2^3 = 8 allocations; two-sided p_min = 2/8 (exact enumeration).
    assert "Possible allocations: 8" in r.stdout
    assert "Smallest attainable p: 0.25 two-sided, 0.125 one-sided" in r.stdout
    assert "Warning: this design cannot reach p <= 0.05 (smallest p 0.25); add blocks" in r.stdout
    data = json.loads(
        invoke(["plan", str(protocol), "--json", "--start", START.isoformat()]).stdout
    )
    assert data["allocations"] == 8 and data["p_min"]["two-sided"] == 0.25
    assert data["containers"][0] == {
        "arm": "active",
        "kind": "active",
        "containers": 3,
        "capsules": 3,
        "dose_total": None,
        "unit": None,
    }


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_passes_plan_and_init(tmp_path: Path, invoke: Invoke, name: str) -> None:
    target = tmp_path / f"{name}.toml"
    assert invoke(["new", name, str(target)]).exit_code == 0
    r = invoke(["plan", str(target)])
    assert r.exit_code == 0 and "protocol is valid" in r.stdout
    assert "cannot reach p" not in r.stdout  # every shipped design can reach its alpha
    assert "contradict" not in r.stdout  # and its words match its numbers (issue 16)
    # Issue 16: plan warns below 50 % power at the mcid with SD 1.5, the figures each template
    # states on its '# power:' line (2,000 trials; plan simulates 1,000 with another seed).
    stated = next(float(c["power"]) for c in claims(target) if "blocks" not in c)
    assert ("will probably find nothing" in r.stdout) == (stated < 0.5), (stated, r.stdout)
    r = invoke(
        ["init", str(target), str(tmp_path / "t"), "--sheet", str(tmp_path / "s.html")],
        make_context(),
        env=ENV,
    )
    assert r.exit_code == 0, r.output


def test_stop_rule_is_announced(tmp_path: Path, invoke: Invoke) -> None:
    text = SMALL_PROTOCOL.format(blinding="helper") + (
        '\n[[stop_rules]]\noutcome = "anxiety"\nthreshold = 9\ndays = 2\n'
        'message = "Severe anxiety twice: stop and talk to a doctor."\n'
    )
    trial = init(invoke, tmp_path, "helper", text=text)
    for n in (0, 1):
        r = invoke(
            [
                "checkin",
                "--trial",
                str(trial),
                "--date",
                day(n).isoformat(),
                "--rate",
                "mood=3",
                "--rate",
                "anxiety=9",
            ],
            with_clock(make_context(), at(day(n))),
        )
        assert r.exit_code == 0
    assert "STOP RULE MET" not in invoke(["status", "--trial", str(trial)]).stderr
    assert (
        "STOP RULE MET: anxiety reached 9 on 2 days. Severe anxiety twice: stop and talk to a doctor."
        in r.stderr
    )
    assert "blindself codebreak CODE --reason TEXT" in r.stderr
    assert "blindself pause --days N --reason TEXT." in r.stderr  # days off, then go on


def test_plan_counts_the_contrast_reference_set_and_holm(tmp_path: Path, invoke: Invoke) -> None:
    """Three arms: each contrast re-shuffles only its two arms within each block (2^6 = 64
    allocations for 6 blocks), and Holm over two contrasts doubles the smallest p: 2 x 2/64."""
    target = tmp_path / "dr.toml"
    assert invoke(["new", "dose-response", str(target)]).exit_code == 0
    target.write_text(target.read_text().replace("blocks = 12", "blocks = 6"))
    r = invoke(["plan", str(target)])
    assert "Smallest attainable p: 0.0312 two-sided" in r.stdout  # 2/64
    assert "cannot reach p <= 0.05 (smallest p 0.0625 after Holm over 2 contrasts)" in r.stdout


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_init_tells_the_preparer_what_to_do_with_the_sheet(
    tmp_path: Path, invoke: Invoke, blinding: str
) -> None:
    """In self mode the preparer is the participant: 'keep it from the participant' is absurd."""
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    args = ["init", str(protocol), str(tmp_path / "t"), "--sheet", str(tmp_path / "s.html")]
    r = invoke(args, make_context(), env=ENV)
    assert r.exit_code == 0, r.output
    says_keep = "keep it from the participant" in r.stdout
    assert says_keep == (blinding == "helper")
    if blinding == "self":
        assert "fold it as its step 1 says" in r.stdout


STRIP = re.compile(
    r'<div class="strip">.*?Fill with: <strong>(.*?)</strong>.*?<span class="code">(.*?)</span>',
    re.S,
)


def bag_orders(html: str) -> list[list[tuple[str, str]]]:
    """(what to fill, code) of each strip, bag by bag, in the order the sheet prints them."""
    bags = re.findall(r'<section class="bag".*?</section>', html, re.S)
    return [STRIP.findall(bag) for bag in bags]


def test_strip_order_within_a_bag_says_nothing_about_arm_or_code(
    tmp_path: Path, invoke: Invoke
) -> None:
    """F2: the strips of a bag were printed arm by arm (envelope 1 was always the first arm),
    so a row's position beside its code told the arm.  Now the order is a permutation drawn
    from the non-allocation stream: neither arm-sorted nor code-sorted, and the same for two
    allocations given the same other stream."""
    protocol = tmp_path / "p.toml"
    assert invoke(["new", "microdosing-resilience", str(protocol)]).exit_code == 0
    orders = []
    for seed in (1, 2):
        sheet = tmp_path / f"s{seed}.html"
        args = ["init", str(protocol), str(tmp_path / f"t{seed}"), "--start", START.isoformat()]
        r = invoke(
            [*args, "--sheet", str(sheet)],
            make_context(alloc_seed=seed, other_seed=5),
            env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
        )
        assert r.exit_code == 0, r.output
        orders.append(bag_orders(sheet.read_text()))
    for bags in orders:
        assert len(bags) >= 8 and all(len(b) >= 2 for b in bags)
        first_arm = [b[0][0] for b in bags]
        by_code = [[code for _, code in b] == sorted(code for _, code in b) for b in bags]
        # A uniform permutation puts each arm first in some bags and sorts some bags by code,
        # never all (16 bags of 2: chance 2 * 2**-16 per check for this fixed seed).
        assert len(set(first_arm)) == 2, first_arm
        assert 0 < sum(by_code) < len(bags), by_code
    # Where each code sits is drawn from the other stream alone: the same for both allocations.
    a, b = ([[code for _, code in bag] for bag in bags] for bags in orders)
    assert a == b
    assert [[f for f, _ in bag] for bag in orders[0]] != [[f for f, _ in bag] for bag in orders[1]]
