"""Delivery state changes in core SQL: queue, claim, sent, retry, fail, skip, requeue, cancel.

Every change is a guarded UPDATE (`WHERE state = ...`), so two workers, a redelivered
message or the stale-claim resolver racing a slow worker can never both win: the loser
changes zero rows and stops. The hot-path ones are Core statements built once at import and
run as one round trip each. Bind parameters start with `p_` so none collides with a column
name (SQLAlchemy would read such a key as an extra SET value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, or_, select, update
from sqlalchemy.orm import Session

from store.models import (
    CONFIRMATION_DAY,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Executor,
    UtcDateTime,
)
from store.models import deliveries_table as deliveries
from store.models import enrollments_table as enrollments
from store.models import subscribers_table as subscribers


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker now owns, with what the send and the pre-send check need."""

    delivery_id: int
    kind: str
    enrollment_id: int | None
    subscriber_id: int
    course_slug: str
    day: int
    attempts: int
    email: str | None
    first_name: str | None
    subscriber_status: str
    timezone: str | None
    send_time: str | None
    enrollment_status: str | None
    claimed_at: datetime


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
        deliveries.c.kind,
        deliveries.c.enrollment_id,
        deliveries.c.subscriber_id,
        deliveries.c.course_slug,
        deliveries.c.day,
        deliveries.c.attempts,
        _of_subscriber(subscribers.c.email),
        _of_subscriber(subscribers.c.first_name),
        _of_subscriber(subscribers.c.status),
        _of_subscriber(subscribers.c.timezone),
        _of_subscriber(subscribers.c.send_time),
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
    # The RETURNING columns are the Claim's fields in order; only the claim time is ours.
    return [Claim(*row, now) for row in executor.execute(_CLAIM, params)]  # type: ignore[call-arg]


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


def _change_own_claim(
    executor: Executor, statement: Any, delivery_id: int, claimed_at: datetime, **params: Any
) -> bool:
    """Run a guarded change of the claim DELIVERY_ID holds since CLAIMED_AT; True if it won."""
    values = {"p_delivery_id": delivery_id, "p_claimed_at": claimed_at}
    values.update({f"p_{name}": value for name, value in params.items()})
    return bool(executor.execute(statement, values).rowcount)  # type: ignore[attr-defined]


def release_claim(
    executor: Executor,
    delivery_id: int,
    *,
    claimed_at: datetime,
    not_before: datetime,
    error: str | None,
) -> bool:
    """Put a claimed delivery back to queued, to be tried again from NOT_BEFORE."""
    return _change_own_claim(
        executor, _RELEASE, delivery_id, claimed_at, not_before=not_before, error=error
    )


def settle_claim(
    executor: Executor, delivery_id: int, *, claimed_at: datetime, state: str, error: str | None
) -> bool:
    """End a claimed delivery as failed or skipped, keeping the reason."""
    return _change_own_claim(executor, _SETTLE, delivery_id, claimed_at, state=state, error=error)


def note_claim_error(
    executor: Executor, delivery_id: int, *, claimed_at: datetime, error: str
) -> None:
    """Keep ERROR on a claim that stays 'sending' (its fate is settled by evidence)."""
    _change_own_claim(executor, _NOTE_ERROR, delivery_id, claimed_at, error=error)


def queue_confirmation(
    session: Session,
    subscriber_id: int,
    course_slug: str,
    now: datetime,
    *,
    requested_name: str | None = None,
    requested_timezone: str | None = None,
    not_before: datetime | None = None,
    skip_reason: str | None = None,
) -> int:
    """Write the confirmation email of SUBSCRIBER_ID in the signup's transaction; return its id.

    Due now, it is stamped enqueued: the caller publishes it after the commit, or calls
    unstamp_enqueued (Redis down). Due later (NOT_BEFORE), the dispatcher enqueues it then.
    With SKIP_REASON it is written skipped: a signup that gets no mail writes the same row.
    """
    due = now if not_before is None else max(not_before, now)
    delivery = Delivery(
        kind=DeliveryKind.CONFIRMATION,
        subscriber_id=subscriber_id,
        course_slug=course_slug,
        day=CONFIRMATION_DAY,
        state=DeliveryState.SKIPPED if skip_reason else DeliveryState.QUEUED,
        created_at=now,
        not_before=due,
        enqueued_at=now if skip_reason is None and due <= now else None,
        last_error=f"not sent: {skip_reason}" if skip_reason else None,
        requested_name=requested_name,  # these two apply only when this one is confirmed
        requested_timezone=requested_timezone,
    )
    session.add(delivery)
    session.flush()
    return delivery.id


def unstamp_enqueued(executor: Executor, delivery_id: int) -> None:
    """Mark DELIVERY_ID as not enqueued after all, so the next dispatcher pass enqueues it."""
    statement = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == DeliveryState.QUEUED)
        .values(enqueued_at=None)
    )
    executor.execute(statement)


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
