"""Public pages: signup, confirm, unsubscribe (incl. RFC 8058 one-click); Dutch, no JS needed."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from course.loader import load_course
from emails.tokens import TokenError, TokenExpired, read_confirm_token, read_unsubscribe_token
from store.db import session_scope
from subscribers import service
from subscribers.origins import OriginCheck, check_origin, cors_headers, preflight_headers
from subscribers.validation import SignupCheck, check_signup
from web.app import nurture_settings

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Our pages post forms to ourselves; with 'no-referrer' browsers would send `Origin: null`.
PUBLIC_REFERRER_POLICY = "same-origin"
MESSAGES = {
    "bad_json": "De gegevens zijn geen geldige JSON.",
    "json_object": "Stuur de velden als een JSON-object.",
    "media_type": "Stuur het formulier als formulier of als JSON.",
    "origin": "Aanmelden vanaf deze website is niet toegestaan.",
    "rate": "Te veel aanmeldingen vanaf jouw adres. Wacht even en probeer het opnieuw.",
    "unavailable": "Het lukt nu even niet om je aan te melden. Probeer het later opnieuw.",
    "too_large": "Het formulier is te groot. Vul alleen je e-mailadres en voornaam in.",
}


def init_app(app: Flask) -> None:
    """Wire the Redis-backed rate limiter for POST /subscribe."""
    settings = nurture_settings(app)
    limiter = Limiter(
        get_remote_address,
        app=None,
        storage_uri=settings.redis_url,
        key_prefix="nurture-limit",
        default_limits=[settings.rate_limit],
        # With Redis down the broker is down too; our own 503 says so better than a 500.
        swallow_errors=True,
        # Only POST /subscribe counts; unsubscribe (RFC 8058) and the rest are never limited.
        default_limits_exempt_when=lambda: (
            not (request.endpoint == "public.subscribe" and request.method == "POST")
        ),
        on_breach=_too_many_requests,
        headers_enabled=True,
    )
    limiter.init_app(app)
    app.extensions["nurture_limiter"] = limiter


def _too_many_requests(limit: RequestLimit) -> Response:
    return _problem(429, MESSAGES["rate"], field="rate")


def _wants_json() -> bool:
    if request.mimetype == "application/json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(
        render_template(template, course=load_course(), **context),
        status=status,
        mimetype="text/html",
    )
    response.headers["Referrer-Policy"] = PUBLIC_REFERRER_POLICY
    return response


def _problem(status: int, message: str, *, field: str = "form") -> Response:
    """Answer an error as JSON ({"errors": {...}}) or as a Dutch page, as the client prefers."""
    if _wants_json():
        response = jsonify(errors={field: message})
        response.status_code = status
        return response
    return _page("public/message.html", status, title="Dat ging niet goed", message=message)


@bp.get("/")
def signup_page() -> ResponseReturnValue:
    """Show the course and the signup form."""
    return _page("public/signup.html", check=SignupCheck())


@bp.errorhandler(413)
def too_large(_error: Exception) -> ResponseReturnValue:
    """Answer an oversized post in Dutch instead of Werkzeug's English page."""
    return _problem(413, MESSAGES["too_large"], field="body")


@bp.get("/subscribe", provide_automatic_options=False)
def subscribe_get() -> ResponseReturnValue:
    """Send a reloaded or bookmarked /subscribe back to the signup page."""
    return redirect(url_for("public.signup_page"), 303)


@bp.route("/subscribe", methods=["OPTIONS"])
def subscribe_preflight() -> ResponseReturnValue:
    """Answer a CORS preflight: allowed origins only."""
    settings = nurture_settings(current_app)
    origin = request.headers.get("Origin")
    if check_origin(origin, settings) is not OriginCheck.CROSS_ALLOWED:
        return _problem(403, MESSAGES["origin"], field="origin")
    return Response(status=204, headers=preflight_headers(origin or ""))


@bp.post("/subscribe", provide_automatic_options=False)
def subscribe() -> ResponseReturnValue:
    """Take a signup (form or JSON) and send the confirmation mail."""
    settings = nurture_settings(current_app)
    origin = request.headers.get("Origin")
    verdict = check_origin(origin, settings)
    if verdict is OriginCheck.REFUSED:
        return _problem(403, MESSAGES["origin"], field="origin")
    response = _handle_subscribe()
    if verdict is OriginCheck.CROSS_ALLOWED:
        response.headers.update(cors_headers(origin or ""))
    return response


def _read_submission() -> dict[str, Any] | Response:
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if data is None:
            return _problem(400, MESSAGES["bad_json"], field="body")
        if not isinstance(data, dict):
            return _problem(422, MESSAGES["json_object"], field="body")
        return data
    if request.mimetype in FORM_TYPES or (not request.mimetype and not request.content_length):
        return {key: request.form.get(key) for key in request.form}
    return _problem(415, MESSAGES["media_type"], field="body")


def _handle_subscribe() -> Response:
    settings = nurture_settings(current_app)
    data = _read_submission()
    if isinstance(data, Response):
        return data
    check = check_signup(data, check_deliverability=settings.check_email_deliverability)
    if check.errors:
        if _wants_json():
            response = jsonify(errors=check.errors)
            response.status_code = 422
            return response
        return _page("public/signup.html", 400, check=check)
    if check.honeypot or check.signup is None:
        # A bot filled the hidden field: look exactly like success, store and send nothing.
        return _check_inbox()
    source = request.headers.get("Origin") or None
    with session_scope() as session:
        outcome = service.subscribe(session, check.signup, source=source)
    to_confirm = outcome.subscriber_id if outcome.send_confirmation else None
    if to_confirm is not None and not _enqueue_confirmation(to_confirm):
        return _problem(503, MESSAGES["unavailable"])
    return _check_inbox()


def _enqueue_confirmation(subscriber_id: int) -> bool:
    """Queue the confirmation mail after the commit; on a broker outage, undo the throttle."""
    from tasks.app import celery_app  # noqa: F401  (sets the configured app as default)
    from tasks.confirmation import send_confirmation

    try:
        send_confirmation.delay(subscriber_id)
    except Exception:
        log.exception("could not queue the confirmation for subscriber %s", subscriber_id)
        with session_scope() as session:
            service.forget_confirmation_sent(session, subscriber_id)
        return False
    return True


def _check_inbox() -> Response:
    if _wants_json():
        return jsonify(status="check_inbox")
    return _page("public/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    """Confirm a signup from the link in the mail (a GET, as double opt-in links are)."""
    try:
        subscriber_id = read_confirm_token(token)
    except TokenExpired:
        return _page("public/confirm_invalid.html", 410, expired=True, check=SignupCheck())
    except TokenError:
        return _page("public/confirm_invalid.html", 400, expired=False, check=SignupCheck())
    with session_scope() as session:
        outcome = service.confirm(session, subscriber_id, request.remote_addr)
    if outcome.result == "stopped":
        return _page("public/confirm_invalid.html", 400, expired=False, check=SignupCheck())
    return _page("public/confirmed.html", first_name=outcome.first_name, result=outcome.result)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """Show a button; a GET never unsubscribes, as mail scanners fetch links."""
    try:
        read_unsubscribe_token(token)
    except TokenError:
        return _page("public/unsubscribe_invalid.html", 400)
    return _page("public/unsubscribe.html", token=token)


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Unsubscribe: the page's button and RFC 8058 one-click both land here, no login needed."""
    try:
        subscriber_id = read_unsubscribe_token(token)
    except TokenError:
        return _page("public/unsubscribe_invalid.html", 400)
    with session_scope() as session:
        service.unsubscribe(session, subscriber_id)
    return _page("public/unsubscribed.html")
