"""The clinic's dashboard at /admin: funnel, charts, subscribers, timelines, CSV exports, audit log.

Viewing a subscriber and each export are written to the admin audit log (subscribers.audit).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from store.models import Subscriber
from subscribers import audit
from subscribers.caps import waiting_confirmations
from subscribers.suppression import suppression_count
from tracking.charts import lesson_chart, signups_chart
from tracking.export import events_csv, subscribers_csv
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending
from tracking.stats import COMPLAINT_WARNING_RATE, funnel, known_courses, signups_per_day
from tracking.timeline import search_subscribers, timeline
from tracking.unsubscribe_reasons import unsubscribe_reasons
from web.admin_lockout import WINDOW_SECONDS, take_slot
from web.context import hit_intake, runtime
from web.status import status_panel

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Audit entries the dashboard shows, newest first.
AUDIT_PAGE_SIZE = 200


def _ask_for_login(message: str) -> Response:
    return Response(
        message,
        status=401,
        mimetype="text/plain",
        headers={"WWW-Authenticate": 'Basic realm="Nurture beheer", charset="UTF-8"'},
    )


@bp.before_request
def require_password() -> ResponseReturnValue | None:
    """Refuse everything while no password is set; otherwise ask for it (HTTP Basic)."""
    password = runtime().settings.admin_password
    if not password:
        return Response(
            "Het beheer is uitgeschakeld: stel NURTURE_ADMIN_PASSWORD in om het te openen.",
            status=403,
            mimetype="text/plain",
        )
    auth = request.authorization
    if auth is None:
        return _ask_for_login("Log in met het beheerwachtwoord.")
    # Count the guess before checking it (web/admin_lockout.py): a burst cannot outrun it.
    slot = take_slot()
    if slot is None:
        return Response(
            "Te veel mislukte inlogpogingen. Probeer het over enkele minuten opnieuw.",
            status=429,
            mimetype="text/plain",
            headers={"Retry-After": str(WINDOW_SECONDS)},
        )
    given = (auth.password or "").encode()
    if not hmac.compare_digest(given, password.encode()):
        return _ask_for_login("Onjuist wachtwoord.")
    slot.give_back()
    return None


def _catch_up() -> None:
    """Apply waiting webhook batches and queued opens first, so the numbers are current."""
    nurture = runtime()
    try:
        ingest_pending(nurture, limit=20, budget_seconds=2.0)
        hit_intake().spool.ship()  # this process's own hits of the last second count too
        drain_hits(nurture)
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
        signups = signups_per_day(session, course, settings.zone, nurture.now())
        suppressed = suppression_count(session)
        waiting = waiting_confirmations(session, nurture.now())
        reasons = unsubscribe_reasons(session, course)
    return render_template(
        "admin/dashboard.html",
        funnel=numbers,
        courses=courses,
        course=course,
        lesson_chart=lesson_chart(numbers.lessons),
        signups_chart=signups_chart(signups),
        warning_rate=COMPLAINT_WARNING_RATE,
        suppressed=suppressed,
        waiting_confirmations=waiting,
        unsubscribe_reasons=reasons,
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
def subscribers() -> ResponseReturnValue:
    """List subscribers, searchable by address, a page at a time."""
    # No address holds a NUL, and PostgreSQL refuses one in a query parameter (a 500).
    query = request.args.get("q", "").replace("\x00", "")[:320]
    page = request.args.get("page", 1, type=int) or 1
    with runtime().session() as session:
        result = search_subscribers(session, query, page)
    return render_template("admin/subscribers.html", result=result, query=query)


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber_detail(subscriber_id: int) -> ResponseReturnValue:
    """Show one subscriber and their timeline."""
    _catch_up()
    with runtime().session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            abort(404)
        entries = timeline(session, subscriber)
        _audit(session, audit.VIEW_SUBSCRIBER, target=f"subscriber:{subscriber_id}")
    return render_template("admin/subscriber.html", subscriber=subscriber, entries=entries)


def _audit(session: Session, action: str, target: str | None = None) -> None:
    """Log ACTION by whoever is logged in, in SESSION's transaction."""
    nurture = runtime()
    auth = request.authorization
    actor = audit.admin_actor(
        nurture.settings.secret_key, request.remote_addr, auth.username if auth else None
    )
    audit.record_admin_action(session, actor=actor, action=action, target=target, now=nurture.now())


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
def export_subscribers() -> ResponseReturnValue:
    """Download the subscribers (of ?course=, or all) as CSV."""
    course = _export_course()
    _log_export(audit.EXPORT_SUBSCRIBERS, course)
    chunks = subscribers_csv(runtime().sessions, course)
    return _csv_response(chunks, _export_name("subscribers", course))


@bp.get("/export/events.csv")
def export_events() -> ResponseReturnValue:
    """Download the email events (of ?course=, or all) as CSV."""
    course = _export_course()
    _catch_up()
    _log_export(audit.EXPORT_EVENTS, course)
    return _csv_response(events_csv(runtime().sessions, course), _export_name("events", course))


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """Show the latest views, exports, erasures and suppression changes: who and when."""
    with runtime().session() as session:
        entries = audit.latest_admin_actions(session, AUDIT_PAGE_SIZE)
    page = render_template(
        "admin/audit.html", entries=entries, labels=audit.ACTION_LABELS, limit=AUDIT_PAGE_SIZE
    )
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})
