"""Shared helpers for the subscriber tests: addresses, forms, rows and queued mail."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import redis
from helpers import admin_headers as admin_headers
from sqlalchemy import select

from config import Settings
from runtime import Runtime
from store.models import (
    ConsentEvent,
    Counter,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Subscriber,
)

ADDRESS = "anna.jansen@example.com"
SEND_TASK = "tasks.sending.send_batch"


def queued_sends(url: str) -> list[int]:
    """Return the delivery ids of send tasks waiting in the Celery queue at Redis URL."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.lrange("celery", 0, -1)
    finally:
        client.close()
    ids = []
    for item in raw:
        message = json.loads(item)
        if message["headers"]["task"] != SEND_TASK:
            continue
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.extend(args[0])
    return sorted(ids)


def confirmations_of(runtime: Runtime, subscriber_id: int | None = None) -> list[Delivery]:
    """Return the confirmation deliveries (of one subscriber, or all), oldest first."""
    query = select(Delivery).where(Delivery.kind == DeliveryKind.CONFIRMATION)
    if subscriber_id is not None:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    with runtime.session() as session:
        return list(session.scalars(query.order_by(Delivery.id)))


def subscriber_by_email(runtime: Runtime, email: str) -> Subscriber | None:
    """Load the subscriber with EMAIL (detached, attributes loaded)."""
    with runtime.session() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email == email)).first()


def all_subscribers(runtime: Runtime) -> list[Subscriber]:
    """Load every subscriber row."""
    with runtime.session() as session:
        return list(session.scalars(select(Subscriber).order_by(Subscriber.id)))


def signup_form(email: str = ADDRESS, name: str = "Anna", **extra: str) -> dict[str, str]:
    """Return a valid form submission."""
    return {"email": email, "name": name, "consent": "on", "website": "", **extra}


def counter_value(runtime: Runtime, name: str) -> int:
    """Return the anonymous counter NAME (subscribers.counters), 0 when never counted."""
    with runtime.session() as session:
        return int(session.scalar(select(Counter.value).where(Counter.name == name)) or 0)


def queued_confirmations(runtime: Runtime, url: str) -> list[int]:
    """Return the subscriber ids of the confirmation emails to be sent (sorted, one per email).

    Every signup writes a confirmation row, written skipped when no mail may go out (so
    every signup does the same work); those are left out. Also check that every row was
    published, with exactly one send task waiting in the Celery queue at Redis URL (no
    worker runs in these tests), and that each one to be sent was stamped enqueued.
    """
    confirmations = confirmations_of(runtime)
    assert queued_sends(url) == sorted(c.id for c in confirmations)
    to_send = [c for c in confirmations if c.state != DeliveryState.SKIPPED]
    assert all(c.enqueued_at is not None for c in to_send), "a confirmation not stamped"
    return sorted(c.subscriber_id for c in to_send)


def latest_confirmation(runtime: Runtime, subscriber_id: int) -> Delivery:
    """Return the newest confirmation of SUBSCRIBER_ID that was not skipped."""
    sent = [c for c in confirmations_of(runtime, subscriber_id) if c.state != DeliveryState.SKIPPED]
    assert sent, f"subscriber {subscriber_id} has no confirmation to confirm"
    return sent[-1]


def confirm_path(runtime: Runtime, subscriber_id: int) -> str:
    """Return the confirm link path of SUBSCRIBER_ID's newest confirmation email."""
    return f"/confirm/{runtime.tokens.make_confirm(latest_confirmation(runtime, subscriber_id).id)}"


def mark_sent(runtime: Runtime, delivery_id: int) -> None:
    """Record confirmation DELIVERY_ID as sent, as a worker would after the provider's 202."""
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.state = DeliveryState.SENT
        delivery.sent_at = runtime.now()


def consent_events(runtime: Runtime, subscriber_id: int) -> list[ConsentEvent]:
    """Return SUBSCRIBER_ID's consent history, oldest first."""
    with runtime.session() as session:
        query = select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id)
        return list(session.scalars(query.order_by(ConsentEvent.id)))


def unsubscribe_via_link(client: Any, runtime: Runtime, subscriber_id: int) -> None:
    """Press the unsubscribe link of SUBSCRIBER_ID's mail (the page's POST)."""
    response = client.post(f"/unsubscribe/{runtime.tokens.make_unsubscribe(subscriber_id)}")
    assert response.status_code == 200


def outbox_mails(settings: Settings) -> list[Any]:
    """Return the emails in SETTINGS' outbox folder, oldest name first, parsed."""
    folder = Path(settings.outbox_dir)
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]


def id_of(runtime: Runtime, address: str) -> int:
    """Return the id of the subscriber with ADDRESS (who must exist)."""
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    return subscriber.id
