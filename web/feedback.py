"""The reader's answers to "Was deze les nuttig?", and bookings reported by the booking page.

GET /r/<token>/ja|nee shows a thank-you page, its POST records; POST /api/conversions takes
the call to action's booking reference (docs/conversions.md).

A GET of a rating link records nothing, since mail scanners fetch every link; the page's own
script (web/static/rating.js) posts the answer at once for a person's browser, and without
scripts the page's button does. tracking.ratings says why, and how scanners are left out.
The rating links of an erased reader answer that their data was erased, and record nothing;
a booking reported from an erased reader's mail is answered as for a reference not ours.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from course.loader import Course, CourseError
from emails.lesson_links import PREVIEW_TOKEN, rating_click_url
from emails.tokens import TokenError
from subscribers.origins import OriginCheck, check_origin, cors_headers, preflight_headers
from tracking import conversions, ratings
from web.context import hit_intake, runtime, wants_json

bp = Blueprint("feedback", __name__)

ANSWERS = {"ja": True, "nee": False}
MESSAGES = {
    "bad_link": "Deze link werkt niet. Open de link opnieuw vanuit de e-mail, of kopieer het "
    "volledige adres in je browser.",
    "too_long": f"Je opmerking is te lang: schrijf maximaal {ratings.COMMENT_MAX_CHARS} tekens.",
    "bad_token": "De boekingscode ontbreekt of klopt niet.",
    "origin": "Boekingen melden vanaf deze website is niet toegestaan.",
    "erased": "Je gegevens zijn bij ons gewist. Daarom bewaren we via deze link niets meer: "
    "ook je antwoord en je opmerking niet.",
    "preview": "Dit is een proefmail. In een echte les opent deze link een bedankpagina met "
    "ruimte voor een opmerking, en telt het antwoord van de lezer mee.",
}


def _course(slug: str | None) -> Course | None:
    try:
        return runtime().courses.get(slug)
    except (CourseError, OSError):
        return None


def _page(template: str, status: int = 200, *, slug: str | None = None, **context: Any) -> Response:
    response = Response(
        render_template(template, course=_course(slug), **context),
        status=status,
        mimetype="text/html",
    )
    # Our form posts to ourselves; no search engine should keep a reader's personal link.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _bad_link() -> Response:
    if wants_json():
        response = jsonify(errors={"link": MESSAGES["bad_link"]})
        response.status_code = 400
        return response
    return _page(
        "public/message.html", 400, title="Deze link werkt niet", message=MESSAGES["bad_link"]
    )


def _erased() -> Response:
    if wants_json():
        response = jsonify(errors={"link": MESSAGES["erased"]})
        response.status_code = 410
        return response
    return _page("public/message.html", 410, title="Gegevens gewist", message=MESSAGES["erased"])


def _lesson(token: str, answer: str) -> ratings.RatedLesson | None:
    if answer not in ANSWERS:
        return None
    nurture = runtime()
    try:
        delivery_id = nurture.tokens.read_rating(token)
    except TokenError:
        return None
    with nurture.session() as session:
        return ratings.rated_lesson(session, delivery_id)


def _title(lesson: ratings.RatedLesson) -> str:
    course = _course(lesson.course_slug)
    try:
        found = course.lesson(lesson.day) if course else None
    except KeyError:
        found = None
    return (found.title or found.subject) if found else ""


@bp.get("/r/<token>/<answer>")
def rating_page(token: str, answer: str) -> ResponseReturnValue:
    """Show thanks and a comment box; the page's script (or its button) posts the answer."""
    if token == PREVIEW_TOKEN:
        # A proof mail (`nurture send-test`): nobody's answer to save.
        return _page("public/message.html", title="Proefmail", message=MESSAGES["preview"])
    lesson = _lesson(token, answer)
    if lesson is None:
        return _bad_link()
    if lesson.erased:
        return _erased()  # and no click: nothing new may point at them
    # A click like any other (no rating): a scanner walking the mail shows in its burst.
    hit_intake().record(
        "click",
        lesson.delivery_id,
        request.headers.get("User-Agent"),
        rating_click_url(runtime().settings.base_url, answer),
        client=request.remote_addr,
    )
    return _rating_page(lesson, token, answer)


def _rating_page(
    lesson: ratings.RatedLesson,
    token: str,
    answer: str,
    status: int = 200,
    *,
    comment: str = "",
    error: str | None = None,
) -> Response:
    return _page(
        "public/rating.html",
        status,
        slug=lesson.course_slug,
        token=token,
        answer=answer,
        day=lesson.day,
        lesson_title=_title(lesson),
        comment=comment,
        error=error,
    )


@bp.post("/r/<token>/<answer>")
def rate(token: str, answer: str) -> ResponseReturnValue:
    """Record the answer (and comment) unless a scanner sent it; the answer looks the same."""
    lesson = _lesson(token, answer)
    if lesson is None:
        return _bad_link()
    if lesson.erased:
        return _erased()
    comment = ratings.clean_comment(request.form.get("opmerking"))
    if len(comment) > ratings.COMMENT_MAX_CHARS:
        if wants_json():
            response = jsonify(errors={"opmerking": MESSAGES["too_long"]})
            response.status_code = 400
            return response
        return _rating_page(lesson, token, answer, 400, comment=comment, error=MESSAGES["too_long"])
    vote = ratings.Vote(
        useful=ANSWERS[answer],
        comment=comment,
        user_agent=request.headers.get("User-Agent"),
        client=request.remote_addr,
    )
    nurture = runtime()
    with nurture.session() as session:
        result = ratings.record_vote(nurture, session, lesson.delivery_id, vote)
    if result == ratings.ERASED:
        return _erased()  # erased since the page was read: the vote waited for it
    if wants_json():
        return jsonify(status="ok")
    return _page("public/rated.html", slug=lesson.course_slug, commented=bool(comment))


@bp.route("/api/conversions", methods=["OPTIONS"])
def conversions_preflight() -> ResponseReturnValue:
    """Answer the CORS preflight of a booking page on an allowed origin."""
    origin = request.headers.get("Origin")
    if check_origin(origin, runtime().settings) is not OriginCheck.CROSS_ALLOWED:
        return _json_error(403, "origin")
    return Response(status=204, headers=preflight_headers(origin or ""))


@bp.post("/api/conversions")
def report_conversion() -> ResponseReturnValue:
    """Record a booking for the email whose call-to-action reference the body carries."""
    nurture = runtime()
    origin = request.headers.get("Origin")
    verdict = check_origin(origin, nurture.settings)
    if verdict is OriginCheck.REFUSED:
        return _json_error(403, "origin")
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    token = data.get("token") if isinstance(data, dict) else None
    try:
        delivery_id = nurture.tokens.read_conversion(token) if isinstance(token, str) else None
    except TokenError:
        delivery_id = None
    result = conversions.UNKNOWN
    if delivery_id is not None:
        with nurture.session() as session:
            result = conversions.record_conversion(nurture, session, delivery_id)
    if result == conversions.UNKNOWN:
        response = _json_error(400, "bad_token", field="token")
    else:
        response = jsonify(status=result)
        response.status_code = 201 if result == conversions.RECORDED else 200
    if verdict is OriginCheck.CROSS_ALLOWED:
        response.headers.update(cors_headers(origin or ""))
    return response


def _json_error(status: int, key: str, *, field: str | None = None) -> Response:
    response = jsonify(errors={field or key: MESSAGES[key]})
    response.status_code = status
    return response
