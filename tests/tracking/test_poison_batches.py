"""Poison webhook batches: set aside with a log line and a counter; the rest flows on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import select, text
from subscribers_support import counter_value
from tracking_support import SendGridSigner, body_of, make_subscriber, sg_event

from runtime import Runtime
from store.models import Delivery, EmailEvent, WebhookBatch
from tracking.batch_failures import POISON_STRIKES, SET_ASIDE_COUNTER, STRIKES_KEY
from tracking.ingest import ingest_batch, ingest_pending

URL = "/webhooks/sendgrid"
EARLY = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def store_poison(runtime: Runtime, received_at: datetime) -> int:
    """Store a body nested past what the JSON parser loads (stored before the webhook's limit)."""
    depth = 3000
    raw = '[{"event": "open", "n": ' + "[" * depth + "]" * depth + "}]"
    with runtime.transaction() as connection:
        connection.execute(
            text("INSERT INTO webhook_batches (body, received_at) VALUES (:body, :at)"),
            {"body": raw, "at": received_at},
        )
        return int(connection.execute(text("SELECT max(id) FROM webhook_batches")).scalar_one())


def store_batch(runtime: Runtime, events: list[dict[str, object]], received_at: datetime) -> int:
    with runtime.session() as session:
        batch = WebhookBatch(body=events, received_at=received_at)
        session.add(batch)
        session.flush()
        return batch.id


def batch(runtime: Runtime, batch_id: int) -> tuple[datetime | None, int]:
    """Return the batch's processed_at and how many events it stored."""
    with runtime.session() as session:
        processed_at = session.scalar(
            select(WebhookBatch.processed_at).where(WebhookBatch.id == batch_id)
        )
        stored = len(session.scalars(select(EmailEvent.id)).all())
    return processed_at, stored


def strikes(runtime: Runtime, batch_id: int) -> int:
    client = redis.Redis.from_url(runtime.settings.redis_url)
    try:
        return int(client.get(STRIKES_KEY.format(batch_id)) or 0)
    finally:
        client.close()


def test_a_poison_batch_is_set_aside_counted_and_never_blocks_the_batches_behind(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    poison = store_poison(runtime, EARLY)
    good = store_batch(runtime, [sg_event("delivered", made, 1, "ev-delivered")], LATER)

    # A page of one: the poison fills it, and the batch behind it is ingested all the same.
    assert ingest_pending(runtime, limit=1) == 1
    assert batch(runtime, good)[0] is not None
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).delivered_at is not None
    assert batch(runtime, poison) == (None, 1)
    assert strikes(runtime, poison) == 1

    caplog.set_level(logging.ERROR, logger="tracking.batch_failures")
    for _ in range(POISON_STRIKES - 1):
        assert ingest_pending(runtime) == 0
    processed_at, _ = batch(runtime, poison)
    assert processed_at is not None
    assert counter_value(runtime, SET_ASIDE_COUNTER) == 1
    assert any(
        f"webhook batch {poison} set aside" in record.getMessage() for record in caplog.records
    )
    assert strikes(runtime, poison) == 0
    # Set aside for good: no more tries, no more counts.
    assert ingest_pending(runtime) == 0
    assert counter_value(runtime, SET_ASIDE_COUNTER) == 1


def test_the_task_path_counts_failures_too(runtime: Runtime) -> None:
    poison = store_poison(runtime, EARLY)
    for _ in range(POISON_STRIKES):
        # What tasks.tracking.ingest_webhook_batch runs for each stored batch.
        with pytest.raises(RecursionError):
            ingest_batch(runtime, poison)
    assert batch(runtime, poison)[0] is not None
    assert counter_value(runtime, SET_ASIDE_COUNTER) == 1
    assert ingest_batch(runtime, poison) is False


def test_text_the_database_refuses_is_cleaned_and_does_not_poison_the_batch(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    events = [
        # Half an emoji (a UTF-16 cut), and a NUL: valid JSON, refused by the drivers.
        sg_event("open", made, 1, "ev-open", useragent="Mozilla/5.0 \ud83d (iPhone)"),
        sg_event("bounce", made, 1, "ev-\x00bounce", type="bounce", reason="550 \x00 gone"),
        # A day past the events table's 32-bit column.
        {"event": "processed", "sg_event_id": "ev-day", "day": str(2**40), "course": "x"},
    ]
    body = body_of(events)
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        stored = {e.kind: e for e in session.scalars(select(EmailEvent))}
    assert stored["open"].user_agent == "Mozilla/5.0 ? (iPhone)"
    assert stored["bounce"].event_key == "ev-bounce"
    assert stored["bounce"].reason == "bounce | 550  gone"
    assert stored["processed"].day is None
    assert counter_value(runtime, SET_ASIDE_COUNTER) == 0
