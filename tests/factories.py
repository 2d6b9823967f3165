"""Rows for tests to start from: lessons of an enrollment, queued or sent."""

from __future__ import annotations

from datetime import datetime

from store.models import Delivery, DeliveryState, Enrollment


def new_delivery(
    enrollment: Enrollment, day: int, state: str, at: datetime, **extra: object
) -> Delivery:
    """Return an unsaved lesson DAY of ENROLLMENT in STATE, made and due at AT (sent at AT)."""
    return Delivery(
        enrollment_id=enrollment.id,
        subscriber_id=enrollment.subscriber_id,
        course_slug=enrollment.course_slug,
        day=day,
        state=state,
        created_at=at,
        not_before=at,
        sent_at=at if state == DeliveryState.SENT else None,
        **extra,
    )
