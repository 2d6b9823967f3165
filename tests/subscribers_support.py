"""Shared helpers for the subscriber tests: addresses, forms, rows and queued mail."""

from __future__ import annotations

import base64
import json

import redis
from sqlalchemy import select

from runtime import Runtime
from store.models import Counter, Delivery, DeliveryKind, Subscriber

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
    """Return the subscriber ids of the confirmation deliveries (sorted, one per email).

    Also check that each of them was published: stamped enqueued, with exactly one send
    task for it waiting in the Celery queue at Redis URL (no worker runs in these tests).
    """
    confirmations = confirmations_of(runtime)
    assert all(c.enqueued_at is not None for c in confirmations), "a confirmation not stamped"
    assert queued_sends(url) == sorted(c.id for c in confirmations)
    return sorted(c.subscriber_id for c in confirmations)
