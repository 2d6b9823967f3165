"""The cheap checks: settings, course content, schema, Redis, dispatcher, queues, webhook age.

They ask only our own database and Redis (a few indexed reads), so /admin runs them on every
view. A check whose service is down says it could not look, rather than guessing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from config.celery import DEFAULT_QUEUE, DISPATCH_QUEUE, dispatch_interval
from course.content import content_files
from course.loader import CourseError
from course.placeholders import EXAMPLE_DOMAIN, find_placeholders, find_placeholders_in
from runtime import Runtime
from store.migrate import schema_revisions
from store.models import Delivery, WebhookBatch
from tasks.health import Check, guarded
from tasks.health_settings import settings_checks
from tasks.heartbeat import last_dispatch_pass

# The dispatcher is late after this many missed intervals (a pass may take half of one).
STALE_AFTER_INTERVALS = 5
# More messages than this waiting means workers do not keep up (a send message is a batch).
SEND_QUEUE_WARNING = 1000
# Beat enqueues one pass per interval and each expires after one; more waiting means no
# worker takes them.
DISPATCH_QUEUE_WARNING = 10
# Without events for this long while mail goes out, the Event Webhook is broken.
WEBHOOK_SILENCE = timedelta(days=1)
# How many of the newest deliveries tell whether mail went out within that day.
RECENT_DELIVERIES = 1000


def ago(moment: datetime, now: datetime) -> str:
    """Say how long ago MOMENT was, roughly: "14 s ago", "12 min ago", "3 h ago", "2 days ago"."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def course_check(runtime: Runtime) -> Check:
    """Check no live course has an example address, example links or markers left."""
    # Every course folder is live (its own signup page), so each must be the clinic's own.
    slugs = runtime.courses.slugs() or [runtime.settings.course]
    checks = [_course_check(runtime, slug) for slug in slugs]
    for status in ("error", "warning"):
        for check in checks:
            if check.status == status:
                return check
    return (
        checks[0]
        if len(checks) == 1
        else Check(
            "course", "course content", "ok", f"{', '.join(slugs)} have no example content left"
        )
    )


def _course_check(runtime: Runtime, slug: str) -> Check:
    """Check SLUG's live version (in the database) or else its folder for example content."""
    name = "course content"
    live = runtime.courses.live_hash(slug)
    content = runtime.courses.content(live) if live else None
    try:
        if content is not None:
            found = find_placeholders_in(content_files(content))
        else:
            found = find_placeholders(runtime.courses.folder(slug))
    except CourseError as exc:
        return Check("course", name, "error", str(exc), "run `nurture course check`")
    if found.examples:
        return Check(
            "course",
            name,
            "error",
            f"{slug} still has example content at {', '.join(found.examples)}",
            f"replace the example postal address and the {EXAMPLE_DOMAIN} links with the "
            "clinic's own; each is marked VERVANG DIT",
        )
    if found.markers:
        return Check(
            "course",
            name,
            "warning",
            f"{slug} still has VERVANG DIT markers at {', '.join(found.markers)}",
            "remove each marker once its example is replaced",
        )
    return Check("course", name, "ok", f"{slug} has no example content left")


def schema_check(runtime: Runtime) -> Check:
    """Check the database answers and is migrated to the scripts' head."""
    name = "database schema"
    try:
        current, heads = schema_revisions(runtime.engine)
    except Exception as exc:
        return Check(
            "database",
            name,
            "error",
            f"database unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            "check NURTURE_DATABASE_URL and that the database server runs",
        )
    if current == heads:
        return Check("database", name, "ok", f"at head {', '.join(heads)}")
    at = ", ".join(current) or "no revision (never migrated)"
    return Check(
        "database",
        name,
        "error",
        f"at {at}; the migrations' head is {', '.join(heads)}",
        "run `nurture db upgrade`",
    )


def redis_check(runtime: Runtime) -> Check:
    """Check Redis answers PING."""
    try:
        runtime.redis.ping()
    except Exception as exc:
        return Check(
            "redis",
            "Redis",
            "error",
            f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            "check NURTURE_REDIS_URL and that redis-server runs",
        )
    return Check("redis", "Redis", "ok", "answers")


def dispatcher_check(runtime: Runtime) -> Check:
    """Check the dispatcher ran within a few intervals (beat and a worker are alive)."""
    name = "beat (dispatcher)"
    interval = dispatch_interval(runtime.settings)
    last = last_dispatch_pass(runtime)
    fix = "run exactly one `nurture beat`, and at least one `nurture worker`"
    if last is None:
        return Check("dispatcher", name, "warning", "no dispatcher pass recorded", fix)
    now = runtime.now()
    if now - last > timedelta(seconds=STALE_AFTER_INTERVALS * interval):
        return Check(
            "dispatcher",
            name,
            "warning",
            f"last pass {ago(last, now)}; one every {interval:g} s is expected",
            fix,
        )
    return Check("dispatcher", name, "ok", f"last pass {ago(last, now)}")


def queue_check(runtime: Runtime) -> Check:
    """Check how many messages wait in the send and dispatcher queues."""
    with runtime.redis.pipeline(transaction=False) as pipe:
        pipe.llen(DEFAULT_QUEUE)
        pipe.llen(DISPATCH_QUEUE)
        sends, passes = (int(n) for n in pipe.execute())
    message = f"{sends} send batches and {passes} dispatcher passes waiting"
    if sends > SEND_QUEUE_WARNING or passes > DISPATCH_QUEUE_WARNING:
        return Check(
            "queues",
            "queue depth",
            "warning",
            message,
            "start more workers (`nurture worker`), or check why they stall",
        )
    return Check("queues", "queue depth", "ok", message)


def webhook_age_check(runtime: Runtime) -> Check:
    """Check SendGrid's events still arrive: the newest stored webhook batch's age."""
    name = "webhook events"
    settings = runtime.settings
    if settings.mail_backend != "sendgrid":
        return Check("webhook_events", name, "ok", "not used: mail goes to the outbox folder")
    fix = (
        f"in SendGrid, enable the signed Event Webhook to {settings.base_url}/webhooks/sendgrid "
        "(README, SendGrid step 2); refused posts are in the web logs"
    )
    now = runtime.now()
    with runtime.session() as session:
        # The newest row has the highest id: one step down the primary key.
        newest = session.scalar(
            select(WebhookBatch.received_at).order_by(WebhookBatch.id.desc()).limit(1)
        )
        if newest is None:
            return Check("webhook_events", name, "warning", "no webhook event received yet", fix)
        if now - newest <= WEBHOOK_SILENCE:
            return Check("webhook_events", name, "ok", f"newest event {ago(newest, now)}")
        # sent_at has no index, so look among the newest deliveries (primary key order):
        # mail sent today is nearly always among the rows made last, and the dashboard runs
        # this check on every view, so its cost must not grow with the table.
        newest_rows = (
            select(Delivery.sent_at).order_by(Delivery.id.desc()).limit(RECENT_DELIVERIES)
        ).subquery()
        sent_since = session.scalar(
            select(func.count()).where(newest_rows.c.sent_at >= now - WEBHOOK_SILENCE)
        )
    if not sent_since:
        return Check(
            "webhook_events", name, "ok", f"newest event {ago(newest, now)}; no mail sent since"
        )
    return Check(
        "webhook_events",
        name,
        "warning",
        f"newest event {ago(newest, now)}, but mail was sent within the last day",
        fix,
    )


def local_checks(runtime: Runtime) -> list[Check]:
    """Run the cheap checks; those needing a service that is down say they could not look."""
    schema = guarded("database", "database schema", lambda: schema_check(runtime))
    redis = redis_check(runtime)
    checks = [
        *settings_checks(runtime.settings),
        guarded("course", "course content", lambda: course_check(runtime)),
        schema,
        redis,
    ]
    if redis.status == "ok":
        checks.append(guarded("dispatcher", "beat (dispatcher)", lambda: dispatcher_check(runtime)))
        checks.append(guarded("queues", "queue depth", lambda: queue_check(runtime)))
    else:
        for key, name in (("dispatcher", "beat (dispatcher)"), ("queues", "queue depth")):
            checks.append(Check(key, name, "warning", "not checked: Redis is unreachable"))
    if schema.status == "ok":
        checks.append(
            guarded("webhook_events", "webhook events", lambda: webhook_age_check(runtime))
        )
    else:
        checks.append(
            Check(
                "webhook_events",
                "webhook events",
                "warning",
                "not checked: the database is unreachable or its schema is not current",
            )
        )
    return checks
