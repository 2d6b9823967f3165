"""Ingest stored webhook batches: the provider's events become ours, once per batch and event.

The web endpoint only verifies and stores each batch (one insert, answered at once); this
step, run by a worker task or by the dispatcher's pass, turns the batch into email events
tied to our deliveries, then keeps the batch without personal data.

An event we cannot tie to anyone (so nobody could have it erased later) is stored without
its free text and user agent, and its part of the kept body loses them too. An event of an
erased ("forgotten") person is dropped: no row, no counter moves, and it leaves the kept
body; a hard bounce or complaint of theirs still puts the quoted address's hash on the
suppression list. The rest of its batch is stored as ever. The ingest and an erase never
overlap (store.erasure_lock). A batch that keeps failing is set aside
(tracking.batch_failures), so it never holds up the batches behind it.

Dropped, not kept unlinked: what happened after the erase is new data about someone who
asked to be forgotten, and the dashboard's counts cannot use it unlinked. They come from
the delivery rows (delivered, opened, clicked) and from marks per subscriber (bounces,
complaints, unsubscribes), which an unlinked event would not reach, and moving the erased
person's delivery counters would record what they did. So their part of the counts stays
as it was at the erase: an old lesson they open afterwards no longer counts as opened.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from providers.events import ProviderEvent
from providers.sendgrid.scrub import without_personal_data
from providers.sendgrid.webhook import parse_events
from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import Delivery, Subscriber, WebhookBatch
from subscribers import suppression
from tracking.batch_failures import record_failure
from tracking.classify import is_machine_open
from tracking.record import DELIVERY_COLUMNS, NewEvent, among, forgotten_among, store_events
from tracking.tallies import count_ingested

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
        columns = (*DELIVERY_COLUMNS, Delivery.provider_message_id)
        self.by_id: dict[int, _DeliveryInfo] = {}
        # One provider request carries many recipients, so one message id maps to many
        # deliveries; the event's address tells them apart.
        self.by_message: dict[str, list[_DeliveryInfo]] = {}
        rows: list[Any] = []
        if ids:
            rows += session.execute(select(*columns).where(among(session, Delivery.id, ids))).all()
        # Events our delivery id tag placed need nothing more; the others are placed by the
        # provider's message id, our subscriber id tag or the address.
        found = {row.id for row in rows}
        unplaced = [event for event in events if event.delivery_id not in found]
        message_ids = {event.message_id for event in unplaced} - {None}
        if message_ids:
            by_message = select(*columns).where(
                among(session, Delivery.provider_message_id, message_ids)
            )
            rows += session.execute(by_message).all()
        for row in rows:
            info = _DeliveryInfo(*row[: len(DELIVERY_COLUMNS)])
            self.by_id[info.id] = info
            if row.provider_message_id:
                self.by_message.setdefault(row.provider_message_id, []).append(info)
        subscriber_ids = {event.subscriber_id for event in unplaced} - {None}
        self.subscribers: set[int] = set()
        if subscriber_ids:
            known = select(Subscriber.id).where(among(session, Subscriber.id, subscriber_ids))
            self.subscribers = set(session.scalars(known))
        # Case-insensitive by construction, and on the unique index: the parser lower-cases
        # an event's address, and every subscriber address is stored normalised to lower case.
        emails = {event.email for event in unplaced} - {None}
        self.by_email: dict[str, int] = {}
        if emails:
            by_email = select(Subscriber.email, Subscriber.id).where(
                among(session, Subscriber.email, emails)
            )
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


@dataclass
class _Placed:
    """A batch's events sorted out: what to store, and what its kept body and the list lose."""

    events: list[NewEvent] = field(default_factory=list)
    # Keys of events tied to nobody: stored, but the kept body loses their free text.
    untied: set[str] = field(default_factory=set)
    # Keys of erased people's events: neither stored nor kept in the body.
    erased: set[str] = field(default_factory=set)
    # (address, reason) of erased people's hard bounces and complaints, for the list.
    to_list: list[tuple[str, str]] = field(default_factory=list)


def events_of(session: Session, provider_events: list[ProviderEvent]) -> list[NewEvent]:
    """Tie provider events to our deliveries and subscribers, ready to store."""
    return _placed_events(session, provider_events).events


def _placed_events(session: Session, provider_events: list[ProviderEvent]) -> _Placed:
    """Sort out the events to store, those of nobody and those of erased people."""
    resolver = _Resolver(session, provider_events)
    placed = [(event, resolver.delivery(event)) for event in provider_events]
    owners = [resolver.subscriber(event, delivery) for event, delivery in placed]
    forgotten = forgotten_among(session, set(owners))
    result = _Placed()
    agents: dict[str, str] = {}  # user agent -> what it is, for this batch (tracking.classify)
    for (event, delivery), owner in zip(placed, owners, strict=True):
        if owner is not None and owner in forgotten:
            result.erased.add(event.key)
            reason = suppression.FAILURE_REASONS.get(event.failure or "")
            if reason and event.email:
                result.to_list.append((event.email, reason))
            continue
        # Nobody can have an untied event erased.
        keep_text = owner is not None
        if not keep_text:
            result.untied.add(event.key)
        machine = False
        if event.kind == "open":
            sent = (delivery.delivered_at or delivery.sent_at) if delivery else None
            machine = is_machine_open(
                event.user_agent,
                event.occurred_at,
                sent,
                provider_says_machine=event.machine_open,
                known=agents,
            )
        result.events.append(
            NewEvent(
                kind=event.kind,
                source="sendgrid",
                event_key=event.key,
                occurred_at=event.occurred_at,
                delivery_id=delivery.id if delivery else None,
                subscriber_id=owner,
                course_slug=delivery.course_slug if delivery else event.course,
                day=delivery.day if delivery else event.day,
                machine=machine,
                url=event.url if keep_text else None,
                reason=event.reason if keep_text else None,
                user_agent=event.user_agent if keep_text else None,
                email=event.email,
                failure=event.failure,
            )
        )
    return result


def ingest_batch(runtime: Runtime, batch_id: int) -> bool:
    """Ingest one stored batch; False when it was already done (by us or a racing worker).

    A failure is counted and re-raised; the batch is set aside after a few (batch_failures).
    """
    try:
        return _ingest(runtime, batch_id)
    except Exception as exc:
        record_failure(runtime, batch_id, exc)
        raise


def _ingest(runtime: Runtime, batch_id: int) -> bool:
    now = runtime.now()
    with runtime.session() as session:
        # First: an erase under way finishes before we read who is forgotten.
        hold_for_recording(session)
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
        placed = _placed_events(session, parse_events(body, runtime.clock))
        fresh = store_events(session, placed.events, now, runtime.settings)
        keys = runtime.settings.secret_keys
        for address, reason in placed.to_list:
            # The hash only: no consent event, nothing that points at the erased person.
            suppression.suppress(session, keys, address, reason=reason, source="webhook", now=now)
        kept = without_personal_data(body, forgotten=placed.untied, erased=placed.erased)
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(body=kept)
            .execution_options(synchronize_session=False)
        )
        # Last, so the shared counter rows stay locked only for the commit (tracking.tallies).
        count_ingested(session, fresh, now)
    return True


def pending_batch_ids(
    runtime: Runtime, limit: int, after: tuple[datetime, int] | None = None
) -> list[tuple[datetime, int]]:
    """Return (received_at, id) of the oldest batches not yet ingested, AFTER a position."""
    pending: ColumnElement[bool] = WebhookBatch.processed_at.is_(None)
    if after is not None:
        received_at, batch_id = after
        pending = and_(
            pending,
            or_(
                WebhookBatch.received_at > received_at,
                and_(WebhookBatch.received_at == received_at, WebhookBatch.id > batch_id),
            ),
        )
    with runtime.session() as session:
        query = (
            select(WebhookBatch.received_at, WebhookBatch.id)
            .where(pending)
            .order_by(WebhookBatch.received_at, WebhookBatch.id)
            .limit(limit)
        )
        return [(received_at, batch_id) for received_at, batch_id in session.execute(query)]


def ingest_pending(runtime: Runtime, limit: int = 100, budget_seconds: float = 10.0) -> int:
    """Ingest pending batches, LIMIT at a time, until none are left or the budget is spent.

    Each pass moves forward past the batches it tried, so a page full of failing batches
    never holds up the ones behind them; the failing ones are tried again next pass.
    """
    total = 0
    deadline = time.monotonic() + budget_seconds
    after: tuple[datetime, int] | None = None
    while True:
        page = pending_batch_ids(runtime, limit, after)
        for _, batch_id in page:
            # ingest_batch logs and counts a failure; the batches behind it go on.
            with contextlib.suppress(Exception):
                total += ingest_batch(runtime, batch_id)
        if len(page) < limit or time.monotonic() > deadline:
            return total
        after = page[-1]
