"""The clinic's dashboard at /admin: funnel, charts, subscribers, timelines and CSV exports."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue

from store.models import Subscriber
from tracking.charts import lesson_chart, signups_chart
from tracking.export import events_csv, subscribers_csv
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending
from tracking.stats import COMPLAINT_WARNING_RATE, funnel, known_courses, signups_per_day
from tracking.timeline import search_subscribers, timeline
from web.context import hit_intake, runtime

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Failed logins per client address before a pause, and how long the pause lasts.
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_SECONDS = 300


def _failed_login_key() -> str:
    return f"nurture:admin:failed:{request.remote_addr or 'unknown'}"


def _too_many_failures() -> bool:
    try:
        return int(runtime().redis.get(_failed_login_key()) or 0) >= MAX_FAILED_LOGINS
    except Exception:
        return False  # Redis down: the constant-time check below still holds


def _count_failure() -> None:
    try:
        pipe = runtime().redis.pipeline()
        pipe.incr(_failed_login_key())
        pipe.expire(_failed_login_key(), FAILED_LOGIN_WINDOW_SECONDS)
        pipe.execute()
    except Exception:
        log.warning("could not count a failed admin login (redis unreachable)")


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
    if _too_many_failures():
        return Response(
            "Te veel mislukte inlogpogingen. Probeer het over enkele minuten opnieuw.",
            status=429,
            mimetype="text/plain",
            headers={"Retry-After": str(FAILED_LOGIN_WINDOW_SECONDS)},
        )
    auth = request.authorization
    if auth is None:
        return _ask_for_login("Log in met het beheerwachtwoord.")
    given = (auth.password or "").encode()
    if not hmac.compare_digest(given, password.encode()):
        _count_failure()
        return _ask_for_login("Onjuist wachtwoord.")
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
        course = request.args.get("course", settings.course)
        if course not in courses:
            abort(404)
        numbers = funnel(session, nurture.courses, course)
        signups = signups_per_day(session, course, settings.zone, nurture.now())
    return render_template(
        "admin/dashboard.html",
        funnel=numbers,
        courses=courses,
        course=course,
        lesson_chart=lesson_chart(numbers.lessons),
        signups_chart=signups_chart(signups),
        warning_rate=COMPLAINT_WARNING_RATE,
    )


@bp.get("/subscribers")
def subscribers() -> ResponseReturnValue:
    """List subscribers, searchable by address, a page at a time."""
    query = request.args.get("q", "")[:320]
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
    return render_template("admin/subscriber.html", subscriber=subscriber, entries=entries)


def _csv_response(chunks: object, filename: str) -> Response:
    return Response(
        chunks,  # type: ignore[arg-type]
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/export/subscribers.csv")
def export_subscribers() -> ResponseReturnValue:
    """Download every subscriber as CSV."""
    return _csv_response(subscribers_csv(runtime().sessions), "subscribers.csv")


@bp.get("/export/events.csv")
def export_events() -> ResponseReturnValue:
    """Download every email event as CSV."""
    _catch_up()
    return _csv_response(events_csv(runtime().sessions), "events.csv")
