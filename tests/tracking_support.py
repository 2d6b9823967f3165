"""Helpers shared by the tracking tests: rows for a course in progress, and a signing SendGrid."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from factories import new_delivery
from sqlalchemy import select

from runtime import Runtime
from store.models import (
    DeliveryState,
    EmailEvent,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
)
from web.tracking import PIXEL_GIF

COURSE = "rugpijn-en-training"
T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
GMAIL_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)


class SendGridSigner:
    """Sign webhook bodies the way SendGrid does: ECDSA P-256 over timestamp + raw body."""

    def __init__(self) -> None:
        """Make a fresh key pair; public_key is what SendGrid shows for it."""
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # What SendGrid shows under Mail Settings: base64 of the DER SubjectPublicKeyInfo.
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Return the headers SendGrid sends with BODY, signed at TIMESTAMP (default: now)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }


@dataclass
class Made:
    """Ids of rows made for one subscriber."""

    subscriber_id: int
    enrollment_id: int
    delivery_ids: dict[int, int]


def make_subscriber(
    runtime: Runtime,
    email: str,
    *,
    sent_days: int = 1,
    queued_day: int | None = None,
    created_at: datetime = T0,
    confirmed: bool = True,
    message_prefix: str | None = None,
) -> Made:
    """Make a confirmed subscriber with lessons 1..SENT_DAYS sent, and maybe one queued."""
    with runtime.session() as session:
        subscriber = Subscriber(
            email=email,
            first_name="Test",
            status=SubscriberStatus.CONFIRMED if confirmed else SubscriberStatus.PENDING,
            course_slug=COURSE,
            created_at=created_at,
            confirmed_at=created_at + timedelta(minutes=5) if confirmed else None,
        )
        session.add(subscriber)
        session.flush()
        enrollment = Enrollment(
            subscriber_id=subscriber.id,
            course_slug=COURSE,
            status=EnrollmentStatus.ACTIVE,
            next_day=sent_days + 1,
            next_due_at=created_at + timedelta(days=sent_days),
            started_at=created_at,
        )
        session.add(enrollment)
        session.flush()
        deliveries = {}
        for day in range(1, sent_days + 1):
            delivery = new_delivery(
                enrollment,
                day,
                DeliveryState.SENT,
                created_at + timedelta(days=day - 1, minutes=10),
                attempts=1,
                provider_message_id=f"{message_prefix}-{day}" if message_prefix else None,
            )
            session.add(delivery)
            session.flush()
            deliveries[day] = delivery.id
        if queued_day is not None:
            delivery = new_delivery(enrollment, queued_day, DeliveryState.QUEUED, created_at)
            session.add(delivery)
            session.flush()
            deliveries[queued_day] = delivery.id
        return Made(subscriber.id, enrollment.id, deliveries)


def sg_event(kind: str, made: Made, day: int, event_id: str, **extra: object) -> dict[str, object]:
    """Build one SendGrid event for MADE's lesson DAY, with our custom args."""
    delivery_id = made.delivery_ids[day]
    event: dict[str, object] = {
        "email": "someone@example.com",
        "timestamp": int((T0 + timedelta(days=day - 1, hours=1)).timestamp()),
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"msg{delivery_id}.filterdrecv-1",
        "course": COURSE,
        "day": str(day),
        "delivery_id": str(delivery_id),
        "subscriber_id": str(made.subscriber_id),
    }
    event.update(extra)
    return event


def body_of(events: list[dict[str, object]]) -> bytes:
    """Serialise events the way SendGrid posts them, trailing CRLF included."""
    return json.dumps(events).encode() + b"\r\n"


BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://umoya.example/afspraak?utm_source=cursus"
# Nothing listens here: Redis and PostgreSQL "down".
REDIS_DOWN = "redis://127.0.0.1:1/0"
DATABASE_DOWN = "postgresql://nobody@127.0.0.1:1/none"


def events(runtime: Runtime) -> list[EmailEvent]:
    """Return every stored email event, oldest first."""
    with runtime.session() as session:
        return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


def ship_spool(app: Any) -> int:
    """Seal the app's spool file and ship it, as its timer does every second."""
    return app.extensions["nurture_hits"].spool.ship()


def assert_pixel(response: Any) -> None:
    """Assert RESPONSE is the uncacheable tracking GIF."""
    assert response.status_code == 200
    assert response.data == PIXEL_GIF
    assert response.mimetype == "image/gif"
    assert response.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, private"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Expires"] == "0"
