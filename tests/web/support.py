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
        found = CSRF.search(r.get_data(as_text=True))
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
