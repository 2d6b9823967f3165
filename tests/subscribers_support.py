"""Shared helpers for the subscriber tests: own Redis db, frozen clock, app client, queue."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import redis
from flask.testing import FlaskClient
from helpers import redis_fixture
from sqlalchemy import select

from config import Settings
from store.clock import FrozenClock, set_clock
from store.db import session_scope
from store.models import Subscriber

# Redis db reserved for the subscriber tests (9 is for the browser test's worker broker).
OWN_REDIS = "redis://127.0.0.1:6379/3"
WORKER_REDIS = "redis://127.0.0.1:6379/9"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "anna.jansen@example.com"


# Its own Redis db, so suites flushing the shared db 13 can't interfere.
redis_url = redis_fixture(OWN_REDIS)


@pytest.fixture
def clock(settings: Settings) -> FrozenClock:
    """Freeze the clock at T0 for this test."""
    frozen = FrozenClock(T0)
    set_clock(frozen)
    return frozen


def make_client(settings: Settings, **config: object) -> FlaskClient:
    """Return a test client for a fresh app, with Celery pointed at this test's Redis."""
    from workers import point_celery_at_settings

    from web import create_app

    point_celery_at_settings()
    return create_app(settings, **config).test_client()


def queued_confirmations(url: str = OWN_REDIS) -> list[int]:
    """Return the subscriber ids of send_confirmation tasks waiting in the Celery queue."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.lrange("celery", 0, -1)
    finally:
        client.close()
    ids = []
    for item in raw:
        message = json.loads(item)
        if message["headers"]["task"] != "tasks.confirmation.send_confirmation":
            continue
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return sorted(ids)


def subscriber_by_email(email: str) -> Subscriber | None:
    """Load the subscriber with EMAIL (detached, attributes loaded)."""
    with session_scope() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email == email)).first()


def all_subscribers() -> list[Subscriber]:
    """Load every subscriber row."""
    with session_scope() as session:
        return list(session.scalars(select(Subscriber).order_by(Subscriber.id)))


def signup_form(email: str = ADDRESS, name: str = "Anna", **extra: str) -> dict[str, str]:
    """Return a valid form submission."""
    return {"email": email, "name": name, "consent": "on", "website": "", **extra}
