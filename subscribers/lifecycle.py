"""Stop all mail to a subscriber at once: one path for unsubscribes, bounces and complaints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from delivery.bulk import skip_queued_of
from delivery.enrollments import cancel_all_of
from store.models import Subscriber, SubscriberStatus


def stop_all_mail(
    session: Session, subscriber: Subscriber, *, status: str, reason: str, now: datetime
) -> None:
    """Mark SUBSCRIBER as STATUS, cancel their enrollments and skip their queued mail."""
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
    cancel_all_of(session, subscriber.id, now)
    skip_queued_of(session, subscriber.id, reason=reason)
