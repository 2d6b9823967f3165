"""The studio at /admin/courses: the course list and the lesson editor with its live preview.

Typing in the editor saves the draft (debounced, web/static/studio.js) and answers with the
course check's problems, so the check runs as one types; the preview is the draft rendered
by the real renderer for a preview recipient, shown in a sandboxed frame with its own CSP.
Versions, settings and publishing: web/studio_versions.py; a course from an article:
web/studio_article.py.
"""

from __future__ import annotations

from dataclasses import asdict

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, Response, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from course.content import Content
from course.drafts import open_draft, update_lesson
from course.loader import CourseError
from course.placing import place_problems
from delivery.proof import send_proof
from emails.render import Recipient
from providers.base import SendError
from subscribers.accounts import SEND_TESTS, WRITE_DRAFTS
from subscribers.studio import check_draft
from web.auth import admin_page, require_admin, requires
from web.context import runtime, wants_json
from web.studio_support import (
    CourseProblem,
    EditConflict,
    author,
    check_seen,
    course_listing,
    course_page,
    course_problems,
    lesson_of,
    lesson_problems,
    stamp,
    working_content,
    working_course,
)

bp = Blueprint("studio", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)

# The check's limits, shown as counters (longer is saved, and then blocks publishing).
LIMITS = {"subject": 70, "preheader": 140, "teaser": 0, "body": 0}
CONFLICT = (
    "Iemand anders heeft deze les intussen gewijzigd. Kopieer je tekst, laad de pagina "
    "opnieuw en voeg je wijziging weer toe."
)
LONGEST = 100_000  # no field of a lesson is longer; a bigger form is a mistake or abuse
# The mail's own inline styles, nothing else: no script, no form, no request of ours.
# Framed by the editor page only (the app's own headers forbid every frame).
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox; "
    "frame-ancestors 'self'"
)


@bp.get("")
def courses() -> ResponseReturnValue:
    """List the courses: status, subscribers, live version and its date."""
    with runtime().session() as session:
        listing = course_listing(session)
    return admin_page("admin/studio/courses.html", courses=listing)


@bp.get("/<slug>")
def course(slug: str) -> ResponseReturnValue:
    """Show a course's lessons, and what blocks publishing its draft."""
    return course_page(slug)


@bp.get("/<slug>/lessons/<int:day>")
def lesson(slug: str, day: int) -> ResponseReturnValue:
    """Show the lesson editor: front matter fields, Markdown body, preview, check, test mail."""
    with runtime().session() as session:
        content, is_draft = working_content(session, slug)
    lesson = lesson_of(content, day)
    problems = check_draft(runtime(), slug) if is_draft else []
    by_field, course_wide = _sorted(slug, content, problems, lesson["name"])
    message = runtime().renderer.lesson(working_course(runtime(), slug), day, _preview_to())
    return admin_page(
        "admin/studio/lesson.html",
        slug=slug,
        lesson=lesson,
        days=[int(each["day"]) for each in content["lessons"]],
        is_draft=is_draft,
        problems=problems,
        by_field=by_field,
        course_wide=course_wide,
        seen=stamp(lesson),
        text_part=message.text,
        limits=LIMITS,
    )


@bp.post("/<slug>/lessons/<int:day>")
@requires(WRITE_DRAFTS)
def save_lesson(slug: str, day: int) -> ResponseReturnValue:
    """Save the lesson's fields in the draft; answer with the check's problems (JSON) or a page."""
    fields = {name: request.form.get(name, "") for name in LIMITS if name in request.form}
    if any(len(value) > LONGEST for value in fields.values()):
        return _refuse(slug, day, "Deze tekst is te lang om op te slaan.")
    nurture = runtime()
    seen = request.form.get("seen", "")
    try:
        with nurture.session() as session:
            with_lesson = open_draft(session, slug, author=author(), now=nurture.now())
            if seen:
                check_seen(seen, lesson_of(with_lesson.content, day))
            draft = update_lesson(session, slug, day, author=author(), now=nurture.now(), **fields)
            content = draft.content
            saved = lesson_of(content, day)
    except EditConflict:
        return _refuse(slug, day, CONFLICT, 409)
    except CourseError as exc:
        return _refuse(slug, day, str(exc))
    problems = check_draft(nurture, slug)
    if not wants_json():
        flash("De les is opgeslagen in het concept.")
        return redirect(url_for("studio.lesson", slug=slug, day=day))
    message = nurture.renderer.lesson(working_course(nurture, slug), day, _preview_to())
    by_field, course_wide = _sorted(slug, content, problems, saved["name"])
    return jsonify(
        saved=True,
        problems=problems,
        by_field=by_field,
        course_wide=[asdict(problem) for problem in course_wide],
        text=message.text,
        subject=saved["subject"],
        preheader=saved["preheader"],
        seen=stamp(saved),
    )


def _sorted(
    slug: str, content: Content, problems: list[str], lesson_name: str
) -> tuple[dict[str, list[str]], list[CourseProblem]]:
    """Return this lesson's PROBLEMS by field, and those of the whole course (to show on top)."""
    placed = place_problems(slug, content, problems)
    settings = url_for("studio_versions.settings_form", slug=slug)
    return lesson_problems(placed, lesson_name), course_problems(placed, settings)


def _refuse(slug: str, day: int, message: str, status: int = 400) -> ResponseReturnValue:
    if wants_json():
        return jsonify(saved=False, error=message), status
    flash(message)
    return redirect(url_for("studio.lesson", slug=slug, day=day))


def _preview_to() -> Recipient:
    """Return the made-up recipient of previews: untracked links, placeholder tokens."""
    return Recipient(
        subscriber_id=0, email="voorbeeld@example.org", first_name="Anna", preview=True
    )


@bp.get("/<slug>/lessons/<int:day>/preview")
def preview(slug: str, day: int) -> ResponseReturnValue:
    """Return the lesson's HTML exactly as sent (from the draft), for the sandboxed frame."""
    course = working_course(runtime(), slug)
    if not 1 <= day <= course.days:
        return Response("Deze les bestaat niet.", status=404, mimetype="text/plain")
    message = runtime().renderer.lesson(course, day, _preview_to())
    headers = {"Content-Security-Policy": PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"}
    return Response(message.html, headers=headers)


@bp.post("/<slug>/lessons/<int:day>/test")
@requires(SEND_TESTS)
def send_test(slug: str, day: int) -> ResponseReturnValue:
    """Send this lesson of the draft as a proof to an address (no subscriber is involved)."""
    back = redirect(url_for("studio.lesson", slug=slug, day=day))
    try:
        address = validate_email(
            request.form.get("address", "")[:320], check_deliverability=False
        ).normalized
    except EmailNotValidError:
        flash("Vul een geldig e-mailadres in voor de testmail.")
        return back
    nurture = runtime()
    try:
        send_proof(nurture, working_course(nurture, slug), address, day=day)
    except (CourseError, SendError):
        flash("De testmail kon niet worden verstuurd. Probeer het later opnieuw.")
        return back
    flash(f"Testmail van dag {day} verstuurd naar {address}.")
    return back
