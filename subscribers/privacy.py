"""GDPR: hash IPs (never store them), export everything about a person, erase it on request."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.orm import Session

from delivery.transitions import erase_errors_of
from providers import MailBackend
from providers.sendgrid.scrub import ERASED, without_address
from store.models import (
    ConsentEvent,
    Delivery,
    DeliveryKind,
    EmailEvent,
    Enrollment,
    PreferenceEvent,
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
    # The consent history: each signup, confirmation, opt-out and suppression, in order.
    consent = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    preferences = session.scalars(
        select(PreferenceEvent)
        .where(PreferenceEvent.subscriber_id == subscriber.id)
        .order_by(PreferenceEvent.occurred_at, PreferenceEvent.id)
    ).all()
    return {
        "subscriber": _row(subscriber),
        "enrollments": [_row(row) for row in enrollments],
        "deliveries": [_row(row) for row in deliveries],
        "events": [_row(row) for row in events],
        "consent_events": [_row(row) for row in consent],
        "preference_events": [_row(row) for row in preferences],
    }


def forget_subscriber(
    session: Session, subscriber: Subscriber, now: datetime, mail: MailBackend
) -> None:
    """Erase SUBSCRIBER's personal data; keep anonymous rows so per-lesson counts stay right."""
    erase_subscriber(session, subscriber, now, mail)
    counters.increment(session, counters.FORGOTTEN)


def erase_subscriber(
    session: Session, subscriber: Subscriber, now: datetime, mail: MailBackend
) -> None:
    """Erase SUBSCRIBER's personal data everywhere we keep it (forget, and the retention job).

    Kept: the anonymous row (status, course, dates), its deliveries and events without free
    text, the consent events (no address; the IP only as a keyed hash), and the suppression
    hash, so an address that bounced or complained is still never mailed again.
    """
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
    # A confirmation keeps the name and zone of its signup until it is confirmed.
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.kind == DeliveryKind.CONFIRMATION)
        .values(requested_name=None, requested_timezone=None)
    )
    # What a reader typed as their reason to leave; the chosen reason and day stay.
    session.execute(
        update(PreferenceEvent)
        .where(PreferenceEvent.subscriber_id == subscriber.id, PreferenceEvent.comment.is_not(None))
        .values(comment=None)
    )
    erase_errors_of(session, subscriber.id, ERASED)
    if email:
        _scrub_webhook_bodies(session, email)
        # Development's outbox keeps every mail as a file (SendGrid keeps nothing of ours).
        mail.forget(email)


def _scrub_webhook_bodies(session: Session, email: str) -> None:
    """Erase the address inside stored webhook bodies (providers quote it per event)."""
    # Case-insensitive: a provider may quote the address as the person typed it, and LIKE
    # on PostgreSQL is case-sensitive. autoescape: "_" in an address is no wildcard.
    body_text = func.lower(cast(WebhookBatch.body, Text))
    matches = select(WebhookBatch.id).where(body_text.contains(email.lower(), autoescape=True))
    for batch_id in list(session.scalars(matches)):
        try:
            body = session.scalar(select(WebhookBatch.body).where(WebhookBatch.id == batch_id))
        except (ValueError, RecursionError):
            # A body the driver cannot even load (set aside as poison): it holds the address
            # and will never be processed, so it goes now rather than at retention.
            session.execute(delete(WebhookBatch).where(WebhookBatch.id == batch_id))
            continue
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(body=without_address(body, email))
        )
