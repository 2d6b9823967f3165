"""Store email events once each and apply what they mean: counters, delivered, suppression."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from config import Settings
from delivery.engagement import Engagement, add_engagement
from providers.events import Failure
from store.base import json_rows
from store.models import Delivery, Subscriber, SubscriberStatus, email_events_table
from subscribers import suppression
from subscribers.lifecycle import stop_all_mail

# Provider events that stop all mail without saying the address is bad, and the status set.
STOPPING_KINDS = {
    "dropped": SubscriberStatus.SUPPRESSED,
    "unsubscribe": SubscriberStatus.UNSUBSCRIBED,
    "group_unsubscribe": SubscriberStatus.UNSUBSCRIBED,
}
# What a failure kind puts on the suppression list as its reason.
FAILURE_REASONS = suppression.FAILURE_REASONS
# Events built without a provider's classification (tests, older callers): by kind.
DEFAULT_FAILURES = {"bounce": Failure.HARD, "spamreport": Failure.COMPLAINT}
# NewEvent fields that steer what an event does but are not stored with it.
NOT_STORED = ("email", "failure")
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
    # Not stored: the address the provider quoted (to list it when the subscriber row no
    # longer holds one) and what the event says about the address (providers.events.Failure).
    email: str | None = None
    failure: str | None = None


STORED_FIELDS = [name for name in NewEvent.__dataclass_fields__ if name not in NOT_STORED]


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """Return "COLUMN is one of VALUES": one array parameter on PostgreSQL, not one per value."""
    if session.get_bind().dialect.name == "postgresql":
        # A thousand-value IN list costs more to render and parse than to run.
        return column == any_(literal(list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def forgotten_among(session: Session, subscriber_ids: Iterable[int | None]) -> set[int]:
    """Return which of SUBSCRIBER_IDS are erased: nothing new may point at them."""
    ids = {sid for sid in subscriber_ids if sid is not None}
    if not ids:
        return set()
    query = select(Subscriber.id).where(
        among(session, Subscriber.id, ids), Subscriber.status == SubscriberStatus.FORGOTTEN
    )
    return set(session.scalars(query))


def _row(event: NewEvent, recorded_at: datetime) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every value, a tenth of an ingest's time.
    row = {name: getattr(event, name) for name in STORED_FIELDS}
    row["recorded_at"] = recorded_at
    return row


# PostgreSQL takes a batch of events as one JSON parameter (store.base.json_rows).
_COLUMN_TYPES = {
    "kind": "varchar",
    "source": "varchar",
    "event_key": "varchar",
    "occurred_at": "timestamptz",
    "delivery_id": "bigint",
    "subscriber_id": "bigint",
    "course_slug": "varchar",
    "day": "integer",
    "machine": "boolean",
    "url": "text",
    "reason": "text",
    "user_agent": "varchar",
    "recorded_at": "timestamptz",
}
_COLUMNS = ", ".join(_COLUMN_TYPES)
_RECORD = ", ".join(f"{name} {kind}" for name, kind in _COLUMN_TYPES.items())
# Built from the constant names and types above, never from input.
_INSERT_JSON = text(
    f"INSERT INTO email_events ({_COLUMNS}) SELECT {_COLUMNS} FROM "  # noqa: S608
    f"json_to_recordset(CAST(:rows AS json)) AS r({_RECORD}) "
    "ON CONFLICT (event_key) DO NOTHING RETURNING event_key"
)


def _insert_new(session: Session, events: Sequence[NewEvent], now: datetime) -> set[str]:
    """Insert EVENTS, skipping keys already stored; return the keys that were new."""
    rows = [_row(event, now) for event in events]
    if session.get_bind().dialect.name == "postgresql":
        inserted = session.scalars(_INSERT_JSON, {"rows": json_rows(rows)})
        return {key for key in inserted if key is not None}
    # SQLite: one cached statement run as executemany; SQLAlchemy's "insertmanyvalues"
    # sends it in multi-row batches within SQLite's parameter limit, RETURNING included.
    statement = (
        sqlite_insert(email_events_table)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(email_events_table.c.event_key)
    )
    return {key for key in session.execute(statement, rows).scalars() if key is not None}


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
            # Human clicks only: a scanner's click says nothing about the reader.
            change.clicks += 0 if event.machine else 1
        else:
            change.delivered_at = _min(change.delivered_at, event.occurred_at)
    add_engagement(session, list(changes.values()))


def _min(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None else min(current, moment)


def _failure(event: NewEvent) -> str | None:
    return event.failure or DEFAULT_FAILURES.get(event.kind)


def _apply_to_subscribers(
    session: Session, events: Sequence[NewEvent], now: datetime, settings: Settings | None
) -> None:
    """Stop mail on opt-outs and failures; count soft bounces in a row, reset on delivery."""
    involved = {
        event.subscriber_id for event in events if _failure(event) or event.kind in STOPPING_KINDS
    }
    # Delivered mail of everyone else resets their streak in one statement, not one per row.
    _reset_streaks(
        session, {event.subscriber_id for event in events if event.kind == "delivered"} - involved
    )
    for event in events:
        if event.subscriber_id is None or event.subscriber_id not in involved:
            continue
        # The identity map makes repeated gets of one subscriber free.
        subscriber = session.get(Subscriber, event.subscriber_id)
        if subscriber is None:
            continue
        failure = _failure(event)
        if event.kind == "delivered":
            subscriber.soft_bounce_streak = 0
        elif failure == Failure.SOFT:
            subscriber.soft_bounce_streak += 1
            if subscriber.soft_bounce_streak >= _soft_bounce_limit(settings):
                _suppress(session, subscriber, event, suppression.SOFT_BOUNCES, now, settings)
        elif failure is not None:
            _suppress(session, subscriber, event, FAILURE_REASONS[failure], now, settings)
        elif event.kind in STOPPING_KINDS:
            status = STOPPING_KINDS[event.kind]
            stop_all_mail(session, subscriber, status=status, reason=event.kind, now=now)


def _soft_bounce_limit(settings: Settings | None) -> int:
    if settings is not None:
        return settings.soft_bounce_limit
    default: int = Settings.model_fields["soft_bounce_limit"].default
    return default


def _suppress(
    session: Session,
    subscriber: Subscriber,
    event: NewEvent,
    reason: str,
    now: datetime,
    settings: Settings | None,
) -> None:
    """Stop SUBSCRIBER's mail for good and list their address (the quoted one if erased)."""
    email = subscriber.email or event.email
    suppression.suppress_subscriber(
        session,
        settings.secret_keys if settings else [],
        subscriber=subscriber,
        # Without settings there is no key to hash with: the subscriber is still stopped.
        email=email if settings else None,
        reason=reason,
        source="webhook",
        now=now,
    )


def _reset_streaks(session: Session, subscriber_ids: set[int | None]) -> None:
    ids = sorted(sid for sid in subscriber_ids if sid is not None)
    for start in range(0, len(ids), INSERT_CHUNK):
        session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(ids[start : start + INSERT_CHUNK]))
            .where(Subscriber.soft_bounce_streak != 0)
            .values(soft_bounce_streak=0)
            .execution_options(synchronize_session=False)
        )


def store_events(
    session: Session,
    events: Sequence[NewEvent],
    now: datetime,
    settings: Settings | None = None,
) -> list[NewEvent]:
    """Store EVENTS once each and apply the new ones; return the events that were new.

    NOW is when they are recorded (and when a stopping event stops the subscriber's mail).
    SETTINGS give the keys of the suppression list and the soft-bounce limit; without them
    (pixel and click hits, which never stop mail) no address is listed.
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
    _apply_to_subscribers(session, fresh, now, settings)
    return fresh
