"""The app factory: one Flask app per trial folder, clock and source of secrets.

Tests build one app per case with a fixed clock and seeded secrets; ``blindself serve``
builds one with the system clock and :func:`secrets.token_bytes`.  Security checks run
before every view (:mod:`blindself.web.security`); the views are in :mod:`blindself.web.views`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from flask import Flask, Response, current_app, g, render_template, request, session

from blindself.services.context import Context
from blindself.web.security import CSP, HEADERS, REPORT_CSP, Guard, same_secret, token_text
from blindself.wording import counted

LOG = logging.getLogger("blindself.web")
MAX_FORM_BYTES = 64 * 1024
# Reachable before pairing: the pairing page itself and the (trial-free) style and manifest.
OPEN_ENDPOINTS = frozenset({"views.pair", "static", "views.manifest"})


@dataclass(frozen=True)
class WebState:
    trial_dir: Path
    context: Context
    guard: Guard
    token_bytes: Callable[[int], bytes]


class _App(Flask):
    # Templates are named *.html.j2 like the rest of the project: escape them all.
    jinja_options = {  # noqa: RUF012 (Flask reads this class attribute)
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        return True

    def log_exception(self, exc_info: Any) -> None:
        # An exception message can quote what was typed (a rating, a note): log the type
        # and the frames only, never the message or the request's data.
        kind, _, tb = exc_info
        frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
        name = kind.__name__ if kind is not None else "error"
        LOG.error("internal error on %s %s: %s (message withheld)\n%s", *_route(), name, frames)


def create_app(
    trial_dir: Path,
    *,
    context: Context,
    token_bytes: Callable[[int], bytes],
    hosts: Iterable[str],
) -> Flask:
    """The check-in app for ``trial_dir``, answering only to ``hosts`` ("addr:port").

    ``token_bytes(n)`` supplies every secret (pairing token, session key, CSRF tokens);
    ``context`` supplies the clock.  The pairing token is :func:`pairing_token`.
    """
    hosts = frozenset(hosts)
    app = _App("blindself.web")
    port = min(h.rpartition(":")[2] for h in hosts)
    app.config.update(
        SECRET_KEY=token_bytes(32),
        # Cookies ignore ports: a name per port keeps two servers on one host apart.
        SESSION_COOKIE_NAME=f"blindself-{port}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,  # plain HTTP (README: what --lan means)
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
        TEMPLATES_AUTO_RELOAD=False,
    )
    guard = Guard(hosts=hosts, pairing_token=token_text(token_bytes), clock=context.now)
    app.extensions["blindself"] = WebState(trial_dir, context, guard, token_bytes)
    app.before_request(_check_request)
    app.after_request(_secure_response)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["count"] = counted

    from blindself.web import views

    app.register_blueprint(views.bp)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _error_page)
    return app


def pairing_token(app: Flask) -> str | None:
    """The one-time pairing token (None once a device has paired)."""
    state: WebState = app.extensions["blindself"]
    return state.guard.pairing_token


def state() -> WebState:
    result: WebState = current_app.extensions["blindself"]
    return result


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = token_text(state().token_bytes)
        session["csrf"] = token
    return token


def _route() -> tuple[str, str]:
    """Method and URL rule (never the path or query: they can carry a date or a token)."""
    rule = request.url_rule.rule if request.url_rule is not None else "-"
    return request.method, rule


def _check_request() -> Response | None:
    guard = state().guard
    if not guard.host_allowed(request.headers.get("Host")):
        return _refuse(400, "This server answers only at the address blindself serve printed.")
    if request.method not in ("GET", "HEAD", "POST"):
        return _refuse(405, "Method not allowed.")
    if request.method == "POST":
        if not guard.same_origin(
            request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site")
        ):
            return _refuse(403, "Refused: this form was not sent from this app's own pages.")
        if not same_secret(request.form.get("csrf"), session.get("csrf")):
            return _refuse(
                403, "Refused: the form is stale or was not sent from this app. Reload the page."
            )
    if request.endpoint not in OPEN_ENDPOINTS and not session.get("paired"):
        return _refuse(
            403,
            "This device is not paired. Open the link that blindself serve printed "
            "on the computer (each link pairs one device).",
        )
    return None


def _refuse(status: int, message: str) -> Response:
    page = render_template("message.html.j2", title="Refused", message=message, nav=False)
    return Response(page, status=status, mimetype="text/html")


def _error_page(exc: Any) -> tuple[str, int]:
    status = int(getattr(exc, "code", 500) or 500)
    messages = {
        400: "The request could not be read.",
        403: "Refused.",
        404: "There is no such page.",
        405: "Method not allowed.",
        413: "The form is too large.",
        429: "Too many attempts: wait a minute and try again.",
    }
    text = messages.get(status, "Something went wrong on the server; nothing was recorded.")
    paired = bool(session.get("paired"))
    return render_template("message.html.j2", title="Error", message=text, nav=paired), status


def _secure_response(response: Response) -> Response:
    csp = REPORT_CSP if g.get("report_page") else CSP
    response.headers["Content-Security-Policy"] = csp
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers.pop("Access-Control-Allow-Origin", None)
    response.vary.add("Cookie")
    return response
