"""Integrity round two (issue 12; docs/design.md T-39, T-40, T-41, T-44): what an adversarial
review broke, attacked the way a participant would, with the sqlite3 module editing the
trial's database file as the sqlite3 shell does, and the real CLI process."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import at, day, make_context, with_clock
from reliability.support import assert_one_error_line, entries, make_small_trial, run_cli

import blindself.trial.log.schema as log_schema
import blindself.trial.log.store as store_mod
from blindself.errors import StoreError, TrialStateError
from blindself.services.daily import record_checkin
from blindself.trial.checkins import CheckinRequest
from blindself.trial.log.store import Store

IGNORE_INSERTS = "CREATE TRIGGER quiet BEFORE INSERT ON entries BEGIN SELECT RAISE(IGNORE); END"
MISMATCH = "commitment: MISMATCH: the revealed allocation does not hash to the init value"


def shell(trial: Path, *sql: str) -> None:
    """What `sqlite3 trial.db` lets anyone with the folder run."""
    conn = sqlite3.connect(trial / "trial.db", isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def trial(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The small trial with its two baseline days and three dose days recorded."""
    t, sheet = make_small_trial(tmp_path)
    by_period = {c["period"]: c["code"] for c in sheet["containers"]}
    for n in range(5):
        req = CheckinRequest(
            date=day(n),
            code=by_period[n - 1] if n >= 2 else None,
            ratings={"mood": 4 + n, "anxiety": 3},
            guess="unsure" if n >= 2 else None,
        )
        record_checkin(t, req, with_clock(make_context(), at(day(n))))
    return t, sheet


# ---------------------------------------------------------------- T-39 foreign schema objects


def test_a_trigger_that_drops_inserts_makes_checkin_fail_not_succeed(
    trial: tuple[Path, dict[str, Any]],
) -> None:
    t, sheet = trial
    shell(t, IGNORE_INSERTS)
    before = entries(t)
    code = next(c["code"] for c in sheet["containers"] if c["period"] == 4)
    proc = run_cli(
        "checkin", "--trial", str(t), "--date", day(5).isoformat(), "--code", code,
        "--rate", "mood=6", "--rate", "anxiety=2", "--guess", "unsure",
    )  # fmt: skip
    err = assert_one_error_line(proc)
    assert "trigger 'quiet' that blindself did not create" in err
    assert "recorded" not in proc.stdout
    assert entries(t) == before


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TRIGGER sqlite_stat9 BEFORE INSERT ON entries BEGIN SELECT RAISE(IGNORE); END",
        "CREATE VIEW sqlite_stat1x AS SELECT * FROM entries",
    ],
    ids=["trigger", "view"],
)
def test_an_object_named_like_sqlite_stat_is_not_exempt(
    trial: tuple[Path, dict[str, Any]], ddl: str
) -> None:
    """Review F1: only the tables ANALYZE writes are exempt from the schema check."""
    t, _ = trial
    shell(t, "PRAGMA writable_schema=ON", ddl)
    name = ddl.split()[2]
    proc = run_cli("verify", "--trial", str(t))
    assert proc.returncode != 0
    assert f"{name!r} that blindself did not create" in proc.stdout + proc.stderr


def test_analyze_statistics_are_still_accepted(trial: tuple[Path, dict[str, Any]]) -> None:
    t, _ = trial
    shell(t, "ANALYZE")
    conn = sqlite3.connect(t / "trial.db")
    try:
        made = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    finally:
        conn.close()
    assert "sqlite_stat1" in made
    proc = run_cli("verify", "--trial", str(t))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_reveal_through_a_store_that_drops_inserts(trial: tuple[Path, dict[str, Any]]) -> None:
    t, sheet = trial
    shell(t, IGNORE_INSERTS)
    before = entries(t)
    code = sheet["containers"][0]["code"]
    broke = run_cli("codebreak", "--trial", str(t), code, "--reason", "peek")
    assert_one_error_line(broke)
    unblind = run_cli("unblind", "--trial", str(t), "--early", "--reason", "peek")
    assert_one_error_line(unblind)
    for proc in (broke, unblind):
        for arm in ("active", "placebo"):
            assert arm not in proc.stdout + proc.stderr
    assert entries(t) == before
    assert not (t / "report").exists()


@pytest.mark.parametrize(
    ("ddl", "named"),
    [
        ("CREATE INDEX by_kind ON entries (kind)", "index 'by_kind'"),
        ("CREATE VIEW peek AS SELECT * FROM entries", "view 'peek'"),
        ("CREATE TABLE notes (x)", "table 'notes'"),
        (
            "CREATE TRIGGER rewrite AFTER INSERT ON entries BEGIN SELECT 1; END",
            "trigger 'rewrite'",
        ),
        ("DROP TRIGGER entries_no_delete", "lost its trigger 'entries_no_delete'"),
    ],
)
def test_every_command_refuses_a_foreign_schema_object(
    trial: tuple[Path, dict[str, Any]], ddl: str, named: str
) -> None:
    t, _ = trial
    shell(t, ddl)
    for args in (["status"], ["verify"], ["export"]):
        err = assert_one_error_line(run_cli(args[0], "--trial", str(t), *args[1:]))
        assert named in err and "outside blindself" in err, err


def test_an_insert_dropped_after_open_is_not_reported_as_stored(tmp_path: Path) -> None:
    """The read-back, apart from the open check: a trigger added while the store is open."""
    path = tmp_path / "trial.db"
    with Store.create(path, trial_id="t-1", genesis={"start": "2026-03-02"}) as store:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(IGNORE_INSERTS)
        conn.close()
        with pytest.raises(StoreError, match="entry 2 was not stored as written"):
            store.append("checkin", "2026-03-02", {"mood": 5})
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    conn.close()


# ---------------------------------------------------------------- T-40 edited allocation


def _swap_arms(t: Path, *, rechain: bool) -> None:
    """Flip every arm of the stored unblind entry; optionally recompute its hash."""
    seq, kind, dday, text, supersedes, prev, _ = entries(t)[-1]
    assert kind == "unblind"
    payload = json.loads(text)
    flip = {"active": "placebo", "placebo": "active"}
    for c in payload["allocation"]["containers"]:
        c["arm"] = flip[c["arm"]]
    new = store_mod._canonical(payload)
    digest = (
        store_mod._entry_hash(seq, kind, dday, json.loads(new), supersedes, prev)
        if rechain
        else entries(t)[-1][6]
    )
    conn = sqlite3.connect(t / "trial.db", isolation_level=None)
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET payload = ?, hash = ? WHERE seq = ?", (new, digest, seq))
    conn.execute(log_schema._TRIGGERS["entries_no_update"])
    conn.close()


@pytest.mark.parametrize("rechain", [False, True])
def test_an_edited_allocation_is_never_rendered(
    trial: tuple[Path, dict[str, Any]], rechain: bool, tmp_path: Path
) -> None:
    t, _ = trial
    first = run_cli("unblind", "--trial", str(t), "--early", "--reason", "check")
    assert first.returncode == 0, first.stderr
    report_before = {p.name: p.read_bytes() for p in (t / "report").iterdir()}
    _swap_arms(t, rechain=rechain)
    verify = run_cli("verify", "--trial", str(t))
    assert MISMATCH in verify.stdout
    assert_one_error_line(verify, exit_code=3)
    for args in (
        ["unblind"],
        ["report"],
        ["report", "--format", "json"],
        ["export"],
        ["share", "-o", str(tmp_path / "bundle.json")],
    ):
        proc = run_cli(args[0], "--trial", str(t), *args[1:])
        err = assert_one_error_line(proc, exit_code=3)
        assert MISMATCH in err, (args, err)
        assert proc.stdout == "", args
    assert not (tmp_path / "bundle.json").exists()
    assert {p.name: p.read_bytes() for p in (t / "report").iterdir()} == report_before


def test_report_json_of_another_allocation_is_refused(trial: tuple[Path, dict[str, Any]]) -> None:
    t, _ = trial
    assert run_cli("unblind", "--trial", str(t), "--early", "--reason", "x").returncode == 0
    path = t / "report" / "report.json"
    data = json.loads(path.read_text())
    data["trial"]["commitment"] = "0" * 64
    path.write_text(json.dumps(data))
    err = assert_one_error_line(run_cli("report", "--trial", str(t)))
    assert "not the report of this trial's checked allocation" in err


def test_a_fifo_in_place_of_the_report_is_refused_not_waited_on(
    trial: tuple[Path, dict[str, Any]],
) -> None:
    """Review F3: a FIFO at report/report.json hung `report` forever (and serve's page)."""
    from blindself.services.diary import report_html

    t, _ = trial
    assert run_cli("unblind", "--trial", str(t), "--early", "--reason", "x").returncode == 0
    for name in ("report.json", "report.html"):
        (t / "report" / name).unlink()
        os.mkfifo(t / "report" / name)
    err = assert_one_error_line(run_cli("report", "--trial", str(t), timeout=60))
    assert "report.json is not a regular file" in err
    with pytest.raises(TrialStateError, match=r"report\.html is not a regular file"):
        report_html(t)


def test_a_fifo_given_to_analyze_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "days.csv"
    os.mkfifo(fifo)
    args = ["--arm-column", "arm", "--active", "a", "--placebo", "p"]
    err = assert_one_error_line(run_cli("analyze", str(fifo), *args, timeout=60))
    assert "is not a regular file" in err


def test_report_says_matches_only_after_checking(trial: tuple[Path, dict[str, Any]]) -> None:
    t, _ = trial
    assert run_cli("unblind", "--trial", str(t), "--early", "--reason", "x").returncode == 0
    stored = json.loads((t / "report" / "report.json").read_text())
    assert "commitment_verified" not in stored["trial"]  # never a stored flag
    text = run_cli("report", "--trial", str(t))
    assert text.returncode == 0, text.stderr
    assert "...: matches the value recorded at init." in text.stdout


# ---------------------------------------------------------------- T-41 what a head proves


def _rechain_from(t: Path, seq_edit: int) -> None:
    """A careful attacker: edit one check-in and recompute every later hash."""
    rows = entries(t)
    payload = json.loads(rows[seq_edit - 1][3])
    payload["ratings"]["mood"] = 10
    new_text = store_mod._canonical(payload)
    statements = []
    prev = rows[seq_edit - 2][6]
    for seq, kind, dday, text, supersedes, _, _ in rows[seq_edit - 1 :]:
        text = new_text if seq == seq_edit else text
        digest = store_mod._entry_hash(seq, kind, dday, json.loads(text), supersedes, prev)
        statements.append((text, prev, digest, seq))
        prev = digest
    conn = sqlite3.connect(t / "trial.db", isolation_level=None)
    for name in log_schema._TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(
        "UPDATE entries SET prev_hash = 'x' || seq, hash = 'y' || seq WHERE seq >= ?", (seq_edit,)
    )
    for text, prev_hash, digest, seq in statements:
        conn.execute(
            "UPDATE entries SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (text, prev_hash, digest, seq),
        )
    for ddl in log_schema._TRIGGERS.values():
        conn.execute(ddl)
    conn.close()


def test_an_early_head_says_what_it_proves_and_a_later_anchor_catches_the_rest(
    trial: tuple[Path, dict[str, Any]],
) -> None:
    t, _ = trial
    init_head = f"1:{entries(t)[0][6]}"
    anchor = run_cli("verify", "--trial", str(t), "--anchor")
    assert anchor.returncode == 0, anchor.stderr
    line = next(x for x in anchor.stdout.splitlines() if x.startswith("anchor: "))
    later = line.split(" head ")[1].split()[0]
    assert later == f"6:{entries(t)[-1][6]}"
    assert "proves entries 1..6 unchanged" in line
    _rechain_from(t, 5)
    early = run_cli("verify", "--trial", str(t), "--expect-head", init_head)
    # It passes (entry 1 is intact), and says it covered entry 1 only, never "the log".
    assert early.returncode == 0
    assert "entries 1..1 match the expected head (later entries are covered only" in early.stdout
    caught = run_cli("verify", "--trial", str(t), "--expect-head", later)
    assert "log: MISMATCH at entry 6: entry 6 differs from the anchored head" in caught.stdout
    assert_one_error_line(caught, 4)


def test_init_does_not_sell_its_head_as_a_rewrite_detector(tmp_path: Path) -> None:
    from helpers import SMALL_PROTOCOL

    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    proc = run_cli("init", str(protocol), str(tmp_path / "t"), "--no-sheet")
    assert proc.returncode == 0, proc.stderr
    assert "detects a rewritten log" not in proc.stdout
    assert "it proves only that entry 1, the trial's setup, is unchanged" in proc.stdout
    assert "blindself verify --anchor" in proc.stdout


# ---------------------------------------------------------------- T-44 symlinks


def test_unblind_never_writes_through_a_linked_report_folder(
    trial: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    t, _ = trial
    outside = tmp_path / "outside"
    outside.mkdir()
    (t / "report").symlink_to(outside)
    proc = run_cli("unblind", "--trial", str(t), "--early", "--reason", "x")
    err = assert_one_error_line(proc)
    assert "report is a symbolic link" in err and "the unblinding is logged" in err
    assert list(outside.iterdir()) == []
    # Once the link is gone, a re-run (idempotent) writes the report inside the trial.
    (t / "report").unlink()
    again = run_cli("unblind", "--trial", str(t))
    assert again.returncode == 0, again.stderr
    assert (t / "report" / "report.html").is_file()
    assert list(outside.iterdir()) == []


def test_unblind_replaces_a_linked_report_file_instead_of_writing_through_it(
    trial: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    t, _ = trial
    assert run_cli("unblind", "--trial", str(t), "--early", "--reason", "x").returncode == 0
    victim = tmp_path / "victim.html"
    victim.write_text("precious")
    (t / "report" / "report.html").unlink()
    (t / "report" / "report.html").symlink_to(victim)
    assert run_cli("unblind", "--trial", str(t)).returncode == 0
    assert victim.read_text() == "precious"
    assert not (t / "report" / "report.html").is_symlink()


@pytest.mark.parametrize("name", ["trial.db", "trial.db-wal"])
def test_a_linked_database_file_is_refused(
    trial: tuple[Path, dict[str, Any]], tmp_path: Path, name: str
) -> None:
    t, _ = trial
    elsewhere = tmp_path / f"elsewhere-{name}"
    if name == "trial.db":
        os.replace(t / name, elsewhere)
    else:
        elsewhere.write_bytes(b"")
    (t / name).symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    err = assert_one_error_line(run_cli("checkin", "--trial", str(t), "--rate", "mood=5"))
    assert f"{name} is a symbolic link" in err
    assert elsewhere.read_bytes() == before


# ---------------------------------------------------------------- minor (issue 12 item 10)


def test_verify_names_a_schema_change_without_entry_none(
    trial: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema changed between open and verify (a concurrent sqlite3 shell)."""
    from blindself.services.integrity import verify_trial

    t, _ = trial
    real = store_mod.schema_problem
    calls = []

    def changed_after_open(conn: sqlite3.Connection) -> str | None:
        calls.append(1)
        if len(calls) == 1:
            shell(t, "CREATE VIEW peek AS SELECT * FROM entries")
            return None
        return real(conn)

    monkeypatch.setattr(store_mod, "schema_problem", changed_after_open)
    out = verify_trial(t, None)
    assert not out.ok
    assert "log: BROKEN: the database holds a view 'peek'" in out.lines[0]
    assert "None" not in "\n".join(out.lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "mood=5", "--rate", "mood=6"], "'mood' is given twice"),
        (["--rate", "mood=5", "--rate", " mood =6"], "'mood' is given twice"),
        (["--date", "20260302"], "'20260302' is not a date; use YYYY-MM-DD"),
        (["--date", "2026-W10-1"], "'2026-W10-1' is not a date; use YYYY-MM-DD"),
        (["--date", "2026-3-2"], "'2026-3-2' is not a date; use YYYY-MM-DD"),
    ],
)
def test_ambiguous_checkin_input_is_refused(
    trial: tuple[Path, dict[str, Any]], args: list[str], message: str
) -> None:
    t, _ = trial
    before = entries(t)
    proc = run_cli("checkin", "--trial", str(t), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert entries(t) == before
