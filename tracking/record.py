"""Store email events once each and apply what they mean: counters, delivered, suppression."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from delivery.engagement import Engagement, add_engagement
from store.models import Delivery, EmailEvent, Subscriber, SubscriberStatus
from subscribers.lifecycle import stop_all_mail

# Provider events that mean "never mail this address again", and the status they set.
STOPPING_KINDS = {
    "bounce": SubscriberStatus.SUPPRESSED,
    "dropped": SubscriberStatus.SUPPRESSED,
    "spamreport": SubscriberStatus.SUPPRESSED,
    "unsubscribe": SubscriberStatus.UNSUBSCRIBED,
    "group_unsubscribe": SubscriberStatus.UNSUBSCRIBED,
}
# Rows per INSERT: 13 columns each stays far under SQLite's bound-parameter limit.
INSERT_CHUNK = 500
# What placing an event needs to know about its delivery: whose, which lesson, when it went.
DELIVERY_COLUMNS = (
    Delivery.id,
    Delivery.subscriber_id,
    Delivery.course_slug,
    Delivery.day,
    Delivery.sent_at,
    Delivery.delivered_at,
)


@dataclass
class NewEvent:
    """One event ready to store; event_key makes replays of it harmless."""

    kind: str
    source: str
    event_key: str
    occurred_at: datetime
    delivery_id: int | None = None
    subscriber_id: int | None = None
    course_slug: str | None = None
    day: int | None = None
    machine: bool = False
    url: str | None = None
    reason: str | None = None
    user_agent: str | None = None


def _row(event: NewEvent, recorded_at: datetime) -> dict[str, Any]:
    row = asdict(event)
    row["recorded_at"] = recorded_at
    return row


def _insert_new(session: Session, events: Sequence[NewEvent], now: datetime) -> set[str]:
    """Insert EVENTS, skipping keys already stored; return the keys that were new."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_keys: set[str] = set()
    for start in range(0, len(events), INSERT_CHUNK):
        rows = [_row(event, now) for event in events[start : start + INSERT_CHUNK]]
        statement = (
            insert(EmailEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(EmailEvent.event_key)
        )
        new_keys.update(key for key in session.scalars(statement) if key is not None)
    return new_keys


def _apply_to_deliveries(session: Session, events: Sequence[NewEvent]) -> None:
    changes: dict[int, Engagement] = {}
    for event in events:
        if event.delivery_id is None or event.kind not in {"open", "click", "delivered"}:
            continue
        change = changes.setdefault(event.delivery_id, Engagement(event.delivery_id))
        if event.kind == "open":
            if event.machine:
                change.machine_opens += 1
            else:
                change.human_opens += 1
                # First open means the first a person made; proxies open everything.
                change.first_opened_at = _min(change.first_opened_at, event.occurred_at)
        elif event.kind == "click":
            change.clicks += 1
        else:
            change.delivered_at = _min(change.delivered_at, event.occurred_at)
    add_engagement(session, list(changes.values()))


def _min(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None else min(current, moment)


def _apply_to_subscribers(session: Session, events: Sequence[NewEvent], now: datetime) -> None:
    for event in events:
        status = STOPPING_KINDS.get(event.kind)
        if status is None or event.subscriber_id is None:
            continue
        subscriber = session.get(Subscriber, event.subscriber_id)
        if subscriber is not None:
            stop_all_mail(session, subscriber, status=status, reason=event.kind, now=now)


def store_events(session: Session, events: Sequence[NewEvent], now: datetime) -> list[NewEvent]:
    """Store EVENTS once each and apply the new ones; return the events that were new.

    NOW is when they are recorded (and when a stopping event stops the subscriber's mail).
    """
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.event_key, event)
    if not unique:
        return []
    new_keys = _insert_new(session, list(unique.values()), now)
    # Counters move only for rows this call inserted, so a replay changes nothing.
    fresh = [event for key, event in unique.items() if key in new_keys]
    _apply_to_deliveries(session, fresh)
    _apply_to_subscribers(session, fresh, now)
    return fresh
