"""GDPR: hash IPs (never store them), export everything about a person, erase it on request."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select, update
from sqlalchemy.orm import Session

from delivery.transitions import erase_errors_of
from providers.sendgrid.webhook import ERASED, without_personal_data
from store.models import (
    Delivery,
    EmailEvent,
    Enrollment,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import counters
from subscribers.lifecycle import stop_all_mail


def hash_ip(secret_key: str, ip: str) -> str:
    """Return HMAC-SHA256(secret key, IP) as hex: proof of consent without keeping the IP."""
    return hmac.new(secret_key.encode("utf-8"), ip.encode("utf-8"), hashlib.sha256).hexdigest()


def _row(obj: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def export_subscriber(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Return everything stored about SUBSCRIBER as plain JSON-ready data."""
    enrollments = session.scalars(
        select(Enrollment).where(Enrollment.subscriber_id == subscriber.id).order_by(Enrollment.id)
    ).all()
    deliveries = session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
    ).all()
    events = session.scalars(
        select(EmailEvent)
        .where(EmailEvent.subscriber_id == subscriber.id)
        .order_by(EmailEvent.occurred_at, EmailEvent.id)
    ).all()
    return {
        "subscriber": _row(subscriber),
        "enrollments": [_row(row) for row in enrollments],
        "deliveries": [_row(row) for row in deliveries],
        "events": [_row(row) for row in events],
    }


def forget_subscriber(session: Session, subscriber: Subscriber, now: datetime) -> None:
    """Erase SUBSCRIBER's personal data; keep anonymous rows so per-lesson counts stay right."""
    email = subscriber.email
    stop_all_mail(
        session, subscriber, status=SubscriberStatus.FORGOTTEN, reason="forgotten", now=now
    )
    subscriber.status = SubscriberStatus.FORGOTTEN
    subscriber.forgotten_at = now
    for column in ("email", "first_name", "consent_ip_hash", "signup_source", "timezone"):
        setattr(subscriber, column, None)
    # Provider messages (bounce reasons, errors) often quote the address itself.
    session.execute(
        update(EmailEvent)
        .where(EmailEvent.subscriber_id == subscriber.id)
        .values(user_agent=None, url=None, reason=None)
    )
    erase_errors_of(session, subscriber.id, ERASED)
    if email:
        _scrub_webhook_bodies(session, email)
    counters.increment(session, counters.FORGOTTEN)


def _scrub_webhook_bodies(session: Session, email: str) -> None:
    """Erase the address inside stored webhook bodies (providers quote it per event)."""
    batches = session.scalars(
        select(WebhookBatch).where(cast(WebhookBatch.body, Text).contains(email))
    ).all()
    for batch in batches:
        batch.body = without_personal_data(batch.body, email)
