"""The periodic dispatcher: turn due enrollments into deliveries and enqueue their sends.

Beat runs `dispatch_due` every dispatch_interval_seconds. One pass:
1. ingests pending webhook batches (the caller hands in tracking's ingest step), so the
   provider's latest evidence is in the event table;
2. settles stale 'sending' claims by that evidence (delivery.evidence), and resumes the
   enrollments whose timed pause has ended (delivery.enrollments);
3. materialises due enrollments: one indexed query on ix_enrollments_due, one bulk insert of
   queued deliveries (unique per enrollment and day, so a repeat is a no-op), and the
   enrollments' next_due_at cleared, all in one transaction (one statement on PostgreSQL),
   so they aren't due again until their lesson is sent. The new rows are stamped enqueued_at
   in the same insert; grouped by lesson into batches of up to send_batch_size, they are
   published right after the commit as one send task per batch (by the `enqueue` the
   caller hands in: tasks.publish);
4. enqueues sends, batched the same way, for the other queued deliveries whose not_before
   has passed and that weren't enqueued recently: confirmations, retries, held lessons, and
   messages lost between our commit and Redis (or a flushed Redis). The claim makes an
   extra message harmless.

While the provider is down (delivery.breaker), steps 3 and 4 hold: one small probe batch
is enqueued now and then instead. No lesson is ever an ETA/countdown task (Redis redelivers
those after the visibility timeout); time lives in the database. Two beats, or `nurture
dispatch --once` beside beat, are harmless: PostgreSQL skips rows another pass has locked,
SQLite serialises writers, and every write is guarded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from config import Settings
from delivery import breaker
from delivery.background import BackgroundEnqueue, Enqueue
from delivery.enrollments import resume_ended_pauses
from delivery.evidence import resolve_stale_claims
from delivery.transitions import deliveries, enrollments
from runtime import Runtime
from store.models import DeliveryState, EnrollmentStatus

log = logging.getLogger(__name__)

# Rows in the first materialise step of a pass; later steps take the full batch size.
FIRST_STEP = 500


@dataclass
class DispatchReport:
    """What one dispatcher pass did, and how long it took."""

    evidence_batches: int = 0
    sent_by_evidence: int = 0
    requeued_stale: int = 0
    materialised: int = 0
    enqueued: int = 0
    seconds: float = 0.0
    breaker: str = "closed"

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data (the task's log line, the CLI's output)."""
        return asdict(self)


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


def _probe(runtime: Runtime, publisher: BackgroundEnqueue, now: datetime) -> int:
    """Enqueue one small batch to ask the failing provider again; return its size."""
    with runtime.session() as session:
        ready = claim_for_enqueue(session, now, breaker.PROBE_SIZE, runtime.settings)
        if not ready:
            ready = materialise_due(session, now, breaker.PROBE_SIZE).queued
    publisher.submit(batches_of(ready, breaker.PROBE_SIZE))
    return len(ready)


def run_dispatch_pass(
    runtime: Runtime,
    enqueue: Enqueue,
    *,
    ingest_evidence: Callable[[], int] | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> DispatchReport:
    """Run one dispatcher pass (see the module docstring) and report what it did.

    ENQUEUE publishes batches of delivery ids (one send task each); INGEST_EVIDENCE stores
    pending webhook events first and returns how many batches it handled.
    """
    started = time.perf_counter()
    settings = runtime.settings
    now = now or runtime.now()
    limit = batch_size or settings.dispatch_batch_size
    send_size = settings.send_batch_size
    report = DispatchReport()
    if ingest_evidence is not None:
        try:
            report.evidence_batches = ingest_evidence()
        except Exception:
            # Evidence only settles stale claims; sending due lessons must not wait on it.
            log.exception("ingesting webhook batches failed; stale claims wait for the next pass")
    resolution = resolve_stale_claims(runtime, now)
    report.sent_by_evidence = resolution.sent_by_evidence
    report.requeued_stale = resolution.requeued
    with runtime.session() as session:
        resume_ended_pauses(session, now, settings, runtime.courses)
    # Keep going while batches come back full, within half an interval, so a morning burst
    # larger than one batch doesn't wait for the next beat.
    budget = settings.dispatch_interval_seconds / 2
    # Stamped first, published second, in both loops: if publishing fails, the stamp ages out
    # and the next passes enqueue these again (the reverse would enqueue twice on every pass
    # while the commit kept failing). Each batch is published in the background while the
    # next database step runs; the pass returns once every message is in Redis.
    with BackgroundEnqueue(enqueue) as publisher:
        report.breaker = breaker.gate(runtime)
        if report.breaker == breaker.PROBE:
            report.enqueued = _probe(runtime, publisher, now)
        # While the provider is down (delivery.breaker), due mail stays in the database.
        if report.breaker == breaker.CLOSED:
            # A small first step gets the publisher (and so the workers) going sooner.
            step_limit = min(limit, FIRST_STEP)
            while True:
                with runtime.session() as session:
                    step = materialise_due(session, now, step_limit)
                if step.queued:
                    publisher.submit(batches_of(step.queued, send_size))
                report.materialised += step.due
                report.enqueued += len(step.queued)
                if step.due < step_limit or time.perf_counter() - started > budget:
                    break
                step_limit = limit
            while True:
                with runtime.session() as session:
                    ready = claim_for_enqueue(session, now, limit, settings)
                if ready:
                    publisher.submit(batches_of(ready, send_size))
                report.enqueued += len(ready)
                if len(ready) < limit or time.perf_counter() - started > budget:
                    break
    report.seconds = time.perf_counter() - started
    if report.materialised or report.enqueued or report.sent_by_evidence or report.requeued_stale:
        log.info("dispatch pass: %s", report.as_dict())
    return report
