"""The dispatcher's two database steps, batched by lesson.

- materialise_due turns due enrollments into queued deliveries, stamped as enqueued.
- claim_for_enqueue claims other queued deliveries that are due and not recently enqueued
  (confirmations, retries, held lessons, lost messages).

One statement does each on PostgreSQL; SQLite runs the same steps in its one writer
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from config import Settings
from delivery.transitions import deliveries, enrollments
from store.models import DeliveryState, EnrollmentStatus


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# A queued delivery as the dispatcher batches it: (id, course, day).
Queued = tuple[int, str, int]


@dataclass(frozen=True, slots=True)
class Materialised:
    """One materialise step: how many enrollments were due, and the deliveries to publish."""

    due: int
    queued: list[Queued]


def batches_of(queued: Iterable[Queued], size: int) -> list[list[int]]:
    """Group QUEUED by lesson (course and day) into batches of at most SIZE delivery ids.

    A batch is one send task: one claim, one render, one provider request, one commit. A
    delivery that is due alone goes out in a batch of one, without waiting for company.
    """
    by_lesson: dict[tuple[str, int], list[int]] = {}
    for delivery_id, course_slug, day in queued:
        by_lesson.setdefault((course_slug, day), []).append(delivery_id)
    return [
        ids[start : start + size]
        for ids in by_lesson.values()
        for start in range(0, len(ids), size)
    ]


# PostgreSQL does the whole step in one statement, server-side: pick due enrollments
# (index range scan on ix_enrollments_due, skipping rows another pass holds), clear their
# next_due_at, insert their deliveries already stamped enqueued_at, and hand back the count
# and the new ids as one array (no second statement to stamp them, no per-row round trip).
# SQLite runs the same steps as separate statements in its one writer transaction.
MATERIALISE_POSTGRES = text(
    """
    WITH due AS (
        SELECT id, subscriber_id, course_slug, next_day FROM enrollments
        WHERE status = 'active' AND next_due_at IS NOT NULL AND next_due_at <= :now
        ORDER BY next_due_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), cleared AS (
        UPDATE enrollments SET next_due_at = NULL FROM due WHERE enrollments.id = due.id
        RETURNING 1
    ), queued AS (
        INSERT INTO deliveries (enrollment_id, subscriber_id, course_slug, day, state, attempts,
                                created_at, not_before, enqueued_at, human_opens, machine_opens,
                                clicks)
        SELECT id, subscriber_id, course_slug, next_day, 'queued', 0, :now, :now, :now, 0, 0, 0
        FROM due
        ON CONFLICT (enrollment_id, day) DO UPDATE
            SET not_before = EXCLUDED.not_before, enqueued_at = EXCLUDED.enqueued_at
            WHERE deliveries.state = 'queued'
        RETURNING deliveries.id, deliveries.course_slug, deliveries.day
    )
    SELECT (SELECT count(*) FROM cleared), q.ids, q.courses, q.days FROM (
        SELECT array_agg(id) AS ids, array_agg(course_slug) AS courses, array_agg(day) AS days
        FROM queued
    ) AS q
    """
)
ENQUEUE_POSTGRES = text(
    """
    WITH picked AS (
        SELECT id FROM deliveries
        WHERE state = 'queued' AND not_before <= :now
          AND (enqueued_at IS NULL OR enqueued_at < :stale)
        ORDER BY not_before LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries SET enqueued_at = :now FROM picked WHERE deliveries.id = picked.id
    RETURNING deliveries.id, deliveries.course_slug, deliveries.day
    """
)


def materialise_due(session: Session, now: datetime, limit: int) -> Materialised:
    """Queue (and stamp enqueued) deliveries for up to LIMIT due enrollments."""
    if _is_postgres(session):
        due, ids, courses, days = session.execute(
            MATERIALISE_POSTGRES, {"now": now, "limit": limit}
        ).one()
        queued: list[Queued] = list(zip(ids or (), courses or (), days or (), strict=True))
        return Materialised(due=int(due), queued=queued)
    query = (
        select(
            enrollments.c.id,
            enrollments.c.subscriber_id,
            enrollments.c.course_slug,
            enrollments.c.next_day,
        )
        .where(
            enrollments.c.status == EnrollmentStatus.ACTIVE,
            enrollments.c.next_due_at.is_not(None),
            enrollments.c.next_due_at <= now,
        )
        .order_by(enrollments.c.next_due_at)
        .limit(limit)
    )
    due = session.execute(query).all()
    if not due:
        return Materialised(due=0, queued=[])
    rows = [
        {
            "enrollment_id": enrollment_id,
            "subscriber_id": subscriber_id,
            "course_slug": course_slug,
            "day": day,
            "state": DeliveryState.QUEUED,
            "attempts": 0,
            "created_at": now,
            "not_before": now,
            "enqueued_at": now,
            "human_opens": 0,
            "machine_opens": 0,
            "clicks": 0,
        }
        for enrollment_id, subscriber_id, course_slug, day in due
    ]
    insert = sqlite_insert(deliveries)
    # The row already exists only when a paused lesson was held back and the enrollment was
    # resumed: pull the held row forward instead of adding a second one.
    statement = insert.on_conflict_do_update(
        index_elements=["enrollment_id", "day"],
        set_={"not_before": insert.excluded.not_before, "enqueued_at": now},
        where=deliveries.c.state == DeliveryState.QUEUED,
    ).returning(deliveries.c.id, deliveries.c.course_slug, deliveries.c.day)
    queued = [(r[0], r[1], r[2]) for r in session.execute(statement, rows)]
    session.execute(
        update(enrollments)
        .where(enrollments.c.id.in_([row[0] for row in due]))
        .values(next_due_at=None),
    )
    return Materialised(due=len(due), queued=queued)


def claim_for_enqueue(
    session: Session, now: datetime, limit: int, settings: Settings
) -> list[Queued]:
    """Stamp enqueued_at on up to LIMIT ready queued deliveries; return (id, course, day)s."""
    stale_enqueue = now - timedelta(seconds=settings.claim_timeout_seconds)
    if _is_postgres(session):
        params = {"now": now, "stale": stale_enqueue, "limit": limit}
        return [(r[0], r[1], r[2]) for r in session.execute(ENQUEUE_POSTGRES, params)]
    ready = (
        deliveries.c.state == DeliveryState.QUEUED,
        deliveries.c.not_before <= now,
        (deliveries.c.enqueued_at.is_(None)) | (deliveries.c.enqueued_at < stale_enqueue),
    )
    pick = select(deliveries.c.id).where(*ready).order_by(deliveries.c.not_before).limit(limit)
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(pick.scalar_subquery()), *ready)
        .values(enqueued_at=now)
        .returning(deliveries.c.id, deliveries.c.course_slug, deliveries.c.day)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(statement)]
