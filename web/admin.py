"""The clinic's dashboard at /admin: funnel, charts, subscribers, timelines, CSV exports, audit log.

Who may open what: web/auth.py (editors see the dashboard; personal data is for owners).
Viewing a subscriber and each export are written to the admin audit log (subscribers.audit),
with the account that did it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from course.loader import CourseError
from emails.render import Recipient
from store.models import Delivery, DeliveryKind, Subscriber
from subscribers import audit
from subscribers.accounts import PERSONAL_DATA
from subscribers.suppression import suppression_count
from tasks.alert_conditions import current_conditions
from tracking.charts import lesson_chart, signups_chart
from tracking.cta import cta_numbers
from tracking.export import events_csv, subscribers_csv
from tracking.feedback_stats import lesson_feedback
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending
from tracking.rollups import fold_rollups
from tracking.stats import COMPLAINT_WARNING_RATE, funnel, known_courses, signups_per_day
from tracking.timeline import received_lessons, search_subscribers, timeline
from tracking.unsubscribe_reasons import unsubscribe_reasons
from web.auth import current_admin, require_admin, requires
from web.context import hit_intake, runtime
from web.status import status_panel

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_admin)

# Audit entries the dashboard shows, newest first.
AUDIT_PAGE_SIZE = 200


def _catch_up() -> None:
    """Apply waiting webhook batches and queued opens first, so the numbers are current."""
    nurture = runtime()
    try:
        ingest_pending(nurture, limit=20, budget_seconds=2.0)
        hit_intake().spool.ship()  # this process's own hits of the last second count too
        drain_hits(nurture)
        fold_rollups(nurture)
    except Exception:
        log.exception("could not apply pending tracking data before showing the dashboard")


@bp.get("")
@bp.get("/")
def dashboard() -> ResponseReturnValue:
    """Show the funnel, the per-lesson and signups charts and the complaint warning."""
    nurture = runtime()
    settings = nurture.settings
    _catch_up()
    with nurture.session() as session:
        courses = known_courses(session, nurture.courses)
        # The signup course first (known_courses puts it there); ?course= picks another.
        course = request.args.get("course") or courses[0]
        if course not in courses:
            abort(404)
        numbers = funnel(session, nurture.courses, course)
        signups = signups_per_day(
            session, course, settings.zone, nurture.now(), several_courses=len(courses) > 1
        )
        suppressed = suppression_count(session)
        reasons = unsubscribe_reasons(session, course)
        days = [lesson.day for lesson in numbers.lessons]
        feedback = lesson_feedback(session, course, days)
        actions = cta_numbers(session, course, days)
    return render_template(
        "admin/dashboard.html",
        funnel=numbers,
        courses=courses,
        course=course,
        lesson_chart=lesson_chart(numbers.lessons),
        signups_chart=signups_chart(signups),
        warning_rate=COMPLAINT_WARNING_RATE,
        suppressed=suppressed,
        unsubscribe_reasons=reasons,
        feedback=feedback,
        actions=actions,
        # The alert conditions (the ones mailed to NURTURE_ALERT_EMAIL) as banners.
        alerts=[alert for alert in current_conditions(nurture) if alert.banner],
        # `nurture doctor`'s checks: the cheap ones live, the slow ones as last stored.
        status=status_panel(nurture),
    )


@bp.get("/embed")
def embed() -> ResponseReturnValue:
    """Show ?course='s signup page address and its form to paste on the clinic's website."""
    nurture = runtime()
    slug = request.args.get("course") or nurture.settings.course
    if slug not in nurture.courses.slugs():
        abort(404)
    course = nurture.courses.get(slug)
    base_url = nurture.settings.base_url
    snippet = render_template("admin/_embed_snippet.html", course=course, base_url=base_url)
    page_url = f"{base_url}/cursus/{course.slug}"
    return render_template("admin/embed.html", course=course, snippet=snippet, page_url=page_url)


@bp.get("/subscribers")
@requires(PERSONAL_DATA)
def subscribers() -> ResponseReturnValue:
    """List subscribers, searchable by address, a page at a time."""
    # No address holds a NUL, and PostgreSQL refuses one in a query parameter (a 500).
    query = request.args.get("q", "").replace("\x00", "")[:320]
    page = request.args.get("page", 1, type=int) or 1
    with runtime().session() as session:
        result = search_subscribers(session, query, page)
    return render_template("admin/subscribers.html", result=result, query=query)


@bp.get("/subscribers/<int:subscriber_id>")
@requires(PERSONAL_DATA)
def subscriber_detail(subscriber_id: int) -> ResponseReturnValue:
    """Show one subscriber and their timeline."""
    _catch_up()
    with runtime().session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            abort(404)
        entries = timeline(session, subscriber)
        mails = received_lessons(session, subscriber_id)
        _audit(session, audit.VIEW_SUBSCRIBER, target=f"subscriber:{subscriber_id}")
    return render_template(
        "admin/subscriber.html", subscriber=subscriber, entries=entries, mails=mails
    )


@bp.get("/subscribers/<int:subscriber_id>/mail/<int:delivery_id>")
@requires(PERSONAL_DATA)
def received_mail(subscriber_id: int, delivery_id: int) -> ResponseReturnValue:
    """Show a lesson exactly as this subscriber received it: the course version it was sent from."""
    nurture = runtime()
    with nurture.session() as session:
        delivery = session.get(Delivery, delivery_id)
        subscriber = session.get(Subscriber, subscriber_id)
        if (
            delivery is None
            or subscriber is None
            or delivery.subscriber_id != subscriber_id
            or delivery.kind != DeliveryKind.LESSON
            or delivery.sent_at is None
        ):
            abort(404)
        _audit(session, audit.VIEW_SUBSCRIBER, target=f"subscriber:{subscriber_id}")
    try:
        course = nurture.courses.get_version(delivery.course_slug, delivery.course_version)
        # preview: untracked links, so looking at it here counts no click or open.
        recipient = Recipient(
            subscriber_id, subscriber.email or "", subscriber.first_name, delivery_id, preview=True
        )
        message = nurture.renderer.lesson(course, delivery.day, recipient)
    except (CourseError, KeyError):
        return Response(
            "Deze cursusversie of les is niet meer te tonen.", status=404, mimetype="text/plain"
        )
    # The mail's own inline styles, nothing else: no script, no form, no request of ours.
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox"
    return Response(message.html, headers={"Content-Security-Policy": policy})


def _audit(session: Session, action: str, target: str | None = None) -> None:
    """Log ACTION by whoever is logged in, in SESSION's transaction."""
    audit.record_admin_action(
        session, actor=current_admin().actor, action=action, target=target, now=runtime().now()
    )


def _log_export(action: str, course: str | None = None) -> None:
    with runtime().session() as session:
        _audit(session, action, target=f"course:{course}" if course else None)


def _csv_response(chunks: object, filename: str) -> Response:
    return Response(
        chunks,  # type: ignore[arg-type]
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _export_course() -> str | None:
    """Return the ?course= of an export (None: every course), refusing an unknown one."""
    slug = request.args.get("course") or None
    if slug is not None:
        with runtime().session() as session:
            if slug not in known_courses(session, runtime().courses):
                abort(404)
    return slug


def _export_name(name: str, course: str | None) -> str:
    return f"{name}-{course}.csv" if course else f"{name}.csv"


@bp.get("/export/subscribers.csv")
@requires(PERSONAL_DATA)
def export_subscribers() -> ResponseReturnValue:
    """Download the subscribers (of ?course=, or all) as CSV."""
    course = _export_course()
    _log_export(audit.EXPORT_SUBSCRIBERS, course)
    chunks = subscribers_csv(runtime().sessions, course)
    return _csv_response(chunks, _export_name("subscribers", course))


@bp.get("/export/events.csv")
@requires(PERSONAL_DATA)
def export_events() -> ResponseReturnValue:
    """Download the email events (of ?course=, or all) as CSV."""
    course = _export_course()
    _catch_up()
    _log_export(audit.EXPORT_EVENTS, course)
    return _csv_response(events_csv(runtime().sessions, course), _export_name("events", course))


@bp.get("/audit")
@requires(PERSONAL_DATA)
def audit_log() -> ResponseReturnValue:
    """Show the latest views, exports, erasures and suppression changes: who and when."""
    with runtime().session() as session:
        entries = audit.latest_admin_actions(session, AUDIT_PAGE_SIZE)
    page = render_template(
        "admin/audit.html", entries=entries, labels=audit.ACTION_LABELS, limit=AUDIT_PAGE_SIZE
    )
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})
