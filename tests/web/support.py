"""Web test helpers: a trial, an app with a fixed clock and seeded secrets, a paired client."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSPHRASE, SMALL_PROTOCOL, START, at, make_context

from blindself.services.context import Context
from blindself.services.setup import init_trial
from blindself.web.app import create_app, pairing_token

HOST = "127.0.0.1:8765"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def seeded_bytes(seed: int = 99) -> Any:
    """A deterministic ``token_bytes`` (tests only: production uses ``secrets``)."""
    rng = np.random.default_rng(seed)
    return lambda n: bytes(rng.bytes(n))


def make_trial(tmp_path: Path, blinding: str = "helper", alloc_seed: int = 1) -> Path:
    protocol = tmp_path / f"protocol-{blinding}.toml"
    protocol.write_text(SMALL_PROTOCOL.format(blinding=blinding))
    directory = tmp_path / f"trial-{blinding}-{alloc_seed}"
    init_trial(
        protocol,
        directory,
        passphrase=PASSPHRASE,
        ctx=make_context(alloc_seed=alloc_seed, other_seed=7),
        start=START,
        no_sheet=True,
    )
    return directory


def public_schedule(trial: Path) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{trial / 'trial.db'}?mode=ro", uri=True)
    try:
        payload = con.execute("SELECT payload FROM entries WHERE seq = 1").fetchone()[0]
    finally:
        con.close()
    return dict(json.loads(payload)["schedule"])


def entries(trial: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{trial / 'trial.db'}?mode=ro", uri=True)
    try:
        return list(con.execute("SELECT seq, kind, day, payload FROM entries ORDER BY seq"))
    finally:
        con.close()


def app_for(
    trial: Path, now: datetime | None = None, seed: int = 99, ctx: Context | None = None
) -> Flask:
    context = ctx or make_context(now=now or at(START))
    app = create_app(trial, context=context, token_bytes=seeded_bytes(seed), hosts={HOST})
    app.testing = True
    return app


@dataclass
class Browser:
    """A Flask test client that behaves like a paired browser: Host header, CSRF tokens."""

    app: Flask
    client: FlaskClient
    csrf: str = ""

    def get(self, path: str, **kw: Any) -> Any:
        r = self.client.get(path, headers={"Host": HOST, **kw.pop("headers", {})}, **kw)
        return self._seen(r)

    def post(self, path: str, data: dict[str, Any], csrf: bool = True, **kw: Any) -> Any:
        body = {"csrf": self.csrf, **data} if csrf else data
        r = self.client.post(path, data=body, headers={"Host": HOST, **kw.pop("headers", {})}, **kw)
        return self._seen(r)

    def _seen(self, r: Any) -> Any:
        r.get_data()  # read, then close (a file response keeps its file open until closed)
        r.close()
        found = CSRF.search(r.get_data().decode("utf-8", "replace"))
        if found:
            self.csrf = found.group(1)
        return r


def browser(app: Flask, pair: bool = True) -> Browser:
    b = Browser(app, app.test_client())
    if pair:
        token = pairing_token(app)
        b.get(f"/pair?token={token}")
        r = b.post("/pair", {"token": token})
        assert r.status_code == 303, r.get_data(as_text=True)
        b.get("/pair?token=-")  # the pairing page shows the new session's CSRF token
    return b


def day_iso(n: int) -> str:
    from datetime import timedelta

    return (START + timedelta(days=n)).isoformat()


def today_is(n: int) -> datetime:
    from datetime import timedelta

    return at(START + timedelta(days=n))


__all__ = ["PASSPHRASE", "START", "date"]


# --- a real ``blindself serve`` process ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"^(http://127\.0\.0\.1:(\d+)/pair\?token=[A-Za-z0-9_-]+)$", re.M)


def serve_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("BLINDSELF_")}
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["BLINDSELF_TEST_KDF"] = "1"
    return env


def live_today() -> date:
    """Today's trial day by the real clock (the protocol's zone is UTC; days start at 04:00)."""
    from datetime import UTC, timedelta

    return (datetime.now(UTC) - timedelta(hours=4)).date()


def live_trial(
    tmp_path: Path, blinding: str = "helper", days_ago: int = 3, protocol_text: str | None = None
) -> Path:
    """A trial whose day ``days_ago`` (0-based) is today by the real clock."""
    from datetime import timedelta

    today = live_today()
    protocol = tmp_path / "live-protocol.toml"
    protocol.write_text(protocol_text or SMALL_PROTOCOL.format(blinding=blinding))
    directory = tmp_path / "live-trial"
    init_trial(
        protocol,
        directory,
        passphrase=PASSPHRASE,
        ctx=make_context(now=at(today)),
        start=today - timedelta(days=days_ago),
        no_sheet=True,
    )
    return directory


class Served:
    """``blindself serve`` in its own process on a free loopback port; stopped by Ctrl-C."""

    def __init__(self, trial: Path, *extra: str) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "blindself",
                "serve",
                "--trial",
                str(trial),
                "--port",
                "0",
                *extra,
            ],
            env=serve_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = URL_LINE.match(line.strip())
        if not found:
            self.stop()
            raise AssertionError(f"no URL printed: {line!r} {self.stderr}")
        self.first_line = line
        self.url = found.group(1)
        self.port = int(found.group(2))
        self.base = f"http://127.0.0.1:{self.port}"
        self.stdout = ""
        self.stderr = ""
        self.returncode: int | None = None

    def stop(self) -> None:
        """Ctrl-C, as a person stops it; then collect what it printed."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.stdout, self.stderr = out, err
        self.returncode = self.proc.returncode

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpClient:
    """A cookie-keeping HTTP client that does not follow redirects (urllib only)."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )
        self.csrf = ""

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        import urllib.error
        import urllib.parse
        import urllib.request

        body = None
        if data is not None:
            body = urllib.parse.urlencode({"csrf": self.csrf, **data}).encode()
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
            e.close()
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return status, text

    def pair(self, url: str) -> None:
        token = url.rsplit("=", 1)[1]
        self.request(f"/pair?token={token}")
        status, _ = self.request("/pair", {"token": token})
        assert status == 303
        self.request("/pair?token=-")
