"""Delivery state changes in core SQL: claim, sent, retry, failed, skipped, held.

Every change is a guarded UPDATE (`WHERE state = ...`), so two workers, a redelivered
message or the stale-claim resolver racing a slow worker can never both win: the loser
changes zero rows and stops. These run on the send hot path, so each is a Core statement
built once at import (with bind parameters) and run as one round trip: no ORM objects, no
statement building per send, and SQLAlchemy's compiled cache is hit every time.
Bind parameter names start with `p_` so none collides with a column name (SQLAlchemy would
read such a key as an extra SET value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, String, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from store.models import (
    Delivery,
    DeliveryState,
    Enrollment,
    Subscriber,
    UtcDateTime,
)

# Core tables: the hot path builds plain SQL, with no ORM identity map or unit of work.
deliveries: Table = Delivery.__table__  # type: ignore[assignment]
enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
subscribers: Table = Subscriber.__table__  # type: ignore[assignment]

Executor = Session | Connection


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


def _of_subscriber(column: Any) -> Any:
    """Return COLUMN of the claimed row's subscriber, as a correlated scalar subquery."""
    return (
        select(column)
        .where(subscribers.c.id == deliveries.c.subscriber_id)
        .correlate(deliveries)
        .scalar_subquery()
    )


_DELIVERY_ID = bindparam("p_delivery_id", type_=Integer())
_CLAIMED_AT = bindparam("p_claimed_at", type_=UtcDateTime())
_ERROR = bindparam("p_error", type_=String())

# The claim and everything the send needs, in one statement: the subscriber and enrollment
# are read by primary key in scalar subqueries, which RETURNING accepts on PostgreSQL and
# SQLite >= 3.35 alike (SQLite forbids joined tables in an UPDATE's RETURNING). They are
# read in the claiming transaction, as the separate SELECT was before.
_CLAIM = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(bindparam("p_delivery_ids", expanding=True)),
        deliveries.c.state == DeliveryState.QUEUED,
        deliveries.c.not_before <= bindparam("p_due_by", type_=UtcDateTime()),
    )
    .values(
        state=DeliveryState.SENDING,
        claimed_at=bindparam("p_now", type_=UtcDateTime()),
        attempts=deliveries.c.attempts + 1,
    )
    .returning(
        deliveries.c.id,
        deliveries.c.enrollment_id,
        deliveries.c.subscriber_id,
        deliveries.c.course_slug,
        deliveries.c.day,
        deliveries.c.attempts,
        _of_subscriber(subscribers.c.email),
        _of_subscriber(subscribers.c.first_name),
        _of_subscriber(subscribers.c.status),
        _of_subscriber(subscribers.c.timezone),
        select(enrollments.c.status)
        .where(enrollments.c.id == deliveries.c.enrollment_id)
        .correlate(deliveries)
        .scalar_subquery(),
    )
)


def claim_deliveries(executor: Executor, delivery_ids: Sequence[int], now: datetime) -> list[Claim]:
    """Take each of DELIVERY_IDS from queued to sending; return the claims this call won.

    An id missing from the result is another task's, already done, or not due yet:
    `not_before <= now` matters, a stale duplicate message must not pull a retry forward.
    """
    params = {"p_delivery_ids": list(delivery_ids), "p_due_by": now, "p_now": now}
    return [
        Claim(
            delivery_id=row[0],
            enrollment_id=row[1],
            subscriber_id=row[2],
            course_slug=row[3],
            day=row[4],
            attempts=row[5],
            claimed_at=now,
            email=row[6],
            first_name=row[7],
            subscriber_status=row[8],
            timezone=row[9],
            enrollment_status=row[10],
        )
        for row in executor.execute(_CLAIM, params)
    ]


def claim_delivery(executor: Executor, delivery_id: int, now: datetime) -> Claim | None:
    """Take DELIVERY_ID from queued to sending; None when another task has it or it's done."""
    claims = claim_deliveries(executor, [delivery_id], now)
    return claims[0] if claims else None


_MARK_SENT = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(bindparam("p_delivery_ids", expanding=True)),
        or_(
            deliveries.c.state == DeliveryState.SENDING,
            deliveries.c.state == DeliveryState.QUEUED,
        ),
    )
    .values(
        state=DeliveryState.SENT,
        sent_at=bindparam("p_sent_at", type_=UtcDateTime()),
        provider_message_id=bindparam("p_message_id", type_=String()),
        last_error=None,
    )
    .returning(deliveries.c.id)
)


def mark_all_sent(
    executor: Executor,
    delivery_ids: Sequence[int],
    *,
    sent_at: datetime,
    message_id: str | None,
) -> set[int]:
    """Record that the provider accepted DELIVERY_IDS; return those not already settled.

    A row put back to 'queued' by the stale-claim resolver is still marked sent: the mail
    went out, and marking it stops the queued copy from being sent again.
    """
    params = {
        "p_delivery_ids": list(delivery_ids),
        "p_sent_at": sent_at,
        "p_message_id": message_id,
    }
    return {row[0] for row in executor.execute(_MARK_SENT, params)}


def mark_sent(
    executor: Executor, delivery_id: int, *, sent_at: datetime, message_id: str | None
) -> bool:
    """Record that the provider accepted DELIVERY_ID; False when it was already settled."""
    return bool(mark_all_sent(executor, [delivery_id], sent_at=sent_at, message_id=message_id))


_OWN_CLAIM = (
    deliveries.c.id == _DELIVERY_ID,
    deliveries.c.state == DeliveryState.SENDING,
    deliveries.c.claimed_at == _CLAIMED_AT,
)
_RELEASE = (
    update(deliveries)
    .where(*_OWN_CLAIM)
    .values(
        state=DeliveryState.QUEUED,
        not_before=bindparam("p_not_before", type_=UtcDateTime()),
        enqueued_at=None,
        claimed_at=None,
        last_error=_ERROR,
    )
)
_SETTLE = (
    update(deliveries)
    .where(*_OWN_CLAIM)
    .values(state=bindparam("p_state", type_=String()), last_error=_ERROR)
)
_NOTE_ERROR = update(deliveries).where(*_OWN_CLAIM).values(last_error=_ERROR)


def release_claim(
    executor: Executor,
    delivery_id: int,
    *,
    claimed_at: datetime,
    not_before: datetime,
    error: str | None,
) -> bool:
    """Put a claimed delivery back to queued, to be tried again from NOT_BEFORE."""
    params = {
        "p_delivery_id": delivery_id,
        "p_claimed_at": claimed_at,
        "p_not_before": not_before,
        "p_error": error,
    }
    return bool(executor.execute(_RELEASE, params).rowcount)  # type: ignore[attr-defined]


def settle_claim(
    executor: Executor, delivery_id: int, *, claimed_at: datetime, state: str, error: str | None
) -> bool:
    """End a claimed delivery as failed or skipped, keeping the reason."""
    params = {
        "p_delivery_id": delivery_id,
        "p_claimed_at": claimed_at,
        "p_state": state,
        "p_error": error,
    }
    return bool(executor.execute(_SETTLE, params).rowcount)  # type: ignore[attr-defined]


def note_claim_error(
    executor: Executor, delivery_id: int, *, claimed_at: datetime, error: str
) -> None:
    """Keep ERROR on a claim that stays 'sending' (its fate is settled by evidence)."""
    params = {"p_delivery_id": delivery_id, "p_claimed_at": claimed_at, "p_error": error}
    executor.execute(_NOTE_ERROR, params)
