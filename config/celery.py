"""Celery settings, written out so every delivery guarantee is visible and explained."""

from __future__ import annotations

from typing import Any

from config.settings import Settings

# Tasks must finish far inside the visibility timeout, or Redis hands them to a second worker.
# A send is one HTTP call with a 10 s timeout, so the hard limit below sits far under it.
VISIBILITY_TIMEOUT_SECONDS = 3600
TASK_SOFT_TIME_LIMIT_SECONDS = 60
TASK_TIME_LIMIT_SECONDS = 90


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Return the Celery configuration for these settings."""
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
        # A worker child killed mid-task puts its message back instead of acking it.
        # The row claim stops a loop of resends; a stale claim is resolved by evidence.
        "task_reject_on_worker_lost": True,
        # One message reserved per thread at a time: with acks_late, a prefetched message
        # waits unacknowledged and counts against the visibility timeout.
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT_SECONDS,
        "task_time_limit": TASK_TIME_LIMIT_SECONDS,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "dispatch-due-lessons": {
                "task": "tasks.dispatch.dispatch_due",
                "schedule": settings.dispatch_interval_seconds,
                # A pass older than one interval is superseded by the next; don't pile them up.
                "options": {"expires": settings.dispatch_interval_seconds},
            },
        },
    }
