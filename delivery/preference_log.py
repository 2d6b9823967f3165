"""Append a reader's preference event (pause, resume, restart, hour, zone, reason to leave).

Only ever inserts (store.preferences): the history of what a reader chose, and when, stays
whole. Sources: "page" (the reader's preferences page), "cli" (the clinic), "dispatcher" (a
timed pause that ended by itself).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store.models import PreferenceEvent

PAGE = "page"
CLI = "cli"
DISPATCHER = "dispatcher"
VALUE_MAX_CHARS = 100  # the preference_events.value column


def record_preference(
    session: Session,
    *,
    subscriber_id: int,
    kind: str,
    source: str,
    now: datetime,
    course_slug: str | None = None,
    day: int | None = None,
    value: str | None = None,
    comment: str | None = None,
) -> PreferenceEvent:
    """Append one preference event and return it."""
    event = PreferenceEvent(
        subscriber_id=subscriber_id,
        kind=kind,
        source=source,
        occurred_at=now,
        course_slug=course_slug,
        day=day,
        value=value[:VALUE_MAX_CHARS] if value is not None else None,
        comment=comment,
    )
    session.add(event)
    return event
