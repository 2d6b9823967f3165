"""Test data for the lesson pipeline: confirmed subscribers with due enrollments, bulk-made."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from delivery.dispatcher import DispatchReport, run_dispatch_pass
from runtime import Runtime
from store.models import (
    Delivery,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
)

COURSE = "rugpijn-en-training"


def enroll(
    runtime: Runtime,
    count: int,
    due_at: datetime,
    *,
    prefix: str = "lezer",
    timezone: str | None = None,
    start: int = 0,
) -> list[int]:
    """Create COUNT confirmed subscribers, each with an active enrollment due at DUE_AT."""
    with runtime.session() as session:
        subscriber_rows = [
            {
                "email": f"{prefix}{n}@example.org",
                "first_name": f"Lezer {n}",
                "status": SubscriberStatus.CONFIRMED,
                "timezone": timezone,
                "course_slug": COURSE,
                "created_at": due_at,
                "confirmed_at": due_at,
                "consent_at": due_at,
            }
            for n in range(start, start + count)
        ]
        ids = list(session.scalars(insert(Subscriber).returning(Subscriber.id), subscriber_rows))
        session.execute(
            insert(Enrollment),
            [
                {
                    "subscriber_id": subscriber_id,
                    "course_slug": COURSE,
                    "status": EnrollmentStatus.ACTIVE,
                    "next_day": 1,
                    "next_due_at": due_at,
                    "started_at": due_at,
                }
                for subscriber_id in ids
            ],
        )
    return ids


def delivery_states(runtime: Runtime) -> dict[str, int]:
    """Return how many deliveries are in each state."""
    with runtime.session() as session:
        return dict(
            session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        )


def deliveries_of(runtime: Runtime, subscriber_id: int) -> list[Delivery]:
    """Return a subscriber's deliveries in day order."""
    with runtime.session() as session:
        return list(
            session.scalars(
                select(Delivery)
                .where(Delivery.subscriber_id == subscriber_id, Delivery.kind == "lesson")
                .order_by(Delivery.day)
            )
        )


def enrollment_of(runtime: Runtime, subscriber_id: int) -> Enrollment:
    """Return a subscriber's enrollment."""
    with runtime.session() as session:
        return session.scalars(
            select(Enrollment).where(Enrollment.subscriber_id == subscriber_id)
        ).one()


def emails_in(fake: Any) -> int:
    """Return how many emails the fake accepted (a request may carry several)."""
    return sum(len(request.recipients) for request in fake.accepted)


def state_of(runtime: Runtime, delivery_id: int) -> Delivery:
    """Return a delivery row as it is now."""
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery


def dispatch_pass(
    runtime: Runtime,
    enqueue: Callable[[Sequence[int]], None] | None = None,
    *,
    batch_size: int | None = None,
) -> DispatchReport:
    """Run a dispatcher pass as the beat task does, webhook evidence first.

    ENQUEUE defaults to publishing send messages to Redis (tasks.publish.publish_sends).
    """
    from tasks.publish import publish_sends
    from tracking.ingest import ingest_pending

    return run_dispatch_pass(
        runtime,
        enqueue or publish_sends,
        ingest_evidence=lambda: ingest_pending(runtime),
        batch_size=batch_size,
    )


def collect_ids(into: list[int]) -> Callable[[Sequence[Sequence[int]]], None]:
    """Return an enqueue target that appends the ids of every batch to INTO, unpublished."""

    def enqueue(batches: Sequence[Sequence[int]]) -> None:
        into.extend(delivery_id for batch in batches for delivery_id in batch)

    return enqueue


class Recorder:
    """An enqueue target that keeps the batches instead of publishing them (thread-safe)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, batches):
        with self.lock:
            self.batches.extend(list(batch) for batch in batches)

    @property
    def ids(self) -> list[int]:
        return [delivery_id for batch in self.batches for delivery_id in batch]
