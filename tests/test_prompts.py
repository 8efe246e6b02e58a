"""Interactive check-in and passphrase prompts on a real pseudo-terminal (subprocess)."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from helpers import SMALL_PROTOCOL, Invoke, db_dump

TIMEOUT = 60.0


class Terminal:
    """A child process on a pty; ``expect`` waits for text, ``send`` types a line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "blindself", *args], env)
        self.pid, self.fd, self.buffer = pid, fd, ""

    def expect(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while text not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r}; got {self.buffer!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    chunk = ""
                if not chunk:
                    break
                self.buffer += chunk
        assert text in self.buffer, self.buffer
        seen, self.buffer = self.buffer, self.buffer[self.buffer.index(text) + len(text) :]
        return seen

    def send(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def wait(self) -> tuple[int, str]:
        rest = ""
        while True:
            try:
                chunk = os.read(self.fd, 4096).decode(errors="replace")
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), self.buffer + rest


def test_interactive_init_and_checkin(tmp_path: Path) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLINDSELF_")}
    env["BLINDSELF_TEST_KDF"] = "1"
    start = date.today() - timedelta(days=3)
    sheet = tmp_path / "sheet.json"
    init = Terminal(
        ["init", str(protocol), "trial", "--start", start.isoformat(), "--sheet", str(sheet)],
        env,
        tmp_path,
    )
    init.expect("Passphrase:")
    init.send("a long enough passphrase")
    init.expect("Repeat for confirmation:")
    init.send("a long enough passphrase")
    code, out = init.wait()
    assert code == 0, out
    assert "a long enough passphrase" not in out  # hidden input is not echoed
    # Day 3 of the small protocol is the second dose day (period 2 in helper mode).
    periods = {c["period"]: c["code"] for c in json.loads(sheet.read_text())["containers"]}
    due = periods[2]
    t = Terminal(["checkin", "--trial", "trial"], env, tmp_path)
    t.expect(f"Container code (today: {due})")
    typo = due[:-1] + ("0" if due[-1] != "0" else "1")
    t.send(typo)  # a typo is caught at once and asked again, before any rating
    t.expect("did you mean")
    t.expect(f"Container code (today: {due})")
    t.send(due.lower())
    t.expect("Which did you take?")
    t.send("unsure")
    t.expect("How was your mood? [1-10, higher is better]")
    t.send("7")
    t.expect("How was your anxiety today? [1-10, lower is better]")
    t.send("3")
    t.expect("Note (optional; Enter to skip)")
    t.send("")
    code, out = t.wait()
    assert code == 0, out
    assert "recorded" in out
    rows = db_dump(tmp_path / "trial" / "trial.db")
    payload = json.loads(rows[-1][3])
    assert payload["code"] == due.replace("-", "") and payload["ratings"] == {
        "mood": 7,
        "anxiety": 3,
    }
    assert payload["guess"] == "unsure"


def test_a_too_short_passphrase_is_explained_at_the_first_prompt(tmp_path: Path) -> None:
    """Issue 16: a too-short passphrase was refused only after it was typed twice, aborting
    init.  Now the first prompt explains the rule and asks again, before any confirmation."""
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLINDSELF_")}
    env["BLINDSELF_TEST_KDF"] = "1"
    sheet = tmp_path / "sheet.json"
    init = Terminal(["init", str(protocol), "trial", "--sheet", str(sheet)], env, tmp_path)
    init.expect("Passphrase:")
    init.send("  short  ")  # 5 characters once the spaces at either end are stripped
    seen = init.expect("Passphrase:")
    assert "too short: use at least 8 characters" in seen
    assert "Repeat for confirmation" not in seen
    init.send("a long enough passphrase")
    init.expect("Repeat for confirmation:")
    init.send("a long enough passphrase")
    code, out = init.wait()
    assert code == 0, out
    assert (tmp_path / "trial" / "trial.db").exists()


def test_an_empty_passphrase_file_at_init_asks_for_a_new_passphrase(
    tmp_path: Path, invoke: Invoke
) -> None:
    """adv3 F11: an empty --passphrase-file at init said "type the passphrase chosen at init"
    (while at init).  It states the rule for a new passphrase and creates nothing."""
    protocol = tmp_path / "p.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding="helper"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    r = invoke(["init", str(protocol), str(tmp_path / "trial"), "--no-sheet",
                "--passphrase-file", str(empty)])  # fmt: skip
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "Error: the passphrase is too short: use at least 8 characters, not counting spaces "
        "at either end (or --generate-passphrase)"
    )
    assert not (tmp_path / "trial").exists()
