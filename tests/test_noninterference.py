"""Non-interference (docs/design.md T-36, T-37): before unblinding nothing depends on the
allocation.

The whole pre-unblinding flow runs twice with different allocation streams and everything
else identical (clock, the stream for codes/ids/salts/keys, inputs).  Every output, error,
exit code, file name and size, and the database content must be byte-identical, except
values that hash the allocation (the commitment and the chain hashes over it) and the
sealed payload itself.  The preparation sheet is excluded: it *is* the allocation.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSPHRASE, START, Invoke, at, day, db_dump, make_context

HEX = re.compile(r"[0-9a-f]{64}")
SHORT_HEAD = re.compile(r"head (\d+):[0-9a-f]{16}\)")


def normalise(text: str, base: Path) -> str:
    text = text.replace(str(base), "<BASE>")
    text = HEX.sub("<HASH>", text)
    return SHORT_HEAD.sub(r"head \1:<HASH>)", text)


def run_flow(invoke: Invoke, base: Path, protocol: Path, alloc_seed: int) -> dict[str, Any]:
    os.chdir(base)
    out: list[tuple[str, int, str, str]] = []
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}

    def go(name: str, args: list[str], when: int = 0, **kw: Any) -> Any:
        ctx = make_context(alloc_seed=alloc_seed, other_seed=7, now=at(day(when)))
        r = invoke(args, ctx, **kw)
        out.append((name, r.exit_code, normalise(r.stdout, base), normalise(r.stderr, base)))
        return r

    (base / "prep").mkdir()
    sheet = base / "prep" / "sheet.json"
    go(
        "init",
        ["init", str(protocol), "trial", "--start", START.isoformat(), "--sheet", str(sheet)],
        env=env,
    )
    assert out[0][1] == 0, out[0]
    # Issue 16: the pre-registration lists the design's warnings (power, stated counts), and
    # plan states the power check: the same text under any allocation.
    prereg = (base / "trial" / "preregistration.md").read_text().split("## Protocol")[0]
    assert "## Warnings shown at registration" in prereg
    out.append(("preregistration", 0, normalise(prereg, base), ""))
    go("plan", ["plan", str(protocol), "--start", START.isoformat()])
    public = json.loads(db_dump(base / "trial" / "trial.db")[0][3])["schedule"]
    if public["periods"]:
        codes = [p["code"] for p in public["periods"]]
    else:
        codes = [c for bag in public["bags"] for c in sorted(bag["codes"])]
    t = ["--trial", "trial"]
    for n in range(10):
        rate = ["--rate", f"mood={3 + n % 5}", "--rate", "anxiety=4"]
        if n < 2:
            go(f"baseline{n}", ["checkin", *t, "--date", day(n).isoformat(), *rate], when=n)
            continue
        code = codes[n - 2]
        args = [
            "checkin",
            *t,
            "--date",
            day(n).isoformat(),
            "--code",
            code,
            *rate,
            "--guess",
            "active" if n % 3 else "placebo",
            "--confidence",
            "70",
        ]
        go(f"checkin{n}", args, when=n)
        go(f"again{n}", args, when=n)  # identical resubmission
        go(f"status{n}", ["status", *t], when=n)
        go(f"status-json{n}", ["status", *t, "--json"], when=n)
    # error paths
    go(
        "typo",
        [
            "checkin",
            *t,
            "--date",
            day(3).isoformat(),
            "--code",
            codes[1][:-1] + ("0" if codes[1][-1] != "0" else "1"),
            "--rate",
            "mood=3",
            "--rate",
            "anxiety=3",
        ],
        when=5,
    )
    go(
        "range",
        ["checkin", *t, "--date", day(4).isoformat(), "--rate", "mood=0", "--rate", "anxiety=3"],
        when=5,
    )
    go(
        "dup",
        [
            "checkin",
            *t,
            "--date",
            day(4).isoformat(),
            "--code",
            codes[2],
            "--rate",
            "mood=1",
            "--rate",
            "anxiety=1",
            "--guess",
            "unsure",
        ],
        when=5,
    )
    go(
        "reuse",
        [
            "checkin",
            *t,
            "--date",
            day(5).isoformat(),
            "--code",
            codes[0],
            "--rate",
            "mood=1",
            "--rate",
            "anxiety=1",
            "--guess",
            "unsure",
            "--replace",
        ],
        when=9,
    )
    go(
        "replace",
        [
            "checkin",
            *t,
            "--date",
            day(6).isoformat(),
            "--code",
            codes[4],
            "--rate",
            "mood=9",
            "--rate",
            "anxiety=1",
            "--guess",
            "unsure",
            "--replace",
            "--reason",
            "typo",
        ],
        when=9,
    )
    go("future", ["checkin", *t, "--date", day(11).isoformat(), "--rate", "mood=1"], when=9)
    go("export", ["export", *t], when=9)
    go("export-json", ["export", *t, "--format", "json"], when=9)
    go("export-all", ["export", *t, "--all"], when=9)
    go("calendar", ["calendar", *t, "--remind-at", "08:30"], when=9)
    go("calendar-all-day", ["calendar", *t], when=9)
    go("calendar-html", ["calendar", *t, "-o", "calendar.html"], when=9)
    # The printable page itself, byte for byte (the file list below compares sizes only).
    out.append(("calendar-page", 0, normalise((base / "calendar.html").read_text(), base), ""))
    # Looking back (issue 16): every past day with its corrections and flags, no arm.
    go("log", ["log", *t], when=9)
    go("log-json", ["log", *t, "--json"], when=9)
    go("log-last", ["log", *t, "--last", "3", "--from", day(2).isoformat()], when=9)
    go("verify", ["verify", *t], when=9)
    go("anchor", ["verify", *t, "--anchor"], when=9)
    go("dup-rate", ["checkin", *t, "--rate", "mood=1", "--rate", "mood=2"], when=9)
    go("week-date", ["checkin", *t, "--date", "2026-W10-1", "--rate", "mood=1"], when=9)
    # The day before the last: unblinding opens on the last day once its check-in is in.
    go("early", ["unblind", *t], when=8, env=env)
    go("early-no-reason", ["unblind", *t, "--early"], when=8, env=env)
    go("wrong-pass", ["unblind", *t], when=10, env={"BLINDSELF_PASSPHRASE": "not the passphrase"})
    go("report-blind", ["report", *t], when=10)
    go("backup", ["backup", *t, "-o", "backup"], when=10)
    files = {
        str(p.relative_to(base)): p.stat().st_size for p in sorted(base.rglob("*")) if p.is_file()
    }
    rows = []
    for seq, kind, dday, payload, supersedes, prev_hash, hsh in db_dump(
        base / "trial" / "trial.db"
    ):
        rows.append((seq, kind, dday, HEX.sub("<HASH>", payload), supersedes))
    return {"outputs": out, "files": files, "db": rows, "sheet": sheet.read_text()}


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_two_allocations_are_indistinguishable(
    tmp_path: Path, invoke: Invoke, blinding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    monkeypatch.chdir(tmp_path)
    results = []
    for seed in (11, 12):
        base = tmp_path / f"run{seed}"
        base.mkdir()
        results.append(run_flow(invoke, base, protocol, seed))
    a, b = results
    assert a["sheet"] != b["sheet"], "the two runs must draw different allocations"
    for (name, code_a, out_a, err_a), (_, code_b, out_b, err_b) in zip(
        a["outputs"], b["outputs"], strict=True
    ):
        assert (name, code_a, out_a, err_a) == (name, code_b, out_b, err_b)
    assert a["files"] == b["files"]
    assert a["db"] == b["db"]
    # Some error paths must really have been errors, so the comparison covered them.
    codes = {name: code for name, code, _, _ in a["outputs"]}
    assert (
        codes["typo"]
        == codes["range"]
        == codes["future"]
        == codes["early"]
        == codes["wrong-pass"]
        == 1
    )


def test_no_arm_words_before_unblinding(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T-37: arm names appear only where the protocol itself puts them (prompts, guesses)."""
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding="helper")
        .replace('block = ["active"', 'block = ["verum"')
        .replace('name = "active"', 'name = "verum"')
    )
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "run"
    base.mkdir()
    result = run_flow(invoke, base, protocol, 5)["outputs"]
    for name, _code, out, err in result:
        if name.startswith(("checkin", "again", "dup", "reuse", "replace", "export", "log")):
            continue  # the person's own guesses are echoed back there
        if name == "plan":
            continue  # plan lists the protocol's own arms (what it compares), as written
        assert "verum" not in out + err, name
        assert "placebo" not in out + err, name


SLIP = re.compile(r'<div class="slip" data-slip>(.*?)</div></div>\s*</div>', re.S)
BAG = re.compile(r'<section class="bag".*?</section>', re.S)


def test_what_goes_into_the_envelopes_does_not_depend_on_the_allocation(
    tmp_path: Path, invoke: Invoke
) -> None:
    """T-49: the self-blinding sheet is the allocation, but the slips sealed into envelopes
    (cover, code, QR code) are byte-identical per bag for two different allocations; only the
    cut-off tabs differ.  The rendered-page version is in test_sheet_browser.py."""
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="self"))
    pages = []
    for seed in (11, 12):
        sheet = tmp_path / f"sheet{seed}.html"
        args = ["init", str(protocol), str(tmp_path / f"t{seed}"), "--sheet", str(sheet)]
        r = invoke(
            args,
            make_context(alloc_seed=seed, other_seed=7),
            env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
        )
        assert r.exit_code == 0, r.output
        pages.append(sheet.read_text())
    a, b = ([sorted(SLIP.findall(bag)) for bag in BAG.findall(p)] for p in pages)
    assert len(a) == 4 and all(len(bag) == 2 for bag in a)
    assert a == b
    assert pages[0] != pages[1], "the two runs must draw different allocations"


def interactive_flow(invoke: Invoke, base: Path, protocol: Path, alloc_seed: int) -> list[Any]:
    """The check-in prompts' own checks and messages (issue 11 item 5), on a terminal."""
    out: list[Any] = []
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    trial = base / "trial"

    def go(name: str, args: list[str], when: int, text: str | None = None) -> None:
        ctx = make_context(alloc_seed=alloc_seed, other_seed=7, now=at(day(when)))
        r = invoke(args, ctx, env=env, input=text)
        out.append((name, r.exit_code, normalise(r.stdout, base), normalise(r.stderr, base)))

    sheet = base / "sheet.json"
    go(
        "init",
        ["init", str(protocol), str(trial), "--start", START.isoformat(), "--sheet", str(sheet)],
        0,
    )
    public = json.loads(db_dump(trial / "trial.db")[0][3])["schedule"]
    if public["periods"]:
        right, other = public["periods"][0]["code"], public["periods"][1]["code"]
    else:
        right, other = sorted(public["bags"][0]["codes"])[0], sorted(public["bags"][1]["codes"])[0]
    t = ["checkin", "--trial", str(trial), "--date"]
    go("errors", [*t, day(0).isoformat()], 0, "11\nabc\n\n7\n3\nslept badly\n")
    go("recorded", [*t, day(0).isoformat()], 0, "5\n5\n\n")
    go("replace-tty", [*t, day(0).isoformat(), "--replace", "--reason", "x"], 0, "8\n\n\n")
    go("replace", [*t, day(0).isoformat(), "--replace", "--rate", "mood=2", "--reason", "y"], 1)
    # another day's container (helper) or another bag's code (self): confirmed, then declined
    go("confirm", [*t, day(2).isoformat()], 2, f"{other}\nn\n{right}\nactive\n120\n70\n6\n4\n\n")
    # a used code on the next day: refused at once (helper: another period's; self: the
    # period already has a code), then typed right
    go("used", [*t, day(3).isoformat()], 3, f"{right}\nAAAA-A\n\n")
    go(
        "replace-dose",
        [*t, day(2).isoformat(), "--replace", "--guess", "unsure", "--reason", "z"],
        3,
    )
    rows = [
        (s, k, d, HEX.sub("<HASH>", p), sup)
        for s, k, d, p, sup, _, _ in db_dump(trial / "trial.db")
    ]
    return [out, rows]


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_checkin_prompts_are_indistinguishable(
    tmp_path: Path, invoke: Invoke, blinding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SMALL_PROTOCOL

    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    runs = []
    for seed in (11, 12):
        base = tmp_path / f"run{seed}"
        base.mkdir()
        runs.append(interactive_flow(invoke, base, protocol, seed))
    assert (tmp_path / "run11" / "sheet.json").read_text() != (
        tmp_path / "run12" / "sheet.json"
    ).read_text(), "the two runs must draw different allocations"
    (out_a, db_a), (out_b, db_b) = runs
    for a, b in zip(out_a, out_b, strict=True):
        assert a == b
    assert db_a == db_b
    said = {name: (code, err) for name, code, _, err in out_a}
    # the paths under test really ran
    assert "mood is rated 1 to 10; you typed 11" in said["errors"][1]
    assert said["recorded"][0] == 1 and "already recorded" in said["recorded"][1]
    assert "Replacing entry" in said["replace-tty"][1]
    assert "Record " in said["confirm"][1] and said["confirm"][0] == 0
    assert "Not recorded:" in said["used"][1]
    assert said["replace"][0] == said["replace-dose"][0] == 0
    for name, _code, _out, err in out_a[1:]:
        assert "placebo capsule" not in err and "active capsule" not in err, name


# --- the web app (docs/design.md T-50): every response identical across two allocations --------


def web_flow(tmp_path: Path, blinding: str, alloc_seed: int) -> list[tuple[Any, ...]]:
    """The same requests, at the same instants, against a trial of each allocation."""
    from dataclasses import replace

    from web.support import app_for, browser, make_trial, public_schedule

    tmp_path.mkdir()
    trial = make_trial(tmp_path, blinding=blinding, alloc_seed=alloc_seed)
    public = public_schedule(trial)
    if public["periods"]:
        codes = [p["code"] for p in public["periods"]]
    else:
        codes = [c for bag in public["bags"] for c in sorted(bag["codes"])]
    now = [at(day(0))]
    ctx = replace(make_context(alloc_seed=alloc_seed, other_seed=7), clock=lambda: now[0])
    app = app_for(trial, ctx=ctx, seed=3)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    b = browser(app, pair=False)
    seen: list[tuple[Any, ...]] = []

    def record(label: str, r: Any) -> None:
        headers = []
        for k, v in sorted(r.headers.items()):
            if k == "Date":
                continue  # the wall clock of the run (static files), the same in both worlds
            if k == "Set-Cookie":
                # The cookie is signed with a timestamp: compare what it holds instead.
                value = v.split(";")[0].split("=", 1)[1]
                v = json.dumps(serializer.loads(value) if value else {}, sort_keys=True)
            headers.append((k, normalise(v, tmp_path)))
        body = normalise(r.get_data().decode("utf-8", "replace"), tmp_path)
        seen.append((label, r.status_code, tuple(headers), body))

    def get(path: str, **kw: Any) -> None:
        record(f"GET {path}", b.get(path, **kw))

    def post(path: str, data: dict[str, str], **kw: Any) -> None:
        record(f"POST {path} {sorted(data.items())}", b.post(path, data, **kw))

    from blindself.web.app import pairing_token

    token = pairing_token(app) or ""
    get("/status")  # refused: not paired
    get("/pair?token=nope")
    post("/pair", {"token": "nope"})
    get(f"/pair?token={token}")
    post("/pair", {"token": token})
    get("/pair?token=-")
    get("/manifest.webmanifest")
    get("/static/app.css")
    get("/nowhere")
    record("foreign host", b.client.get("/status", headers={"Host": "evil.example"}))
    for n in range(8):
        now[0] = at(day(n))
        d = day(n).isoformat()
        rate = {"rate-mood": str(3 + n % 5), "rate-anxiety": "4"}
        get("/")
        if n < 2:
            post("/checkin", {"date": d, **rate})
            continue
        wrong = codes[n - 2][:-1] + ("0" if codes[n - 2][-1] != "0" else "1")
        post("/code", {"date": d, "code": wrong, "action": "next"})
        if n == 7:
            post("/code", {"date": d, "code": "", "action": "skip"})
            post("/checkin", {"date": d, "no_capsule": "1", **rate})
            continue
        other = codes[(n + 1) % len(codes)]  # another day's container, or another bag's
        post("/code", {"date": d, "code": other, "action": "next"})
        post("/code", {"date": d, "code": codes[n - 2], "action": "next"})
        guess = {"guess": "active" if n % 3 else "placebo", "confidence": "70"}
        post("/checkin", {"date": d, "code": codes[n - 2], **rate, "rate-mood": "11", **guess})
        post("/checkin", {"date": d, "code": codes[n - 2], **rate, **guess, "note": f"day {n}"})
        post("/checkin", {"date": d, "code": codes[n - 2], **rate, **guess, "note": f"day {n}"})
        get(f"/day/{d}")
        get("/status")
        get("/calendar")
    d3 = day(3).isoformat()
    fix = {"code": codes[1], "rate-mood": "9", "rate-anxiety": "1", "guess": "unsure"}
    post(f"/day/{d3}", fix)  # no reason: refused
    post(f"/day/{d3}", {**fix, "code": codes[0], "reason": "wrong label"})  # another period's code
    post(f"/day/{d3}", {**fix, "reason": "typo"})
    get(f"/day/{d3}")
    get(f"/?date={day(9).isoformat()}")  # the future
    get("/report")
    now[0] = at(day(12))
    get("/status")
    get("/calendar")
    get("/")
    return seen


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_every_web_response_is_the_same_under_two_allocations(
    tmp_path: Path, blinding: str
) -> None:
    from blindself.services.export import export_trial

    a = web_flow(tmp_path / "a", blinding, 11)
    b = web_flow(tmp_path / "b", blinding, 12)
    sheets = []
    for base, seed in ((tmp_path / "a", 11), (tmp_path / "b", 12)):
        sheets.append(export_trial(base / f"trial-{blinding}-{seed}", "csv", True))
    assert len(a) == len(b) > 70
    for x, y in zip(a, b, strict=True):
        assert x == y
    assert sheets[0] == sheets[1]  # what the pages stored, too
    statuses = [s for _, s, _, _ in a]
    assert statuses.count(422) >= 7 and statuses.count(303) >= 10 and 400 in statuses
    # The arm names appear only among the guess choices and the person's own guesses.
    for label, _, _, body in a:
        if "GET /status" in label or "GET /calendar" in label:
            assert "placebo" not in body and "active" not in body, label


def import_flow(invoke: Invoke, base: Path, alloc_seed: int) -> dict[str, Any]:
    """Check-ins and ``blindself import`` of the example sleep export (issue 16 item 5)."""
    data = Path(__file__).parent / "data"
    os.chdir(base)
    out: list[tuple[str, int, str, str]] = []

    def go(name: str, args: list[str], when: int, hour: int = 13, **kw: Any) -> Any:
        ctx = make_context(alloc_seed=alloc_seed, other_seed=7, now=at(day(when), hour))
        r = invoke(args, ctx, **kw)
        out.append((name, r.exit_code, normalise(r.stdout, base), normalise(r.stderr, base)))
        return r

    (base / "prep").mkdir()
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    init = ["init", str(data / "melatonin-measured-sleep.toml"), "trial", "--start"]
    go("init", [*init, START.isoformat(), "--sheet", "prep/sheet.json"], 0, env=env)
    assert out[0][1] == 0, out[0]
    public = json.loads(db_dump(base / "trial" / "trial.db")[0][3])["schedule"]
    codes = [p["code"] for p in public["periods"]]
    t = ["--trial", "trial"]
    for n in range(12):
        extra = ["--code", codes[n - 7], "--guess", "unsure"] if n >= 7 else []
        args = ["checkin", *t, "--date", day(n).isoformat(), "--rate", "grogginess=3", *extra]
        go(f"checkin{n}", args, n + 1, hour=8)
    sleep = ["import", *t, str(data / "sleep-export.csv"), "--date-column", "Start Time"]
    sleep += ["--map", "Minutes Asleep=sleep_minutes"]
    go("import-outside", sleep, 49)
    go("import-dry", [*sleep, "--skip-outside", "--dry-run"], 49)
    go("import-future", [*sleep, "--skip-outside"], 12)
    go("import", [*sleep, "--skip-outside"], 49)
    go("import-again", [*sleep, "--skip-outside"], 49)
    shifted = [*sleep[:4], "--date-column", "Date", "--day-shift", "-1", *sleep[6:]]
    go("import-by-wake-date", [*shifted, "--skip-outside"], 49)
    go("import-combined", [*sleep, "--skip-outside", "--combine", "max", "--day-shift", "1"], 49)
    go("status", ["status", *t], 49)
    go("export", ["export", *t], 49)
    go("export-json", ["export", *t, "--format", "json"], 49)
    go("export-all", ["export", *t, "--all"], 49)
    go("verify", ["verify", *t], 49)
    rows = [
        (seq, kind, dday, HEX.sub("<HASH>", payload), supersedes)
        for seq, kind, dday, payload, supersedes, _prev, _hash in db_dump(
            base / "trial" / "trial.db"
        )
    ]
    return {"outputs": out, "db": rows, "sheet": (base / "prep" / "sheet.json").read_text()}


def test_imports_are_the_same_under_two_allocations(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T-36 for ``import``: its output, errors and log entries depend on the file, the
    protocol and the public calendar only."""
    monkeypatch.chdir(tmp_path)
    results = []
    for seed in (11, 12):
        base = tmp_path / f"run{seed}"
        base.mkdir()
        results.append(import_flow(invoke, base, seed))
    a, b = results
    assert a["sheet"] != b["sheet"], "the two runs must draw different allocations"
    for x, y in zip(a["outputs"], b["outputs"], strict=True):
        assert x == y
    assert a["db"] == b["db"]
    codes = {name: code for name, code, _, _ in a["outputs"]}
    assert codes["import"] == codes["import-again"] == codes["import-by-wake-date"] == 0
    assert codes["import-outside"] == codes["import-future"] == codes["import-combined"] == 1
    assert sum(kind == "measure" for _, kind, *_ in a["db"]) == 47


QUESTIONNAIRES = """
[[outcomes]]
instrument = "gad7"
schedule = "every"

[[outcomes]]
name = "resilience"
instrument = "brs"
schedule = "weekly:wed"
"""


def questionnaire_flow(
    invoke: Invoke, base: Path, protocol: Path, alloc_seed: int, tty: list[bool]
) -> list[Any]:
    """Issue 18: questionnaire prompts, schedules, refusals, the severe-band notice, status
    and storage, under one allocation."""
    out: list[Any] = []
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    trial = base / "trial"

    def go(name: str, args: list[str], when: int, text: str | None = None) -> None:
        tty[0] = text is not None
        ctx = make_context(alloc_seed=alloc_seed, other_seed=7, now=at(day(when)))
        r = invoke(args, ctx, env=env, input=text)
        out.append((name, r.exit_code, normalise(r.stdout, base), normalise(r.stderr, base)))

    sheet = base / "sheet.json"
    go("init", ["init", str(protocol), str(trial), "--start", START.isoformat(), "--sheet", str(sheet)], 0)  # fmt: skip
    public = json.loads(db_dump(trial / "trial.db")[0][3])["schedule"]
    if public["periods"]:
        codes = [p["code"] for p in public["periods"]]
    else:
        codes = [c for bag in public["bags"] for c in sorted(bag["codes"])]
    t = ["--trial", str(trial)]
    for n in range(8):
        args = ["checkin", *t, "--date", day(n).isoformat(), "--rate", "mood=5", "--rate", "anxiety=4"]  # fmt: skip
        if n >= 2:
            args += ["--code", codes[n - 2], "--guess", "unsure"]
        level = 3 if n in (3, 4, 6) else 1  # severe (21) on days 3, 4 and 6
        args += ["--rate", "gad7=" + ",".join([str(level)] * 6 + ["-" if n == 5 else "2"])]
        if n == 2:
            args += ["--rate", "resilience=5,1,4,-,4,2"]
        if n == 7:
            # the prompts: the BRS is not due (a Monday), the GAD-7 is asked item by item
            go("prompted", args[:-2], n, "9\n0\n1\n2\n3\n-\n1\n2\nnote\n")
        else:
            go(f"checkin{n}", args, n)
        go(f"status{n}", ["status", *t], n)
        go(f"status-json{n}", ["status", *t, "--json"], n)
    late = ["checkin", *t, "--date", day(8).isoformat(), "--code", codes[6], "--guess", "unsure", "--rate", "mood=5", "--rate", "anxiety=4"]  # fmt: skip
    go("not-due", [*late, "--rate", "gad7=1,1,1,1,1,1,1", "--rate", "resilience=1,1,1,1,1,1"], 8)
    go("count", [*late, "--rate", "gad7=1,1"], 8)
    go("option", [*late, "--rate", "gad7=1,1,1,1,1,1,7"], 8)
    go("missing", late, 8)
    go("replace", ["checkin", *t, "--date", day(2).isoformat(), "--replace", "--rate", "resilience=1,1,1,1,1,1", "--reason", "x"], 8)  # fmt: skip
    go("export", ["export", *t], 8)
    rows = [
        (s, k, d, HEX.sub("<HASH>", p), sup)
        for s, k, d, p, sup, _, _ in db_dump(trial / "trial.db")
    ]
    return [out, rows]


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_questionnaires_are_indistinguishable(
    tmp_path: Path, invoke: Invoke, blinding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SMALL_PROTOCOL

    tty = [False]
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: tty[0])
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding=blinding).replace(
            "[checkin]", QUESTIONNAIRES + "\n[checkin]"
        )
    )
    runs = []
    for seed in (11, 12):
        base = tmp_path / f"run{seed}"
        base.mkdir()
        runs.append(questionnaire_flow(invoke, base, protocol, seed, tty))
    (out_a, rows_a), (out_b, rows_b) = runs
    assert out_a == out_b
    assert rows_a == rows_b
    codes = {name: code for name, code, _, _ in out_a}
    assert codes["checkin6"] == codes["prompted"] == codes["replace"] == 0
    assert codes["not-due"] == codes["count"] == codes["option"] == codes["missing"] == 1
    said = [name for name, _, _, err in out_a if "'severe' range" in err]
    assert said == ["checkin3", "checkin6"]  # once per entry into the band
    prompted = next(err for name, _, _, err in out_a if name == "prompted")
    assert "1/7 Feeling nervous, anxious or on edge [0-3]" in prompted
    assert "Brief Resilience Scale" not in prompted
    assert "resilience" in rows_a[3][3] and "brs/1" in rows_a[3][3]


# --- pauses and lost containers (docs/design.md#pauses): the same under two allocations -----


def interruption_flow(invoke: Invoke, base: Path, protocol: Path, alloc_seed: int) -> list[Any]:
    """Pause, end it early, report lost and damaged containers, check in around them; the
    CLI's outputs, the web pages during the pause, the files and the log."""
    from dataclasses import replace

    from web.support import app_for, browser

    out: list[Any] = []
    env = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
    trial = base / "trial"
    t = ["--trial", str(trial)]

    def go(name: str, args: list[str], when: int) -> None:
        ctx = make_context(alloc_seed=alloc_seed, other_seed=7, now=at(day(when)))
        r = invoke(args, ctx, env=env)
        out.append((name, r.exit_code, normalise(r.stdout, base), normalise(r.stderr, base)))

    sheet = base / "sheet.json"
    args = ["init", str(protocol), str(trial), "--start", START.isoformat(), "--sheet", str(sheet)]
    go("init", args, -1)
    public = json.loads(db_dump(trial / "trial.db")[0][3])["schedule"]
    if public["periods"]:
        codes = [p["code"] for p in public["periods"]]
    else:
        codes = [c for bag in public["bags"] for c in sorted(bag["codes"])]
    rate = ["--rate", "mood=5", "--rate", "anxiety=4"]
    dose = ["--guess", "unsure"]
    for n in range(3):
        code = ["--code", codes[0], *dose] if n == 2 else []
        go(f"checkin{n}", ["checkin", *t, "--date", day(n).isoformat(), *rate, *code], n)
    go("lost-in-use", ["lost", *t, "--code", codes[0], "--damaged", "--note", "wet"], 2)
    go("lost-unused", ["lost", *t, "--code", codes[3], "--date", day(1).isoformat()], 2)
    go("lost-again", ["lost", *t, "--code", codes[3], "--date", day(1).isoformat()], 2)
    go("lost-no-code", ["lost", *t], 2)
    go("pause", ["pause", *t, "--from", day(3).isoformat(), "--days", "3", "--reason", "flu"], 2)
    go("overlap", ["pause", *t, "--from", day(4).isoformat(), "--days", "1", "--reason", "x"], 2)
    go("past", ["pause", *t, "--from", day(1).isoformat(), "--days", "1", "--reason", "x"], 2)
    go("status-paused", ["status", *t], 3)
    go("status-json", ["status", *t, "--json"], 3)
    go("checkin-paused", ["checkin", *t, *rate], 3)
    go("calendar", ["calendar", *t, "--remind-at", "08:30"], 3)
    go("calendar-html", ["calendar", *t, "-o", str(base / "cal.html")], 3)
    ctx = replace(make_context(alloc_seed=alloc_seed, other_seed=7), clock=lambda: at(day(3)))
    b = browser(app_for(trial, ctx=ctx, seed=3))
    for path in ("/", "/status", "/calendar", f"/?date={day(4).isoformat()}"):
        r = b.get(path)
        out.append((f"GET {path}", r.status_code, normalise(r.get_data(as_text=True), base), ""))
    go("end", ["pause", *t, "--end", day(5).isoformat()], 4)
    go("status-resumed", ["status", *t], 5)
    go("checkin5", ["checkin", *t, "--date", day(5).isoformat(), *rate, "--no-capsule"], 5)
    go(
        "checkin6",
        ["checkin", *t, "--date", day(6).isoformat(), "--code", codes[1], *rate, *dose],
        6,
    )
    go("export", ["export", *t, "--all"], 6)
    go("verify", ["verify", *t], 6)
    go("log", ["log", *t], 6)  # lists the lost and damaged containers (review F8)
    go("log-json", ["log", *t, "--json"], 6)
    rows = [
        (s, k, d, HEX.sub("<HASH>", p), sup)
        for s, k, d, p, sup, _, _ in db_dump(trial / "trial.db")
    ]
    files = {
        str(p.relative_to(base)): p.stat().st_size
        for p in sorted(base.rglob("*"))
        if p.is_file() and p.name != "sheet.json"
    }
    return [out, rows, files]


@pytest.mark.parametrize("blinding", ["helper", "self"])
def test_pauses_and_lost_containers_are_indistinguishable(
    tmp_path: Path, invoke: Invoke, blinding: str
) -> None:
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "protocol.toml"
    protocol.write_text(
        SMALL_PROTOCOL.format(blinding=blinding).replace("period_days = 1", "period_days = 2")
    )
    runs = []
    for seed in (11, 12):
        base = tmp_path / f"run{seed}"
        base.mkdir()
        runs.append(interruption_flow(invoke, base, protocol, seed))
    assert (tmp_path / "run11" / "sheet.json").read_text() != (
        tmp_path / "run12" / "sheet.json"
    ).read_text(), "the two runs must draw different allocations"
    (out_a, db_a, files_a), (out_b, db_b, files_b) = runs
    for a, b in zip(out_a, out_b, strict=True):
        assert a == b
    assert db_a == db_b
    assert files_a == files_b
    said = {name: (code, text, err) for name, code, text, err in out_a}
    # the paths under test really ran
    assert said["pause"][0] == said["end"][0] == said["lost-in-use"][0] == 0
    assert said["overlap"][0] == said["past"][0] == said["checkin-paused"][0] == 1
    assert said["lost-again"][1].startswith(("",)) and "already recorded" in said["lost-again"][1]
    assert "Paused: 2026-03-05 to 2026-03-07 (flu)" in said["status-paused"][1]
    assert "Damaged container " in said["log"][1] and "Lost container " in said["log"][1]
    assert [x["what"] for x in json.loads(said["log-json"][1])["lost"]] == ["damaged", "lost"]
    assert "inside the pause" in said["GET /"][1]  # the web check-in says so
    assert "Paused" in said["GET /status"][1] and "paused" in said["GET /calendar"][1]
    assert "placebo" not in said["GET /status"][1] + said["GET /calendar"][1]
    for name, _code, text, err in out_a:
        if name.startswith(("checkin", "export", "GET /")):
            continue  # guesses and the guess choices name the arms
        assert "placebo" not in text + err and "active" not in text + err, name


def web_questionnaire_flow(base: Path, alloc_seed: int) -> list[tuple[Any, ...]]:
    """Issue 18 on the web: the questionnaire form, refusals, the severe notice and the day
    page, under one allocation (every body, status and stored payload)."""
    from dataclasses import replace

    from web.support import app_for, browser, public_schedule
    from web.test_questionnaires import answers, q_trial

    base.mkdir()
    trial = q_trial(base, alloc_seed=alloc_seed)
    bags = public_schedule(trial)["bags"]
    codes = [c for bag in bags for c in sorted(bag["codes"])]
    now = [at(day(0))]
    ctx = replace(make_context(alloc_seed=alloc_seed, other_seed=7), clock=lambda: now[0])
    b = browser(app_for(trial, ctx=ctx, seed=3))
    seen: list[tuple[Any, ...]] = []

    def keep(label: str, r: Any) -> None:
        seen.append((label, r.status_code, normalise(r.get_data(as_text=True), base)))

    for n in range(5):
        now[0] = at(day(n))
        d = day(n).isoformat()
        keep(f"get {n}", b.get("/"))
        form = {"date": d, "rate-mood": "5", "rate-anxiety": "4"}
        if n >= 2:
            keep(f"code {n}", b.post("/code", {"date": d, "code": codes[n - 2], "action": "next"}))
            form.update({"code": codes[n - 2], "guess": "unsure"})
        keep(f"missing {n}", b.post("/checkin", form))
        level = "3" if n in (1, 2, 4) else "1"
        if n == 2:
            form.update(answers("resilience", ["4", "2", "-", "1", "5", "2"]))
        keep(f"count {n}", b.post("/checkin", {**form, **answers("gad7", ["1"] * 3)}))
        keep(f"record {n}", b.post("/checkin", {**form, **answers("gad7", [level] * 7)}))
        keep(f"day {n}", b.get(f"/day/{d}"))
    keep("status", b.get("/status"))
    rows = [(s, k, d, HEX.sub("<HASH>", p), sup) for s, k, d, p, sup, _, _ in db_dump(trial / "trial.db")]  # fmt: skip
    seen.append(("db", 0, json.dumps(rows[1:])))
    return seen


def test_web_questionnaires_are_indistinguishable(tmp_path: Path) -> None:
    a = web_questionnaire_flow(tmp_path / "a", 11)
    b = web_questionnaire_flow(tmp_path / "b", 12)
    for x, y in zip(a, b, strict=True):
        assert x == y
    statuses = {label: status for label, status, _ in a}
    assert statuses["record 2"] == 303 and statuses["missing 2"] == statuses["count 2"] == 422
    notices = [label for label, _, body in a if "published &#39;severe&#39; range" in body]
    assert notices == ["day 1", "day 4"]
    assert "[4,2,null,1,5,2]" in a[-1][2]  # the BRS with its third item skipped
