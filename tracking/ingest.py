"""Turn stored SendGrid webhook batches into email events, exactly once per batch and per event."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.clock import utcnow
from store.db import session_scope
from store.models import Delivery, Subscriber, WebhookBatch
from tracking.classify import is_machine_open
from tracking.record import DELIVERY_COLUMNS, NewEvent, store_events

log = logging.getLogger(__name__)

# Personal data in a raw event; dropped from the kept batch once processed (GDPR forget).
PERSONAL_FIELDS = ("email", "ip")


@dataclass(frozen=True)
class _DeliveryInfo:
    id: int
    subscriber_id: int
    course_slug: str
    day: int
    sent_at: datetime | None
    delivered_at: datetime | None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def _as_text(value: Any, limit: int | None = None) -> str | None:
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:limit] if limit else text


def _message_prefix(event: dict[str, Any]) -> str | None:
    # sg_message_id is "<X-Message-Id>.filter…"; the part before the first dot is ours.
    value = event.get("sg_message_id")
    return value.split(".", 1)[0] if isinstance(value, str) and value else None


def _event_key(event: dict[str, Any]) -> str:
    key = event.get("sg_event_id")
    if isinstance(key, str) and key:
        return key[:100]
    # No id from SendGrid: the event's own content identifies a replay of it.
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:64]}"


def _occurred_at(event: dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return utcnow()


def _reason(event: dict[str, Any]) -> str | None:
    names = ("type", "bounce_classification", "reason", "response")
    parts = [_as_text(event.get(name)) for name in names]
    text = " | ".join(part for part in parts if part)
    return text[:2000] or None


class _Resolver:
    """Find the delivery and subscriber of many events with a few queries."""

    def __init__(self, session: Session, events: list[dict[str, Any]]) -> None:
        ids = {_as_int(event.get("delivery_id")) for event in events} - {None}
        prefixes = {_message_prefix(event) for event in events} - {None}
        columns = (*DELIVERY_COLUMNS, Delivery.provider_message_id)
        self.by_id: dict[int, _DeliveryInfo] = {}
        # One SendGrid request carries many recipients, so one message id maps to many
        # deliveries; the event's address tells them apart.
        self.by_message: dict[str, list[_DeliveryInfo]] = {}
        rows: list[Any] = []
        if ids:
            rows += session.execute(select(*columns).where(Delivery.id.in_(ids))).all()
        if prefixes:
            by_message = select(*columns).where(Delivery.provider_message_id.in_(prefixes))
            rows += session.execute(by_message).all()
        for row in rows:
            info = _DeliveryInfo(*row[: len(DELIVERY_COLUMNS)])
            self.by_id[info.id] = info
            if row.provider_message_id:
                self.by_message.setdefault(row.provider_message_id, []).append(info)
        subscriber_ids = {_as_int(event.get("subscriber_id")) for event in events} - {None}
        self.subscribers: set[int] = set()
        if subscriber_ids:
            known = select(Subscriber.id).where(Subscriber.id.in_(subscriber_ids))
            self.subscribers = set(session.scalars(known))
        emails = {
            event["email"].strip().lower()
            for event in events
            if isinstance(event.get("email"), str) and event["email"].strip()
        }
        self.by_email: dict[str, int] = {}
        if emails:
            by_email = select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(emails))
            self.by_email = {email: sid for email, sid in session.execute(by_email) if email}

    def delivery(self, event: dict[str, Any]) -> _DeliveryInfo | None:
        """Return the delivery: our delivery_id custom arg first, then SendGrid's message id."""
        delivery_id = _as_int(event.get("delivery_id"))
        if delivery_id in self.by_id:
            return self.by_id[delivery_id]
        prefix = _message_prefix(event)
        candidates = self.by_message.get(prefix, []) if prefix else []
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        email = event.get("email")
        subscriber_id = self.by_email.get(email.strip().lower()) if isinstance(email, str) else None
        return next((c for c in candidates if c.subscriber_id == subscriber_id), None)

    def subscriber(self, event: dict[str, Any], delivery: _DeliveryInfo | None) -> int | None:
        """Return the subscriber id: from the delivery, our custom arg, then the address."""
        if delivery is not None:
            return delivery.subscriber_id
        subscriber_id = _as_int(event.get("subscriber_id"))
        if subscriber_id in self.subscribers:
            return subscriber_id
        email = event.get("email")
        return self.by_email.get(email.strip().lower()) if isinstance(email, str) else None


def sendgrid_events(session: Session, body: Any) -> list[NewEvent]:
    """Map the raw events of one webhook body to events tied to our deliveries."""
    raw = [event for event in body if isinstance(event, dict)] if isinstance(body, list) else []
    resolver = _Resolver(session, raw)
    events = []
    for event in raw:
        kind = (_as_text(event.get("event"), 30) or "unknown").lower()
        delivery = resolver.delivery(event)
        occurred_at = _occurred_at(event)
        user_agent = _as_text(event.get("useragent"), 500)
        machine = False
        if kind == "open":
            sent = (delivery.delivered_at or delivery.sent_at) if delivery else None
            machine = is_machine_open(
                user_agent, occurred_at, sent, sg_machine_open=bool(event.get("sg_machine_open"))
            )
        events.append(
            NewEvent(
                kind=kind,
                source="sendgrid",
                event_key=_event_key(event),
                occurred_at=occurred_at,
                delivery_id=delivery.id if delivery else None,
                subscriber_id=resolver.subscriber(event, delivery),
                course_slug=(
                    delivery.course_slug if delivery else _as_text(event.get("course"), 100)
                ),
                day=delivery.day if delivery else _as_int(event.get("day")),
                machine=machine,
                url=_as_text(event.get("url")) if kind == "click" else None,
                reason=_reason(event),
                user_agent=user_agent,
            )
        )
    return events


def _without_personal_data(body: Any) -> Any:
    if not isinstance(body, list):
        return body
    return [
        {k: v for k, v in event.items() if k not in PERSONAL_FIELDS}
        if isinstance(event, dict)
        else event
        for event in body
    ]


def process_batch(batch_id: int) -> bool:
    """Apply one stored batch; False when it was already processed (by us or a racing worker)."""
    with session_scope() as session:
        # The claim and the inserts commit together: a crash undoes both, and a second
        # processor finds the batch claimed and leaves it alone.
        claimed = session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id, WebhookBatch.processed_at.is_(None))
            .values(processed_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            return False
        body = session.scalar(select(WebhookBatch.body).where(WebhookBatch.id == batch_id))
        store_events(session, sendgrid_events(session, body))
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(body=_without_personal_data(body))
            .execution_options(synchronize_session=False)
        )
    return True


def pending_batch_ids(limit: int) -> list[int]:
    """Return the ids of the oldest unprocessed batches."""
    with session_scope() as session:
        query = (
            select(WebhookBatch.id)
            .where(WebhookBatch.processed_at.is_(None))
            .order_by(WebhookBatch.received_at, WebhookBatch.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def process_pending_batches(limit: int = 100) -> int:
    """Process up to LIMIT of the oldest pending batches and drain queued opens and clicks."""
    from tracking.hits import drain_hits

    # The dispatcher calls this every pass, so opens and clicks queued in Redis land here too
    # even when no worker has drained them.
    try:
        drain_hits()
    except Exception:
        log.exception("draining tracked opens and clicks failed; they stay queued")
    processed = 0
    for batch_id in pending_batch_ids(limit):
        try:
            processed += process_batch(batch_id)
        except Exception:
            # One bad batch must not block the rest; it stays pending and is retried.
            log.exception("webhook batch %s failed; it stays pending", batch_id)
    return processed
