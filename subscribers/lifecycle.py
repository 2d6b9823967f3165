"""Stop all mail to a subscriber at once: one path for unsubscribes, bounces and complaints."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.clock import utcnow
from store.models import (
    Delivery,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
)

STOPPED_STATES = frozenset(
    {SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUPPRESSED, SubscriberStatus.FORGOTTEN}
)


def may_receive_lessons(subscriber: Subscriber) -> bool:
    """Tell whether lessons may still go to SUBSCRIBER (checked again just before each send)."""
    return subscriber.status == SubscriberStatus.CONFIRMED


def stop_all_mail(session: Session, subscriber: Subscriber, *, status: str, reason: str) -> None:
    """Mark SUBSCRIBER as STATUS, cancel their enrollments and skip their queued lessons."""
    now = utcnow()
    if subscriber.status == SubscriberStatus.FORGOTTEN:
        return
    # A complaint or bounce outranks a plain unsubscribe; never downgrade a suppression.
    if subscriber.status != SubscriberStatus.SUPPRESSED:
        subscriber.status = status
    if status == SubscriberStatus.UNSUBSCRIBED and subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = now
    if status == SubscriberStatus.SUPPRESSED and subscriber.suppressed_at is None:
        subscriber.suppressed_at = now
        subscriber.suppression_reason = reason
    session.execute(
        update(Enrollment)
        .where(
            Enrollment.subscriber_id == subscriber.id,
            Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
        )
        .values(status=EnrollmentStatus.CANCELLED, cancelled_at=now, next_due_at=None)
    )
    # Queued lessons become skipped now; one already claimed ('sending') re-checks the
    # subscriber just before it calls the provider and skips itself.
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.SKIPPED, last_error=f"stopped: {reason}")
    )
