"""Public pages: signup, confirm, unsubscribe (incl. RFC 8058 one-click); Dutch, no JS needed."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from delivery.transitions import unstamp_enqueued
from emails.tokens import TokenError, TokenExpired
from subscribers import service
from subscribers.origins import OriginCheck, check_origin, cors_headers, preflight_headers
from subscribers.validation import SignupCheck, check_signup
from tasks.sending import send_batch
from web.context import celery, runtime, wants_json

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
    "too_large": "Het formulier is te groot. Vul alleen je e-mailadres en voornaam in.",
}


def init_app(app: Flask) -> None:
    """Wire the Redis-backed rate limiter for POST /subscribe."""
    settings = app.extensions["nurture"].settings
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


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(
        render_template(template, course=runtime().courses.get(), **context),
        status=status,
        mimetype="text/html",
    )
    response.headers["Referrer-Policy"] = PUBLIC_REFERRER_POLICY
    return response


def _problem(status: int, message: str, *, field: str = "form") -> Response:
    """Answer an error as JSON ({"errors": {...}}) or as a Dutch page, as the client prefers."""
    if wants_json():
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
    settings = runtime().settings
    origin = request.headers.get("Origin")
    if check_origin(origin, settings) is not OriginCheck.CROSS_ALLOWED:
        return _problem(403, MESSAGES["origin"], field="origin")
    return Response(status=204, headers=preflight_headers(origin or ""))


@bp.post("/subscribe", provide_automatic_options=False)
def subscribe() -> ResponseReturnValue:
    """Take a signup (form or JSON) and send the confirmation mail."""
    settings = runtime().settings
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
    settings = runtime().settings
    data = _read_submission()
    if isinstance(data, Response):
        return data
    check = check_signup(data, check_deliverability=settings.check_email_deliverability)
    if check.errors:
        if wants_json():
            response = jsonify(errors=check.errors)
            response.status_code = 422
            return response
        return _page("public/signup.html", 400, check=check)
    if check.honeypot or check.signup is None:
        # A bot filled the hidden field: look exactly like success, store and send nothing.
        return _check_inbox()
    source = request.headers.get("Origin") or None
    nurture = runtime()
    with nurture.session() as session:
        outcome = service.subscribe(nurture, session, check.signup, source=source)
    if outcome.confirmation_id is not None:
        _send_soon(outcome.confirmation_id)
    return _check_inbox()


def _send_soon(delivery_id: int) -> None:
    """Hand the committed confirmation to a worker now; with Redis down, to the dispatcher.

    The delivery row is already stored, so the visitor is signed up either way; only the
    moment the email goes out depends on Redis.
    """
    try:
        celery().send_task(send_batch.name, args=([delivery_id],), retry=False)
    except Exception as exc:
        log.warning(
            "confirmation %s stored, not queued (%s); the dispatcher sends it", delivery_id, exc
        )
        with runtime().transaction() as connection:
            unstamp_enqueued(connection, delivery_id)


def _check_inbox() -> Response:
    if wants_json():
        return jsonify(status="check_inbox")
    return _page("public/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    """Confirm a signup from the link in the mail (a GET, as double opt-in links are)."""
    nurture = runtime()
    try:
        subscriber_id = nurture.tokens.read_confirm(token)
    except TokenExpired:
        return _page("public/confirm_invalid.html", 410, expired=True, check=SignupCheck())
    except TokenError:
        return _page("public/confirm_invalid.html", 400, expired=False, check=SignupCheck())
    with nurture.session() as session:
        outcome = service.confirm(nurture, session, subscriber_id, request.remote_addr)
    if outcome.result == "stopped":
        return _page("public/confirm_invalid.html", 400, expired=False, check=SignupCheck())
    return _page("public/confirmed.html", first_name=outcome.first_name, result=outcome.result)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """Show a button; a GET never unsubscribes, as mail scanners fetch links."""
    try:
        runtime().tokens.read_unsubscribe(token)
    except TokenError:
        return _page("public/unsubscribe_invalid.html", 400)
    return _page("public/unsubscribe.html", token=token)


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Unsubscribe: the page's button and RFC 8058 one-click both land here, no login needed."""
    nurture = runtime()
    try:
        subscriber_id = nurture.tokens.read_unsubscribe(token)
    except TokenError:
        return _page("public/unsubscribe_invalid.html", 400)
    with nurture.session() as session:
        service.unsubscribe(nurture, session, subscriber_id)
    return _page("public/unsubscribed.html")
