"""Routes: parse the form, make one services call, render a template.

A refused check-in re-shows the form with the services' message and the person's entries
(status 422), and nothing is stored: the services validate before they append.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)

from blindself.errors import BlindselfError
from blindself.services.checkin_checks import check_code
from blindself.services.context import Context
from blindself.services.daily import form_for, record_checkin, trial_status
from blindself.services.diary import (
    CheckinForm,
    calendar_days,
    checkin_view,
    missed_dates,
    report_html,
    severe_notice,
)
from blindself.web.app import LOG, state
from blindself.web.forms import (
    CONFIDENCE_STEPS,
    checkin_request,
    controls,
    form_values,
    parse_date,
    questionnaires,
    recorded_values,
)
from blindself.wording import count

bp = Blueprint("views", __name__)
REFUSED = 422


def _page(template: str, status: int = 200, **kw: Any) -> tuple[str, int]:
    return render_template(template, nav=True, **kw), status


# --------------------------------------------------------------------------- pairing
@bp.route("/pair", methods=["GET", "POST"])
def pair() -> Any:
    guard = state().guard
    if request.method == "GET":
        token = request.args.get("token", "")
        return render_template("pair.html.j2", nav=False, token=token[:100], error=None)
    client = request.remote_addr or ""
    wait = guard.locked_for(client)
    result = guard.pair(request.form.get("token"), client)
    if result == "paired":
        session.clear()  # a fresh session (and CSRF token) for the paired device
        session["paired"] = True
        LOG.warning("a device paired; the pairing link no longer works")
        return redirect(url_for("views.checkin"), 303)
    if result == "locked":
        page = render_template(
            "pair.html.j2",
            nav=False,
            token="",
            error=f"Too many wrong pairing links: wait {wait or guard.locked_for(client)} s.",
        )
        return Response(page, 429, {"Retry-After": str(wait or guard.locked_for(client))})
    LOG.warning("refused a pairing attempt (%s token)", "spent" if result == "used" else "wrong")
    error = (
        "This pairing link was already used. Restart blindself serve for a new one."
        if result == "used"
        else "This pairing link is not the one blindself serve printed."
    )
    return render_template("pair.html.j2", nav=False, token="", error=error), 403


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    resp = send_from_directory(bp.root_path + "/static", "manifest.webmanifest")
    resp.mimetype = "application/manifest+json"
    return resp


# --------------------------------------------------------------------------- check-in
@bp.get("/")
def checkin() -> Any:
    s = state()
    try:
        view = checkin_view(s.trial_dir, parse_date(request.args.get("date")), s.context)
    except BlindselfError as exc:
        return _page("closed.html.j2", unblinded=False, message=exc.plain)
    if view.form is None:
        return _page("closed.html.j2", unblinded=True, message=None)
    form = view.form
    if view.recorded is not None:
        return redirect(url_for("views.day", when=form.day.date.isoformat()), 303)
    if form.needs_code:
        return _code_step(form, {}, None)
    return _rating_step(form, {}, None)


@bp.post("/code")
def code() -> Any:
    s = state()
    values = form_values(request.form)
    try:
        form = form_for(s.trial_dir, parse_date(request.form.get("date")), s.context)
    except BlindselfError as exc:
        return _page("closed.html.j2", REFUSED, unblinded=False, message=exc.plain)
    if request.form.get("action") == "skip":
        return _rating_step(form, {"no_capsule": "1"}, None)
    try:
        # The rule the command line's prompt applies (services.checkin_checks), shared.
        verdict = check_code(s.trial_dir, form.day.date, request.form.get("code", ""), s.context)
    except BlindselfError as exc:
        return _code_step(form, values, exc.plain, REFUSED)
    if verdict.status == "refused" or verdict.code is None:
        return _code_step(form, values, verdict.plain or verdict.message, REFUSED)
    if verdict.status == "confirm" and request.form.get("action") != "confirm":
        # Another bag's envelope or another day's container: confirmed before any rating.
        return _page("confirm.html.j2", form=form, verdict=verdict)
    return _rating_step(form, {"code": verdict.code}, None)


@bp.post("/checkin")
def record() -> Any:
    s = state()
    try:
        when = parse_date(request.form.get("date"))
        if when is None:
            when = form_for(s.trial_dir, None, s.context).day.date
        outcome = record_checkin(s.trial_dir, checkin_request(when, request.form), s.context)
    except BlindselfError as exc:
        # Only a refusal needs the form again (one more read of the trial).
        try:
            form = form_for(s.trial_dir, parse_date(request.form.get("date")), s.context)
        except BlindselfError as closed:
            return _page("closed.html.j2", REFUSED, unblinded=False, message=closed.plain)
        return _rating_step(form, form_values(request.form), exc.plain, REFUSED)
    _confirm(outcome)
    return redirect(url_for("views.day", when=when.isoformat()), 303)


def _code_step(
    form: CheckinForm, values: dict[str, str], error: str | None, status: int = 200
) -> tuple[str, int]:
    return _page("code.html.j2", status, form=form, values=values, error=error)


def _rating_step(
    form: CheckinForm, values: dict[str, str], error: str | None, status: int = 200
) -> tuple[str, int]:
    return _form_page("checkin.html.j2", form, values, error, status, correcting=False)


def _form_page(
    template: str,
    form: CheckinForm,
    values: dict[str, str],
    error: str | None,
    status: int,
    **extra: Any,
) -> tuple[str, int]:
    """A page with the day's rating, guess and note controls (a check-in or a correction)."""
    return _page(
        template,
        status,
        form=form,
        values=values,
        controls=controls(form, values),
        questionnaires=questionnaires(form, values),
        confidence_steps=CONFIDENCE_STEPS,
        error=error,
        **extra,
    )


def _confirm(outcome: Any) -> None:
    e = outcome.entry
    session.pop("_flashes", None)  # only the latest confirmation: the cookie stays small
    if outcome.status == "already recorded":
        flash(f"{e.day}: already recorded (entry {e.seq}); nothing changed.", "ok")
    else:
        flash(f"{e.day}: {outcome.status} (entry {e.seq}, head {e.seq}:{e.hash[:16]}).", "ok")
    for d in outcome.deviations:
        flash(f"Recorded with a deviation flag ({d}); the analysis reports it.", "note")
    for o in outcome.severe:
        # The terminal's sentence, said once per entry into the band (docs/design.md#instruments).
        flash(severe_notice(o), "note")
    for rule in outcome.stop_rules:
        flash(
            f"STOP RULE MET: {rule.outcome} reached {rule.threshold:g} on {count(rule.days, 'day')}. "
            f"{rule.message} To stop, on the computer run: blindself unblind --early --reason "
            "TEXT, or open one container with blindself codebreak CODE --reason TEXT.",
            "stop",
        )


# --------------------------------------------------------------------------- corrections
@bp.route("/day/<when>", methods=["GET", "POST"])
def day(when: str) -> Any:
    s = state()
    try:
        on = parse_date(when)
        if on is None:
            abort(404)
        view = checkin_view(s.trial_dir, on, s.context)
    except BlindselfError as exc:
        return _page("closed.html.j2", 404, unblinded=False, message=exc.plain)
    if view.form is None:
        return _page("closed.html.j2", unblinded=True, message=None)
    form, recorded = view.form, view.recorded
    if recorded is None:
        message = f"nothing is recorded on {on}; check in for that day first"
        return _page("closed.html.j2", 404, unblinded=False, message=message)
    if request.method == "GET":
        return _day_page(form, recorded, recorded_values(recorded), None)
    try:
        req = checkin_request(on, request.form, replace=True)
        outcome = record_checkin(s.trial_dir, req, s.context)
    except BlindselfError as exc:
        return _day_page(form, recorded, form_values(request.form), exc.plain, REFUSED)
    _confirm(outcome)
    return redirect(url_for("views.day", when=on.isoformat()), 303)


def _day_page(
    form: CheckinForm, recorded: Any, values: dict[str, str], error: str | None, status: int = 200
) -> tuple[str, int]:
    return _form_page(
        "day.html.j2", form, values, error, status, recorded=recorded, correcting=True
    )


# --------------------------------------------------------------------------- reading
@bp.get("/status")
def status() -> Any:
    return _reading(
        "status.html.j2",
        lambda d, c: {"st": trial_status(d, c), "missed": missed_dates(d, c)},
    )


@bp.get("/calendar")
def calendar() -> Any:
    return _reading(
        "calendar.html.j2",
        lambda d, c: {"days": calendar_days(d, c), "st": trial_status(d, c)},
    )


def _reading(template: str, load: Callable[[Path, Context], dict[str, Any]]) -> Any:
    """A page that only reads the trial: what ``load`` finds, or why it cannot (503)."""
    s = state()
    try:
        found = load(s.trial_dir, s.context)
    except BlindselfError as exc:
        return _page("closed.html.j2", 503, unblinded=False, message=exc.plain)
    return _page(template, **found)


@bp.get("/report")
def report() -> Any:
    s = state()
    try:
        html = report_html(s.trial_dir)
    except BlindselfError as exc:
        return _page("report_blind.html.j2", message=exc.plain)
    g.report_page = True
    return Response(html, mimetype="text/html")
