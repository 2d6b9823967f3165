"""Public pages: signup, confirm, unsubscribe (incl. RFC 8058 one-click); Dutch, no JS needed.

A GET of a link in mail (confirm, unsubscribe) only shows a page with a button: mail
scanners fetch every link. The confirm page's small script (web/static/confirm.js, our own
origin) presses the button for a real browser; without it the button does the same.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from course.loader import Course
from delivery.transitions import unstamp_enqueued
from emails.tokens import TokenError, TokenExpired
from subscribers import optin, service, signup
from subscribers.origins import OriginCheck, check_origin, cors_headers, preflight_headers
from subscribers.validation import TIMEZONE_FIELD, SignupCheck, check_signup, clean_timezone
from tasks.sending import send_batch
from web.context import celery, runtime, wants_json
from web.courses import COURSE_FIELD, front_course, live_course, live_courses, page_course
from web.courses import page as _page

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGES = {
    "bad_json": "De gegevens zijn geen geldige JSON.",
    "json_object": "Stuur de velden als een JSON-object.",
    "media_type": "Stuur het formulier als formulier of als JSON.",
    "origin": "Aanmelden vanaf deze website is niet toegestaan.",
    "rate": "Te veel aanmeldingen vanaf jouw adres. Wacht even en probeer het opnieuw.",
    "too_large": "Het formulier is te groot. Vul alleen je e-mailadres en voornaam in.",
    "too_deep": "De gegevens zijn te diep genest. Stuur alleen je e-mailadres en voornaam.",
    "course": "Deze cursus bestaat niet (meer). Kies een cursus op de aanmeldpagina.",
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


def _problem(status: int, message: str, *, field: str = "form") -> Response:
    """Answer an error as JSON ({"errors": {...}}) or as a Dutch page, as the client prefers."""
    if wants_json():
        response = jsonify(errors={field: message})
        response.status_code = status
        return response
    return _page("public/message.html", status, title="Dat ging niet goed", message=message)


@bp.get("/")
def signup_page() -> ResponseReturnValue:
    """Show the signup course and its form, or the list of courses when there is no default."""
    course = front_course()
    if course is None:
        return _page("public/courses.html", courses=live_courses())
    return _page("public/signup.html", course=course, check=SignupCheck())


@bp.get("/cursus/<slug>")
def course_page(slug: str) -> ResponseReturnValue:
    """Show one live course and its own signup form (its own consent text)."""
    course = live_course(slug)
    if course is None:
        return _problem(404, MESSAGES["course"], field=COURSE_FIELD)
    return _page("public/signup.html", course=course, check=SignupCheck())


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
    response = _handle_subscribe(verdict)
    if verdict is OriginCheck.CROSS_ALLOWED:
        response.headers.update(cors_headers(origin or ""))
    return response


def _read_submission() -> dict[str, Any] | Response:
    # A signup is a few short fields; the webhook keeps the app's larger limit. A declared
    # length over the cap is refused unread; a chunked body is read one byte past the cap at
    # most, so a longer one shows. The form and JSON parsers below reuse the bytes read here.
    limit = runtime().settings.subscribe_max_bytes
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        abort(413)  # answered in Dutch by too_large
    if request.mimetype == "application/json":
        try:
            data = request.get_json(silent=True)
        except RecursionError:
            # Deeply nested JSON makes the parser give up with RecursionError, not ValueError.
            return _problem(400, MESSAGES["too_deep"], field="body")
        if data is None:
            return _problem(400, MESSAGES["bad_json"], field="body")
        if not isinstance(data, dict):
            return _problem(422, MESSAGES["json_object"], field="body")
        return data
    if request.mimetype in FORM_TYPES or (not request.mimetype and not request.content_length):
        return {key: request.form.get(key) for key in request.form}
    return _problem(415, MESSAGES["media_type"], field="body")


def _handle_subscribe(verdict: OriginCheck) -> Response:
    settings = runtime().settings
    data = _read_submission()
    if isinstance(data, Response):
        return data
    requested = data.get(COURSE_FIELD)
    course = live_course(requested if isinstance(requested, str) else None)
    if course is None or (requested is not None and not isinstance(requested, str)):
        return _problem(422, MESSAGES["course"], field=COURSE_FIELD)
    check = check_signup(data, check_deliverability=settings.check_email_deliverability)
    if check.errors:
        if wants_json():
            response = jsonify(errors=check.errors)
            response.status_code = 422
            return response
        return _page("public/signup.html", 400, course=course, check=check)
    if check.honeypot or check.signup is None:
        # A bot filled the hidden field: look exactly like success, store and send nothing.
        return _check_inbox(course)
    source = request.headers.get("Origin") or None
    nurture = runtime()
    with nurture.session() as session:
        outcome = service.subscribe(
            nurture,
            session,
            check.signup,
            source=source,
            channel=_signup_channel(verdict),
            ip=request.remote_addr,
            course=course,
        )
    # Published whether or not it is to be sent (a skipped one is simply not claimed): the
    # same work for every address, so the timing tells nobody whether it was known.
    _send_soon(outcome.confirmation_id)
    return _check_inbox(course)


def _signup_channel(verdict: OriginCheck) -> str:
    """Name where a signup came from, for the consent history."""
    if request.is_json:
        return signup.API
    return signup.EMBED if verdict is OriginCheck.CROSS_ALLOWED else signup.FORM


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


def _check_inbox(course: Course) -> Response:
    if wants_json():
        return jsonify(status="check_inbox")
    return _page("public/check_inbox.html", course=course)


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    """Show one button that confirms; a GET confirms nothing, as mail scanners fetch links."""
    nurture = runtime()
    confirmation_id = _read_confirm_token(token)
    if isinstance(confirmation_id, Response):
        return confirmation_id
    with nurture.session() as session:
        standing = service.confirm_standing(nurture, session, confirmation_id)
    if standing.result == optin.READY:
        course = page_course(standing.course_slug)
        response = _page("public/confirm.html", course=course, token=token)
        response.headers["Cache-Control"] = "no-store"
        return response
    return _confirm_answer(standing)


@bp.post("/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    """Confirm the signup: the page's button (or its script, in a browser) posts here."""
    nurture = runtime()
    confirmation_id = _read_confirm_token(token)
    if isinstance(confirmation_id, Response):
        return confirmation_id
    with nurture.session() as session:
        zone = clean_timezone(request.form.get(TIMEZONE_FIELD))  # the browser's (timezone.js)
        outcome = service.confirm(nurture, session, confirmation_id, request.remote_addr, zone)
    return _confirm_answer(outcome)


def _read_confirm_token(token: str) -> int | Response:
    """Return the confirmation id TOKEN names, or the Dutch page saying why it doesn't work."""
    try:
        return runtime().tokens.read_confirm(token)
    except TokenExpired:
        return _page("public/confirm_invalid.html", 410, reason="expired", check=SignupCheck())
    except TokenError:
        return _page("public/confirm_invalid.html", 400, reason="invalid", check=SignupCheck())


def _confirm_answer(outcome: service.ConfirmOutcome) -> Response:
    course = page_course(outcome.course_slug)
    if outcome.result in (optin.CONFIRMED, optin.ALREADY):
        return _page(
            "public/confirmed.html",
            course=course,
            first_name=outcome.first_name,
            result=outcome.result,
        )
    reason = "outdated" if outcome.result == optin.OUTDATED else "invalid"
    return _page(
        "public/confirm_invalid.html", 400, course=course, reason=reason, check=SignupCheck()
    )
