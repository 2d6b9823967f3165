"""A course done: the enrollment is completed, the history says so, the closing email waits.

Run in the transaction that records the last lesson as sent (delivery.accepted), right after
the guarded UPDATE that completed the enrollments, so each enrollment gets exactly one
`completed` consent event (append-only, like every consent event) and at most one closing
delivery: the latter is unique per (enrollment, CLOSING_DAY), so not even a bug could queue
a second one. The closing email is a queued delivery with a not_before days ahead; the
dispatcher enqueues it then and the sender claims, checks, sends and retries it like a lesson.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update

from store.models import (
    CLOSING_DAY,
    ConsentEvent,
    ConsentEventKind,
    DeliveryKind,
    DeliveryState,
    Executor,
    deliveries_table,
)

# The consent event's source: the course itself ended, nobody clicked anything.
SOURCE = "course"


def record_completed(
    executor: Executor,
    completed: Sequence[tuple[int, int, str]],
    *,
    day: int,
    now: datetime,
    closing_due_at: datetime | None,
) -> None:
    """Append a `completed` event per (enrollment, subscriber, course) in COMPLETED.

    With CLOSING_DUE_AT, also queue each one's closing email for that moment.
    """
    if not completed:
        return
    executor.execute(
        insert(ConsentEvent),
        [
            {
                "subscriber_id": subscriber_id,
                "kind": ConsentEventKind.COMPLETED,
                "source": SOURCE,
                "occurred_at": now,
                "detail": f"enrollment {enrollment_id}: {course_slug} completed at day {day}",
            }
            for enrollment_id, subscriber_id, course_slug in completed
        ],
    )
    if closing_due_at is None:
        return
    executor.execute(
        insert(deliveries_table),
        [
            {
                "kind": DeliveryKind.CLOSING,
                "enrollment_id": enrollment_id,
                "subscriber_id": subscriber_id,
                "course_slug": course_slug,
                "day": CLOSING_DAY,
                "state": DeliveryState.QUEUED,
                "attempts": 0,
                "created_at": now,
                "not_before": closing_due_at,
                "human_opens": 0,
                "machine_opens": 0,
                "clicks": 0,
            }
            for enrollment_id, subscriber_id, course_slug in completed
        ],
    )


def skip_waiting_closings(executor: Executor, subscriber_id: int, course_slug: str) -> int:
    """Skip SUBSCRIBER_ID's queued closing email of COURSE_SLUG (a new run of it); how many.

    Another course's closing email still goes: it thanks them for that course, and asks
    whether that one was useful.
    """
    statement = (
        update(deliveries_table)
        .where(
            deliveries_table.c.subscriber_id == subscriber_id,
            deliveries_table.c.course_slug == course_slug,
            deliveries_table.c.kind == DeliveryKind.CLOSING,
            deliveries_table.c.state == DeliveryState.QUEUED,
        )
        .values(state=DeliveryState.SKIPPED, last_error="not sent: another course run started")
    )
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]
