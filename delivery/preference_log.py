"""Append a reader's preference event (pause, resume, restart, hour, zone, reason to leave).

Only ever inserts (store.preferences): the history of what a reader chose, and when, stays
whole. Sources: "page" (the reader's preferences page), "cli" (the clinic), "dispatcher" (a
timed pause that ended by itself).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Delivery, DeliveryKind, DeliveryState, PreferenceEvent

PAGE = "page"
CLI = "cli"
DISPATCHER = "dispatcher"
VALUE_MAX_CHARS = 100  # the preference_events.value column


def last_lesson_day(session: Session, subscriber_id: int, course_slug: str) -> int:
    """Return the day of the last lesson of COURSE_SLUG SUBSCRIBER_ID was sent (0: none yet)."""
    # Per course: a reader of two courses leaving one counts against that course's lesson.
    day = session.scalar(
        select(Delivery.day)
        .where(
            Delivery.subscriber_id == subscriber_id,
            Delivery.course_slug == course_slug,
            Delivery.kind == DeliveryKind.LESSON,
            Delivery.state == DeliveryState.SENT,
        )
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(1)
    )
    return int(day or 0)


def record_preference(
    session: Session,
    subscriber_id: int,
    course_slug: str,
    kind: str,
    source: str,
    now: datetime,
    *,
    value: str | None = None,
    comment: str | None = None,
) -> PreferenceEvent:
    """Append one preference event, at the last lesson the reader was sent, and return it."""
    event = PreferenceEvent(
        subscriber_id=subscriber_id,
        kind=kind,
        source=source,
        occurred_at=now,
        course_slug=course_slug,
        day=last_lesson_day(session, subscriber_id, course_slug),
        value=value[:VALUE_MAX_CHARS] if value is not None else None,
        comment=comment,
    )
    session.add(event)
    return event
