"""The preferences page's tests share: when day 1 is due, the page's signed URL, and
what the page changed (enrollments, preference events, the subscriber)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lessons import dispatch_pass
from sqlalchemy import select

from delivery.sender import Sender
from runtime import Runtime
from store.models import Enrollment, PreferenceEvent, Subscriber

# Monday 2 March 2026, 09:00 in Amsterdam: day 1 is due now.
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def preferences_url(runtime: Runtime, subscriber_id: int, action: str = "") -> str:
    """Return the preferences page (or its ACTION) of SUBSCRIBER_ID, as the footer links it."""
    token = runtime.tokens.make_preferences(subscriber_id)
    return f"/voorkeuren/{token}" + (f"/{action}" if action else "")


def enrollments_of(runtime: Runtime, subscriber_id: int) -> list[Enrollment]:
    """Return SUBSCRIBER_ID's enrollments, oldest first."""
    with runtime.session() as session:
        query = select(Enrollment).where(Enrollment.subscriber_id == subscriber_id)
        return list(session.scalars(query.order_by(Enrollment.id)))


def events_of(runtime: Runtime, subscriber_id: int) -> list[tuple[str, str, str | None]]:
    """Return SUBSCRIBER_ID's preference events as (kind, source, value), oldest first."""
    with runtime.session() as session:
        query = select(PreferenceEvent).where(PreferenceEvent.subscriber_id == subscriber_id)
        return [
            (e.kind, e.source, e.value) for e in session.scalars(query.order_by(PreferenceEvent.id))
        ]


def subscriber_of(runtime: Runtime, subscriber_id: int) -> Subscriber:
    """Return SUBSCRIBER_ID's row."""
    with runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


def send_due_lessons(runtime: Runtime) -> None:
    """Run a dispatcher pass and send what it queued, as a worker would."""
    queued: list[int] = []
    dispatch_pass(runtime, lambda batches: queued.extend(i for b in batches for i in b))
    for delivery_id in queued:
        assert Sender(runtime).deliver(delivery_id) == "sent"
