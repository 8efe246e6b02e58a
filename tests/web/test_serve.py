"""``blindself serve`` as a person runs it: its own process, loopback, stopped by Ctrl-C."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from helpers import Invoke
from web.support import HttpClient, Served, entries, live_today, live_trial, public_schedule

from blindself.trial.codes import format_code


def test_serve_prints_one_url_pairs_records_and_logs_nothing_of_it(tmp_path: Path) -> None:
    trial = live_trial(tmp_path)
    today = live_today()
    code = format_code(public_schedule(trial)["periods"][1]["code"])
    with Served(trial) as server:
        assert server.first_line.strip() == server.url  # the URL alone on its line
        client = HttpClient(server.base)
        assert client.request("/status")[0] == 403
        client.pair(server.url)
        status, page = client.request("/")
        assert status == 200 and code in page
        assert (
            client.request("/code", {"date": today.isoformat(), "code": code, "action": "next"})[0]
            == 200
        )
        refused = {"date": today.isoformat(), "code": code, "rate-mood": "77", "rate-anxiety": "2"}
        assert (
            client.request("/checkin", {**refused, "guess": "unsure", "note": "okapi-note"})[0]
            == 422
        )
        form = {**refused, "rate-mood": "8", "guess": "placebo", "confidence": "90"}
        assert client.request("/checkin", {**form, "note": "okapi-note"})[0] == 303
        status, _ = client.request(
            f"/day/{today.isoformat()}",
            {**form, "rate-mood": "6", "note": "okapi-note", "reason": "quokka-reason"},
        )
        assert status == 303
        # DNS rebinding, through the real server: a foreign Host header is refused.
        assert client.request("/status", headers={"Host": f"evil.example:{server.port}"})[0] == 400
    assert server.returncode == 0, server.stderr
    assert "Stopped." in server.stderr
    printed = server.stdout + server.stderr
    for secret in ("okapi-note", "quokka-reason", code, code.replace("-", ""), "placebo", "mood"):
        assert secret not in printed, secret
    assert server.url.rsplit("=", 1)[1] not in printed  # the token only on the URL line
    assert "a device paired" in server.stderr
    kinds = [kind for _, kind, _, _ in entries(trial)]
    assert kinds == ["init", "checkin", "correction"]
    assert json.loads(entries(trial)[-1][3])["reason"] == "quokka-reason"


def test_serve_listens_on_loopback_only(tmp_path: Path) -> None:
    trial = live_trial(tmp_path)
    with Served(trial) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        others = [a for a in _local_addresses() if not a.startswith("127.")]
        for addr in others:
            with pytest.raises(OSError):
                socket.create_connection((addr, server.port), timeout=2).close()


def _local_addresses() -> list[str]:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return [s.getsockname()[0]]
    except OSError:
        return []


def test_serve_refuses_a_folder_that_is_not_a_trial(tmp_path: Path, invoke: Invoke) -> None:
    r = invoke(["serve", "--trial", str(tmp_path), "--port", "0"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ") and "not a blindself trial" in r.stderr
    assert r.stderr.count("\n") == 1


def test_serve_refuses_a_port_in_use(tmp_path: Path, invoke: Invoke) -> None:
    trial = live_trial(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = invoke(["serve", "--trial", str(trial), "--port", str(port)])
    assert r.exit_code == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr


def test_serve_rejects_a_bad_port(tmp_path: Path, invoke: Invoke) -> None:
    r = invoke(["serve", "--trial", str(tmp_path), "--port", "70000"])
    assert r.exit_code == 2 and "70000 is not in 0-65535" in r.stderr


def test_lan_prints_the_lan_url_and_a_qr_code(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--lan binds the LAN address (here stood in for by 127.0.0.2) and prints a QR code."""
    import blindself.web.server as server_mod

    trial = live_trial(tmp_path)
    monkeypatch.setattr(server_mod, "lan_address", lambda: "127.0.0.2")
    ran: list[str] = []
    monkeypatch.setattr(server_mod.Server, "run", lambda self: ran.append(self.url))
    r = invoke(["serve", "--trial", str(trial), "--port", "0", "--lan"])
    assert r.exit_code == 0, r.stderr
    url = r.stdout.splitlines()[0]
    assert url.startswith("http://127.0.0.2:") and "/pair?token=" in url and ran == [url]
    qr = r.stdout.splitlines()[1:]
    assert len(qr) > 10 and all("█" in line or "▀" in line or "▄" in line for line in qr[2:-2])
    assert "plain HTTP" in r.stderr
    import segno

    assert segno.make(url, error="m").symbol_size(border=0)[0] > 20  # a QR of the URL fits


def test_without_lan_there_is_no_qr_code(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import blindself.web.server as server_mod

    trial = live_trial(tmp_path)
    monkeypatch.setattr(server_mod.Server, "run", lambda self: None)
    r = invoke(["serve", "--trial", str(trial), "--port", "0"])
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 and r.stdout.startswith("http://127.0.0.1:")
    assert "this computer only" in r.stderr


def test_serve_has_help(invoke: Invoke) -> None:
    r = invoke(["serve", "--help"])
    assert r.exit_code == 0 and "--lan" in r.stdout and "pairing token" in r.stdout
