"""Test data for the alert conditions: sent mail, events and failures, written directly."""

from __future__ import annotations

from datetime import datetime

from helpers import admin_headers as admin_headers
from lessons import enroll
from sqlalchemy import insert, select

from runtime import Runtime
from store.models import Alert, Delivery, DeliveryKind, DeliveryState, EmailEvent

ALERT_EMAIL = "praktijk@example.org"


def sent_mail(
    runtime: Runtime, count: int, at: datetime, *, state: str = DeliveryState.SENT
) -> list[int]:
    """Write COUNT day-1 deliveries in STATE, sent (or claimed) AT; return their subscribers."""
    prefix = f"m{int(at.timestamp())}{state}"
    ids = enroll(runtime, count, at, prefix=prefix)
    with runtime.session() as session:
        session.execute(
            insert(Delivery),
            [
                {
                    "kind": DeliveryKind.LESSON,
                    "subscriber_id": subscriber_id,
                    "course_slug": "rugpijn-en-training",
                    "day": 1,
                    "state": state,
                    "attempts": 1,
                    "created_at": at,
                    "not_before": at,
                    "claimed_at": at,
                    "sent_at": at if state == DeliveryState.SENT else None,
                }
                for subscriber_id in ids
            ],
        )
    return ids


def events(runtime: Runtime, kind: str, subscriber_ids: list[int], at: datetime) -> None:
    """Write one KIND event per subscriber, occurred AT."""
    with runtime.session() as session:
        session.execute(
            insert(EmailEvent),
            [
                {
                    "kind": kind,
                    "source": "sendgrid",
                    "event_key": f"{kind}-{subscriber_id}-{at.timestamp()}",
                    "subscriber_id": subscriber_id,
                    "course_slug": "rugpijn-en-training",
                    "day": 1,
                    "occurred_at": at,
                    "recorded_at": at,
                }
                for subscriber_id in subscriber_ids
            ],
        )


def alert_rows(runtime: Runtime) -> list[Alert]:
    """Return every alert row, oldest first."""
    with runtime.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))
