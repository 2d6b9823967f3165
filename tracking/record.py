"""Store email events once each and apply what they mean: counters, delivered, suppression."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, literal, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from store.clock import utcnow
from store.models import Delivery, EmailEvent, Subscriber, SubscriberStatus, UtcDateTime
from subscribers.lifecycle import stop_all_mail

# SendGrid events that mean "never mail this address again", and the status they set.
STOPPING_KINDS = {
    "bounce": SubscriberStatus.SUPPRESSED,
    "dropped": SubscriberStatus.SUPPRESSED,
    "spamreport": SubscriberStatus.SUPPRESSED,
    "unsubscribe": SubscriberStatus.UNSUBSCRIBED,
    "group_unsubscribe": SubscriberStatus.UNSUBSCRIBED,
}
# Rows per INSERT: 13 columns each stays far under SQLite's bound-parameter limit.
INSERT_CHUNK = 500


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
    # The unique column is named for SendGrid's id; our own opens and clicks use prefixed keys.
    row["sg_event_id"] = row.pop("event_key")
    row["recorded_at"] = recorded_at
    return row


def _insert_new(session: Session, events: Sequence[NewEvent]) -> set[str]:
    """Insert EVENTS, skipping keys already stored; return the keys that were new."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    new_keys: set[str] = set()
    for start in range(0, len(events), INSERT_CHUNK):
        rows = [_row(event, now) for event in events[start : start + INSERT_CHUNK]]
        statement = (
            insert(EmailEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["sg_event_id"])
            .returning(EmailEvent.sg_event_id)
        )
        new_keys.update(key for key in session.scalars(statement) if key is not None)
    return new_keys


def _earliest(column: Any, moment: datetime) -> Any:
    value = literal(moment, UtcDateTime())
    return case((or_(column.is_(None), column > value), value), else_=column)


def _apply_to_deliveries(session: Session, events: Sequence[NewEvent]) -> None:
    changes: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.delivery_id is None:
            continue
        change = changes.setdefault(event.delivery_id, {})
        if event.kind == "open":
            counter = "machine_opens" if event.machine else "human_opens"
            change[counter] = change.get(counter, 0) + 1
            # First open means the first a person made; proxies open everything.
            if not event.machine:
                first = change.get("first_opened_at")
                change["first_opened_at"] = min(first or event.occurred_at, event.occurred_at)
        elif event.kind == "click":
            change["clicks"] = change.get("clicks", 0) + 1
        elif event.kind == "delivered":
            first = change.get("delivered_at")
            change["delivered_at"] = min(first or event.occurred_at, event.occurred_at)
    for delivery_id, change in changes.items():
        values: dict[str, Any] = {}
        for counter in ("human_opens", "machine_opens", "clicks"):
            if counter in change:
                values[counter] = getattr(Delivery, counter) + change[counter]
        for moment in ("first_opened_at", "delivered_at"):
            if moment in change:
                values[moment] = _earliest(getattr(Delivery, moment), change[moment])
        if values:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _apply_to_subscribers(session: Session, events: Sequence[NewEvent]) -> None:
    for event in events:
        status = STOPPING_KINDS.get(event.kind)
        if status is None or event.subscriber_id is None:
            continue
        subscriber = session.get(Subscriber, event.subscriber_id)
        if subscriber is not None:
            stop_all_mail(session, subscriber, status=status, reason=event.kind)


def store_events(session: Session, events: Sequence[NewEvent]) -> list[NewEvent]:
    """Store EVENTS once each and apply the new ones; return the events that were new."""
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.event_key, event)
    if not unique:
        return []
    new_keys = _insert_new(session, list(unique.values()))
    # Counters move only for rows this call inserted, so a replay changes nothing.
    fresh = [event for key, event in unique.items() if key in new_keys]
    _apply_to_deliveries(session, fresh)
    _apply_to_subscribers(session, fresh)
    return fresh
