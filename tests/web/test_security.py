"""docs/design.md T-50: each protection of the web app, tested by an attempt it must refuse."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import make_context
from web.support import (
    HOST,
    app_for,
    browser,
    day_iso,
    entries,
    make_trial,
    public_schedule,
    today_is,
)

from blindself.web.app import pairing_token
from blindself.web.security import CSP, MAX_FAILURES

PAGES = ["/", "/status", "/calendar", "/report", f"/day/{day_iso(0)}"]


@pytest.fixture
def trial(tmp_path: Path) -> Path:
    return make_trial(tmp_path)


def good_checkin(trial: Path, n: int = 2) -> dict[str, str]:
    code = public_schedule(trial)["periods"][n - 2]["code"]
    return {
        "date": day_iso(n),
        "code": code,
        "rate-mood": "7",
        "rate-anxiety": "3",
        "guess": "placebo",
        "confidence": "60",
        "note": "slept badly",
    }


def test_token_has_at_least_128_bits(trial: Path) -> None:
    token = pairing_token(app_for(trial)) or ""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert pairing_token(app_for(trial, seed=1)) != pairing_token(app_for(trial, seed=2))


def test_every_page_is_refused_before_pairing(trial: Path) -> None:
    b = browser(app_for(trial, now=today_is(2)), pair=False)
    for path in PAGES:
        r = b.get(path)
        assert r.status_code == 403, path
        assert "not paired" in r.get_data(as_text=True)
        assert "Small test trial" not in r.get_data(as_text=True)
    b.get("/pair?token=x")  # a CSRF token, as a page of the app would have
    r = b.post("/checkin", good_checkin(trial))
    assert r.status_code == 403
    assert len(entries(trial)) == 1


def test_a_wrong_token_pairs_nothing(trial: Path) -> None:
    app = app_for(trial)
    b = browser(app, pair=False)
    b.get("/pair?token=nope")
    r = b.post("/pair", {"token": "nope"})
    assert r.status_code == 403
    assert "not the one blindself serve printed" in r.get_data(as_text=True)
    assert b.get("/status").status_code == 403
    r = b.post("/pair", {"token": ""})
    assert r.status_code == 403


def test_the_token_pairs_one_device_only(trial: Path) -> None:
    app = app_for(trial)
    token = pairing_token(app)
    first = browser(app)
    assert first.get("/status").status_code == 200
    assert pairing_token(app) is None
    second = browser(app, pair=False)
    second.get(f"/pair?token={token}")
    r = second.post("/pair", {"token": token})
    assert r.status_code == 403
    assert "already used" in r.get_data(as_text=True)
    assert second.get("/status").status_code == 403


def test_failed_tokens_are_rate_limited(trial: Path) -> None:
    now = [today_is(0)]
    ctx = make_context(now=now[0])
    from dataclasses import replace

    ctx = replace(ctx, clock=lambda: now[0])
    app = app_for(trial, ctx=ctx)
    token = pairing_token(app)
    b = browser(app, pair=False)
    b.get("/pair?token=guess")
    for _ in range(MAX_FAILURES):
        r = b.post("/pair", {"token": "guess"})
        assert r.status_code == 403
        assert "not the one blindself serve printed" in r.get_data(as_text=True)
    r = b.post("/pair", {"token": token})  # even the right token, while locked
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert b.get("/status").status_code == 403
    now[0] += timedelta(seconds=61)
    assert b.post("/pair", {"token": token}).status_code == 303
    assert b.get("/status").status_code == 200


def test_one_address_cannot_lock_out_another(trial: Path) -> None:
    """Review F17: five wrong tokens from one device locked pairing for everyone."""
    from blindself.web.security import MAX_FAILURES_ALL

    app = app_for(trial, now=today_is(0))
    token = pairing_token(app)
    attacker = browser(app, pair=False)
    attacker.get("/pair?token=guess")
    there = {"environ_base": {"REMOTE_ADDR": "10.0.0.66"}}
    for _ in range(MAX_FAILURES):
        assert attacker.post("/pair", {"token": "guess"}, **there).status_code == 403
    assert attacker.post("/pair", {"token": "guess"}, **there).status_code == 429
    # Many addresses together still meet the global limit (defence in depth).
    for n in range(MAX_FAILURES_ALL - MAX_FAILURES):
        where = {"environ_base": {"REMOTE_ADDR": f"10.0.{n // 200}.{n % 200 + 1}"}}
        attacker.post("/pair", {"token": "guess"}, **where)
    person = browser(app, pair=False)
    person.get(f"/pair?token={token}")
    home = {"environ_base": {"REMOTE_ADDR": "10.0.0.5"}}
    assert person.post("/pair", {"token": token}, **home).status_code == 429


def test_the_persons_device_pairs_while_another_is_locked(trial: Path) -> None:
    app = app_for(trial, now=today_is(0))
    token = pairing_token(app)
    attacker = browser(app, pair=False)
    attacker.get("/pair?token=guess")
    there = {"environ_base": {"REMOTE_ADDR": "10.0.0.66"}}
    for _ in range(MAX_FAILURES + 3):
        attacker.post("/pair", {"token": "guess"}, **there)
    person = browser(app, pair=False)
    person.get(f"/pair?token={token}")
    home = {"environ_base": {"REMOTE_ADDR": "10.0.0.5"}}
    assert person.post("/pair", {"token": token}, **home).status_code == 303
    assert person.get("/status").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(trial: Path) -> None:
    b = browser(app_for(trial, now=today_is(2)))
    r = b.post("/checkin", good_checkin(trial), csrf=False)
    assert r.status_code == 403
    r = b.post("/checkin", {**good_checkin(trial), "csrf": "x" * 43}, csrf=False)
    assert r.status_code == 403
    assert len(entries(trial)) == 1
    assert b.post("/checkin", good_checkin(trial)).status_code == 303  # the control
    assert len(entries(trial)) == 2


def test_a_csrf_token_of_another_session_is_refused(trial: Path) -> None:
    app = app_for(trial, now=today_is(2))
    mine, theirs = browser(app), browser(app_for(trial, now=today_is(2), seed=5))
    r = mine.post("/checkin", {**good_checkin(trial), "csrf": theirs.csrf}, csrf=False)
    assert r.status_code == 403
    assert len(entries(trial)) == 1


def test_a_session_cookie_of_another_server_is_refused(trial: Path) -> None:
    """A restarted server (new key) does not honour the old cookie: pair again."""
    old = browser(app_for(trial, seed=1))
    new_app = app_for(trial, seed=2)
    client = new_app.test_client()
    cookie = old.client.get_cookie("blindself-8765", domain="127.0.0.1")
    assert cookie is not None
    client.set_cookie("blindself-8765", cookie.value, domain="127.0.0.1")
    assert client.get("/status", headers={"Host": HOST}).status_code == 403


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "evil.example", "127.0.0.1:9999", "127.0.0.1", "", "[::1]:8765"]
)
def test_a_foreign_host_header_is_refused(trial: Path, host: str) -> None:
    """DNS rebinding: a page of evil.example re-resolved to 127.0.0.1 sends its own Host."""
    b = browser(app_for(trial, now=today_is(2)))
    for path in ["/status", "/pair", "/static/app.css"]:
        r = b.client.get(path, headers={"Host": host})
        assert r.status_code == 400, (host, path)
        assert "Small test trial" not in r.get_data(as_text=True)
    r = b.client.post(
        "/checkin", data={**good_checkin(trial), "csrf": b.csrf}, headers={"Host": host}
    )
    assert r.status_code == 400
    assert len(entries(trial)) == 1


def test_localhost_is_allowed_on_loopback_only(tmp_path: Path) -> None:
    from web.support import seeded_bytes

    from blindself.web.app import create_app

    trial = make_trial(tmp_path)
    app = create_app(
        trial,
        context=make_context(),
        token_bytes=seeded_bytes(),
        hosts={"192.168.1.20:8765"},
    )
    assert app.test_client().get("/pair", headers={"Host": "localhost:8765"}).status_code == 400
    assert app.test_client().get("/pair", headers={"Host": "192.168.1.20:8765"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_post_is_refused_even_with_the_csrf_token(
    trial: Path, headers: dict[str, str]
) -> None:
    b = browser(app_for(trial, now=today_is(2)))
    r = b.post("/checkin", good_checkin(trial), headers=headers)
    assert r.status_code == 403
    assert len(entries(trial)) == 1
    same = {"Origin": f"http://{HOST}", "Sec-Fetch-Site": "same-origin"}
    assert b.post("/checkin", good_checkin(trial), headers=same).status_code == 303


def test_no_cors_ever(trial: Path) -> None:
    b = browser(app_for(trial, now=today_is(2)))
    evil = {"Origin": "http://evil.example"}
    for r in [
        b.get("/status", headers=evil),
        b.client.options(
            "/checkin", headers={"Host": HOST, **evil, "Access-Control-Request-Method": "POST"}
        ),
        b.post("/checkin", good_checkin(trial), headers=evil),
    ]:
        assert not [h for h in r.headers.keys() if h.lower().startswith("access-control-")]
    r = b.client.options("/checkin", headers={"Host": HOST, **evil})
    assert r.status_code == 405


def test_session_cookie_is_httponly_and_samesite_strict(trial: Path) -> None:
    app = app_for(trial)
    b = browser(app, pair=False)
    token = pairing_token(app)
    b.get(f"/pair?token={token}")
    r = b.post("/pair", {"token": token})
    cookies = r.headers.getlist("Set-Cookie")
    assert cookies
    for c in cookies:
        attrs = [a.strip().lower() for a in c.split(";")]
        assert "httponly" in attrs, c
        assert "samesite=strict" in attrs, c
        assert not any(a.startswith(("domain=", "expires=", "max-age=")) for a in attrs), c


def test_every_response_carries_the_csp_and_no_store(trial: Path) -> None:
    b = browser(app_for(trial, now=today_is(2)))
    responses = [b.get(p) for p in [*PAGES, "/static/app.css", "/manifest.webmanifest", "/nope"]]
    responses.append(b.client.get("/status", headers={"Host": "evil.example"}))
    responses.append(b.post("/checkin", good_checkin(trial), csrf=False))
    for r in responses:
        assert r.headers["Content-Security-Policy"] == CSP
        assert "default-src 'self'" in CSP and "unsafe" not in CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Frame-Options"] == "DENY"
    for r in responses[:5]:
        page = r.get_data(as_text=True)
        assert "<script" not in page and " style=" not in page and " on" + "click" not in page


def test_oversized_forms_are_refused(trial: Path) -> None:
    b = browser(app_for(trial, now=today_is(2)))
    r = b.post("/checkin", {**good_checkin(trial), "note": "x" * 100_000})
    assert r.status_code == 413
    assert len(entries(trial)) == 1


def test_nothing_of_a_check_in_is_logged(trial: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = app_for(trial, now=today_is(3))
    b = browser(app)
    data = good_checkin(trial, 3)
    data.update({"note": "zebra-secret-note", "rate-mood": "9"})
    b.post("/code", {"date": data["date"], "code": data["code"], "action": "next"})
    b.post("/checkin", {**data, "rate-mood": "11"})  # refused
    b.post("/checkin", data)
    b.post(f"/day/{data['date']}", {**data, "reason": "walrus-reason"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in [
        "zebra-secret-note",
        "walrus-reason",
        data["code"],
        "mood",
        "placebo",
        day_iso(3),
    ]:
        assert secret not in logged


_OPENED: list[str] = []
_WATCHING: list[bool] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _WATCHING and event == "open" and args and isinstance(args[0], (str, Path)):
        _OPENED.append(str(args[0]))


def test_the_server_never_opens_the_seal(tmp_path: Path) -> None:
    """Every page and form, before and after unblinding: allocation.seal is never opened."""
    import sys

    from helpers import PASSPHRASE, START, at

    from blindself.services.unblinding import unblind_trial

    trial = make_trial(tmp_path)
    if not getattr(test_the_server_never_opens_the_seal, "hooked", False):
        sys.addaudithook(_audit)  # cannot be removed: it records only while _WATCHING
        test_the_server_never_opens_the_seal.hooked = True  # type: ignore[attr-defined]
    app = app_for(trial, now=today_is(12))
    b = browser(app)
    _OPENED.clear()
    _WATCHING.append(True)
    try:
        for n in range(10):
            form = {"date": day_iso(n), "rate-mood": "5", "rate-anxiety": "5"}
            if n >= 2:
                code = public_schedule(trial)["periods"][n - 2]["code"]
                b.post("/code", {"date": day_iso(n), "code": code, "action": "next"})
                form.update(code=code, guess="unsure")
            assert b.post("/checkin", form).status_code == 303
        b.post(f"/day/{day_iso(0)}", {"rate-mood": "6", "rate-anxiety": "5", "reason": "r"})
        for path in [*PAGES, "/static/app.css", "/manifest.webmanifest"]:
            b.get(path)
        _WATCHING.clear()
        unblind_trial(
            trial, passphrase=PASSPHRASE, ctx=make_context(now=at(START + timedelta(days=12)))
        )
        _WATCHING.append(True)
        for path in PAGES:
            assert b.get(path).status_code in (200, 303), path
        assert "<svg" in b.get("/report").get_data(as_text=True)
    finally:
        _WATCHING.clear()
    assert any(p.endswith("trial.db") for p in _OPENED)  # the hook saw the server's files
    assert not [p for p in _OPENED if p.endswith("allocation.seal")]
