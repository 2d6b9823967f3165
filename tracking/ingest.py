"""Ingest stored webhook batches: the provider's events become ours, once per batch and event.

The web endpoint only verifies and stores each batch (one insert, answered at once); this
step, run by a worker task or by the dispatcher's pass, turns the batch into email events
tied to our deliveries, then keeps the batch without personal data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from providers.events import ProviderEvent
from providers.sendgrid.webhook import parse_events, without_personal_data
from runtime import Runtime
from store.models import Delivery, Subscriber, WebhookBatch
from tracking.classify import is_machine_open
from tracking.record import DELIVERY_COLUMNS, NewEvent, store_events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _DeliveryInfo:
    id: int
    subscriber_id: int
    course_slug: str
    day: int
    sent_at: datetime | None
    delivered_at: datetime | None


class _Resolver:
    """Find the delivery and subscriber of many events with a few queries."""

    def __init__(self, session: Session, events: list[ProviderEvent]) -> None:
        ids = {event.delivery_id for event in events} - {None}
        message_ids = {event.message_id for event in events} - {None}
        columns = (*DELIVERY_COLUMNS, Delivery.provider_message_id)
        self.by_id: dict[int, _DeliveryInfo] = {}
        # One provider request carries many recipients, so one message id maps to many
        # deliveries; the event's address tells them apart.
        self.by_message: dict[str, list[_DeliveryInfo]] = {}
        rows: list[Any] = []
        if ids:
            rows += session.execute(select(*columns).where(Delivery.id.in_(ids))).all()
        if message_ids:
            by_message = select(*columns).where(Delivery.provider_message_id.in_(message_ids))
            rows += session.execute(by_message).all()
        for row in rows:
            info = _DeliveryInfo(*row[: len(DELIVERY_COLUMNS)])
            self.by_id[info.id] = info
            if row.provider_message_id:
                self.by_message.setdefault(row.provider_message_id, []).append(info)
        subscriber_ids = {event.subscriber_id for event in events} - {None}
        self.subscribers: set[int] = set()
        if subscriber_ids:
            known = select(Subscriber.id).where(Subscriber.id.in_(subscriber_ids))
            self.subscribers = set(session.scalars(known))
        emails = {event.email for event in events} - {None}
        self.by_email: dict[str, int] = {}
        if emails:
            by_email = select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(emails))
            self.by_email = {email: sid for email, sid in session.execute(by_email) if email}

    def delivery(self, event: ProviderEvent) -> _DeliveryInfo | None:
        """Return the delivery: our delivery id tag first, then the provider's message id."""
        if event.delivery_id in self.by_id:
            return self.by_id[event.delivery_id]
        candidates = self.by_message.get(event.message_id, []) if event.message_id else []
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        subscriber_id = self.by_email.get(event.email) if event.email else None
        return next((c for c in candidates if c.subscriber_id == subscriber_id), None)

    def subscriber(self, event: ProviderEvent, delivery: _DeliveryInfo | None) -> int | None:
        """Return the subscriber id: from the delivery, our tag, then the address."""
        if delivery is not None:
            return delivery.subscriber_id
        if event.subscriber_id in self.subscribers:
            return event.subscriber_id
        return self.by_email.get(event.email) if event.email else None


def events_of(session: Session, provider_events: list[ProviderEvent]) -> list[NewEvent]:
    """Tie provider events to our deliveries and subscribers, ready to store."""
    resolver = _Resolver(session, provider_events)
    events = []
    for event in provider_events:
        delivery = resolver.delivery(event)
        machine = False
        if event.kind == "open":
            sent = (delivery.delivered_at or delivery.sent_at) if delivery else None
            machine = is_machine_open(
                event.user_agent, event.occurred_at, sent, provider_says_machine=event.machine_open
            )
        events.append(
            NewEvent(
                kind=event.kind,
                source="sendgrid",
                event_key=event.key,
                occurred_at=event.occurred_at,
                delivery_id=delivery.id if delivery else None,
                subscriber_id=resolver.subscriber(event, delivery),
                course_slug=delivery.course_slug if delivery else event.course,
                day=delivery.day if delivery else event.day,
                machine=machine,
                url=event.url,
                reason=event.reason,
                user_agent=event.user_agent,
            )
        )
    return events


def ingest_batch(runtime: Runtime, batch_id: int) -> bool:
    """Ingest one stored batch; False when it was already done (by us or a racing worker)."""
    now = runtime.now()
    with runtime.session() as session:
        # The claim and the inserts commit together: a crash undoes both, and a second
        # processor finds the batch claimed and leaves it alone.
        claimed = session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id, WebhookBatch.processed_at.is_(None))
            .values(processed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            return False
        body = session.scalar(select(WebhookBatch.body).where(WebhookBatch.id == batch_id))
        store_events(session, events_of(session, parse_events(body, runtime.clock)), now)
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(body=without_personal_data(body))
            .execution_options(synchronize_session=False)
        )
    return True


def pending_batch_ids(runtime: Runtime, limit: int) -> list[int]:
    """Return the ids of the oldest batches not yet ingested."""
    with runtime.session() as session:
        query = (
            select(WebhookBatch.id)
            .where(WebhookBatch.processed_at.is_(None))
            .order_by(WebhookBatch.received_at, WebhookBatch.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def ingest_pending(runtime: Runtime, limit: int = 100, budget_seconds: float = 10.0) -> int:
    """Ingest pending batches, LIMIT at a time, until none are left or the budget is spent."""
    total = 0
    deadline = time.monotonic() + budget_seconds
    while True:
        ingested = 0
        batch_ids = pending_batch_ids(runtime, limit)
        for batch_id in batch_ids:
            try:
                ingested += ingest_batch(runtime, batch_id)
            except Exception:
                # One bad batch must not block the rest; it stays pending and is retried.
                log.exception("webhook batch %s failed; it stays pending", batch_id)
        total += ingested
        if len(batch_ids) < limit or ingested == 0 or time.monotonic() > deadline:
            return total
