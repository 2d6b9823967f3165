"""Changes to many deliveries at once: queued mail skipped, failed mail requeued, errors erased.

Each is one guarded UPDATE: only rows still in the state the change is about are touched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from delivery.transitions import deliveries
from store.models import DeliveryKind, DeliveryState, Executor


def skip_queued_of(
    executor: Executor, subscriber_id: int, *, reason: str, course_slug: str | None = None
) -> int:
    """Skip SUBSCRIBER_ID's queued deliveries (of COURSE_SLUG, or all); return how many.

    One already claimed ('sending') re-checks the subscriber just before it calls the
    provider and skips itself.
    """
    statement = (
        update(deliveries)
        .where(
            deliveries.c.subscriber_id == subscriber_id,
            deliveries.c.state == DeliveryState.QUEUED,
        )
        .values(state=DeliveryState.SKIPPED, last_error=f"stopped: {reason}")
    )
    if course_slug is not None:
        statement = statement.where(deliveries.c.course_slug == course_slug)
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]


def requeue_failed(executor: Executor, now: datetime, delivery_id: int | None = None) -> int:
    """Put failed deliveries (all, or DELIVERY_ID) back to queued with fresh attempts."""
    statement = (
        update(deliveries)
        .where(deliveries.c.state == DeliveryState.FAILED)
        .values(
            state=DeliveryState.QUEUED,
            attempts=0,
            not_before=now,
            enqueued_at=None,
            claimed_at=None,
        )
    )
    if delivery_id is not None:
        statement = statement.where(deliveries.c.id == delivery_id)
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]


def erase_errors_of(executor: Executor, subscriber_id: int, erased: str) -> None:
    """Replace the kept errors of SUBSCRIBER_ID's deliveries (they may quote the address)."""
    statement = (
        update(deliveries)
        .where(deliveries.c.subscriber_id == subscriber_id, deliveries.c.last_error.is_not(None))
        .values(last_error=erased)
    )
    executor.execute(statement)


def skip_queued_lessons_of(executor: Executor, enrollment_id: int, *, reason: str) -> int:
    """Skip ENROLLMENT_ID's queued lessons (a publish changed what their day means)."""
    statement = (
        update(deliveries)
        .where(
            deliveries.c.enrollment_id == enrollment_id,
            deliveries.c.kind == DeliveryKind.LESSON,
            deliveries.c.state == DeliveryState.QUEUED,
        )
        .values(state=DeliveryState.SKIPPED, last_error=f"not sent: {reason}")
    )
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]
