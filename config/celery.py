"""Celery settings, written out so every delivery guarantee is visible and explained.

The database, not Celery, is the source of truth for lessons: a delivery row is claimed
before sending, and the dispatcher re-enqueues rows whose message went missing. So Celery
only has to be at-least-once; every duplicate it may produce is stopped by the row claim.
"""

from __future__ import annotations

from typing import Any

from kombu import Queue

from config.settings import FULL_DAY_SECONDS, Settings

# Redis hands an unacknowledged message to another worker after this long. It must exceed
# the longest task by far, or a slow task runs twice at once. A send is one HTTP call with a
# 10 s timeout; a dispatcher pass is bounded to half its interval. We never use ETA or
# countdown tasks (Redis redelivers those past this timeout, again and again), so nothing
# legitimately waits in Redis this long. Messages of a SIGKILLed worker also come back only
# after this timeout; the dispatcher's own re-enqueue (after claim_timeout) is what
# recovers them in practice, and the late copies then find their rows already claimed.
VISIBILITY_TIMEOUT_SECONDS = 3600
# Only the prefork pool enforces these; our default thread pool cannot interrupt a thread.
# There, the HTTP timeout bounds a send and claim_timeout_seconds (300 s by default) is the
# backstop that settles a stuck claim by evidence.
TASK_SOFT_TIME_LIMIT_SECONDS = 60
TASK_TIME_LIMIT_SECONDS = 90
# The dispatcher runs on its own queue, so a backlog of 10,000 sends never delays the pass
# that settles stale claims and enqueues retries. Workers consume both queues.
DEFAULT_QUEUE = "celery"
DISPATCH_QUEUE = "dispatch"
PREFETCH_MULTIPLIER = 1
# Broker connections beyond one per pool slot: the consumer, beat's publisher, control.
BROKER_SPARE_CONNECTIONS = 10
PUBLISH_CONNECT_RETRIES = 1
PUBLISH_RETRY_WAIT_SECONDS = 0.2
RETENTION_INTERVAL_SECONDS = 3600.0
# The alert watch (tasks.alerts) runs beside the dispatcher, so a dead dispatcher is noticed.
WATCH_INTERVAL_SECONDS = 60.0


def dispatch_interval(settings: Settings) -> float:
    """Return how often beat starts a dispatcher pass.

    With compressed days (NURTURE_DAY_SECONDS below a day, for demos and tests) a 60 s beat
    would stretch every 20 s "day" to a minute; beat then runs four times per day instead.
    """
    interval = settings.dispatch_interval_seconds
    if settings.day_seconds < FULL_DAY_SECONDS:
        interval = min(interval, max(1.0, settings.day_seconds / 4))
    return interval


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Return the Celery configuration for these settings."""
    interval = dispatch_interval(settings)
    return {
        "broker_url": settings.redis_url,
        # No result backend: tasks report through the database, and results in Redis would
        # only grow. Tests that need a result read the delivery row.
        "result_backend": None,
        "task_ignore_result": True,
        # JSON only: tasks take ids, never pickled objects, so a message can't run code.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # Acknowledge after the task returns (at-least-once). Duplicates are harmless because
        # every send claims its delivery row first; losing a task would not be.
        "task_acks_late": True,
        # A prefork child killed mid-task puts its message back instead of acking it. The row
        # claim stops a loop of resends; a stale claim is settled by evidence.
        "task_reject_on_worker_lost": True,
        # With acks_late, a worker that loses its broker connection can't ack what it is
        # running; cancelling those tasks lets the redelivered copies be the ones that count.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Reserve one message per pool slot. A message is a whole batch (hundreds of sends),
        # so a deeper reserve would let one worker sit on thousands of deliveries that an
        # idle worker on another machine could be sending. With acks_late, what a worker holds
        # waits unacknowledged: a warm shutdown puts it back; if the worker is killed, the
        # dispatcher re-enqueues the still-queued rows after claim_timeout_seconds (the row
        # claim then stops the late redelivered copies).
        "worker_prefetch_multiplier": PREFETCH_MULTIPLIER,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
            # Each running task acks on a pooled Redis connection of its own. kombu's default
            # of 10 is too few for a pool of dozens of threads or hundreds of greenlets, and
            # running out raises (redis-py's pool does not wait) instead of acking.
            "max_connections": settings.worker_concurrency + BROKER_SPARE_CONNECTIONS,
            # Publishing fails fast when Redis is down (kombu would retry for seconds): a
            # signup must not hang, and every publisher has a database fallback (the
            # dispatcher enqueues queued rows again). Workers reconnect by their own policy.
            "max_retries": PUBLISH_CONNECT_RETRIES,
            "interval_start": 0,
            "interval_step": PUBLISH_RETRY_WAIT_SECONDS,
            "interval_max": PUBLISH_RETRY_WAIT_SECONDS,
        },
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT_SECONDS,
        "task_time_limit": TASK_TIME_LIMIT_SECONDS,
        "task_default_queue": DEFAULT_QUEUE,
        # Each queue bound under its own routing key, so a message lands in exactly one.
        "task_queues": (
            Queue(DEFAULT_QUEUE, routing_key=DEFAULT_QUEUE),
            Queue(DISPATCH_QUEUE, routing_key=DISPATCH_QUEUE),
        ),
        # The watch rides the dispatcher's short queue: never behind a backlog of sends.
        "task_routes": {
            "tasks.dispatch.dispatch_due": {"queue": DISPATCH_QUEUE},
            "tasks.alerts.watch": {"queue": DISPATCH_QUEUE},
        },
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "dispatch-due-lessons": {
                "task": "tasks.dispatch.dispatch_due",
                "schedule": interval,
                # A pass older than one interval is superseded by the next; don't pile them up.
                "options": {"expires": interval},
            },
            # Alert the clinic about trouble (tasks.alerts), at most once a day per condition.
            "watch-for-trouble": {
                "task": "tasks.alerts.watch",
                "schedule": WATCH_INTERVAL_SECONDS,
                "options": {"expires": WATCH_INTERVAL_SECONDS},
            },
            # Erase what outlived its retention period (subscribers.retention). Hourly is
            # plenty for periods of days and months; a missed run is caught up by the next.
            "apply-retention": {
                "task": "tasks.retention.apply_retention",
                "schedule": RETENTION_INTERVAL_SECONDS,
                "options": {"expires": RETENTION_INTERVAL_SECONDS},
            },
        },
    }
