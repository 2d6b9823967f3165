"""Delivery state changes in core SQL: claim, sent, retry, failed, skipped, held.

Every change is a guarded UPDATE (`WHERE state = ...`), so two workers, a redelivered
message or the stale-claim resolver racing a slow worker can never both win: the loser
changes zero rows and stops. These run on the send hot path, so they avoid ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, case, literal, select, update
from sqlalchemy.orm import Session

from store.models import (
    Delivery,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    UtcDateTime,
)

# Core tables: the hot path builds plain SQL, with no ORM identity map or unit of work.
deliveries: Table = Delivery.__table__  # type: ignore[assignment]
enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
subscribers: Table = Subscriber.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker now owns, with what the send and the pre-send check need."""

    delivery_id: int
    enrollment_id: int
    subscriber_id: int
    course_slug: str
    day: int
    attempts: int
    claimed_at: datetime
    email: str | None
    first_name: str | None
    subscriber_status: str
    timezone: str | None
    enrollment_status: str


def claim_delivery(session: Session, delivery_id: int, now: datetime) -> Claim | None:
    """Take DELIVERY_ID from queued to sending; None when another task has it or it's done.

    `not_before <= now` matters: a stale duplicate message must not pull a retry forward.
    """
    claimed = session.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == DeliveryState.QUEUED,
            deliveries.c.not_before <= now,
        )
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=deliveries.c.attempts + 1)
        .returning(
            deliveries.c.enrollment_id,
            deliveries.c.subscriber_id,
            deliveries.c.course_slug,
            deliveries.c.day,
            deliveries.c.attempts,
        )
    ).first()
    if claimed is None:
        return None
    person = session.execute(
        select(
            subscribers.c.email,
            subscribers.c.first_name,
            subscribers.c.status,
            subscribers.c.timezone,
            enrollments.c.status,
        )
        .select_from(subscribers.join(enrollments, enrollments.c.subscriber_id == subscribers.c.id))
        .where(enrollments.c.id == claimed.enrollment_id)
    ).one()
    return Claim(
        delivery_id=delivery_id,
        enrollment_id=claimed.enrollment_id,
        subscriber_id=claimed.subscriber_id,
        course_slug=claimed.course_slug,
        day=claimed.day,
        attempts=claimed.attempts,
        claimed_at=now,
        email=person[0],
        first_name=person[1],
        subscriber_status=person[2],
        timezone=person[3],
        enrollment_status=person[4],
    )


def mark_sent(
    session: Session,
    delivery_id: int,
    *,
    sent_at: datetime,
    message_id: str | None,
) -> bool:
    """Record that the provider accepted DELIVERY_ID; False when it was already settled.

    A row put back to 'queued' by the stale-claim resolver is still marked sent: the mail
    went out, and marking it stops the queued copy from being sent again.
    """
    changed = session.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state.in_([DeliveryState.SENDING, DeliveryState.QUEUED]),
        )
        .values(
            state=DeliveryState.SENT,
            sent_at=sent_at,
            provider_message_id=message_id,
            last_error=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def advance_enrollment(
    session: Session,
    enrollment_id: int,
    *,
    day: int,
    last_day: bool,
    next_due_at: datetime | None,
    now: datetime,
) -> None:
    """Move ENROLLMENT_ID past DAY: the next lesson's due time, or completed after the last.

    Guarded on next_day = DAY so evidence and a late worker can't advance it twice. A paused
    enrollment moves on but gets no due time: resuming sets it.
    """
    guard = (enrollments.c.id == enrollment_id, enrollments.c.next_day == day)
    if last_day:
        session.execute(
            update(enrollments)
            .where(
                *guard,
                enrollments.c.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
            )
            .values(
                next_day=day + 1,
                next_due_at=None,
                status=EnrollmentStatus.COMPLETED,
                completed_at=now,
            )
        )
        return
    due_if_active = case(
        (enrollments.c.status == EnrollmentStatus.ACTIVE, literal(next_due_at, UtcDateTime())),
        else_=None,
    )
    session.execute(
        update(enrollments).where(*guard).values(next_day=day + 1, next_due_at=due_if_active)
    )


def release_claim(
    session: Session,
    delivery_id: int,
    *,
    claimed_at: datetime,
    not_before: datetime,
    error: str | None,
) -> bool:
    """Put a claimed delivery back to queued, to be tried again from NOT_BEFORE."""
    changed = session.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == DeliveryState.SENDING,
            deliveries.c.claimed_at == claimed_at,
        )
        .values(
            state=DeliveryState.QUEUED,
            not_before=not_before,
            enqueued_at=None,
            claimed_at=None,
            last_error=error,
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def settle_claim(
    session: Session, delivery_id: int, *, claimed_at: datetime, state: str, error: str | None
) -> bool:
    """End a claimed delivery as failed or skipped, keeping the reason."""
    changed = session.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == DeliveryState.SENDING,
            deliveries.c.claimed_at == claimed_at,
        )
        .values(state=state, last_error=error)
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def note_claim_error(
    session: Session, delivery_id: int, *, claimed_at: datetime, error: str
) -> None:
    """Keep ERROR on a claim that stays 'sending' (its fate is settled by evidence)."""
    session.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == DeliveryState.SENDING,
            deliveries.c.claimed_at == claimed_at,
        )
        .values(last_error=error)
    )
