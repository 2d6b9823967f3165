"""The dashboard's subscriber list (search, pages) and one subscriber's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Delivery, DeliveryKind, EmailEvent, Subscriber
from tracking import rollups
from tracking.rollup_sql import SIGNUPS

PAGE_SIZE = 50

# Dutch labels for what the clinic reads in a timeline.
EVENT_LABELS = {
    "processed": "Geaccepteerd door SendGrid",
    "delivered": "Afgeleverd",
    "deferred": "Vertraagd",
    "open": "Geopend",
    "click": "Geklikt",
    "bounce": "Bounce",
    "dropped": "Niet verzonden (dropped)",
    "spamreport": "Gemeld als spam",
    "unsubscribe": "Afgemeld via SendGrid",
    "group_unsubscribe": "Afgemeld voor groep",
    "group_resubscribe": "Weer aangemeld voor groep",
}
DELIVERY_STATES = {
    "queued": "in de wachtrij",
    "sending": "wordt verzonden",
    "sent": "verzonden",
    "failed": "mislukt",
    "skipped": "overgeslagen",
}


@dataclass(frozen=True)
class Page:
    """One page of subscribers."""

    subscribers: list[Subscriber]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class TimelineEntry:
    """One moment in a subscriber's history."""

    at: datetime
    what: str
    detail: str = ""


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


# What the timeline calls a mail that is not a lesson.
MAIL_LABELS = {DeliveryKind.CONFIRMATION: "Bevestigingsmail", DeliveryKind.CLOSING: "Afsluitmail"}


def search_subscribers(session: Session, query: str = "", page: int = 1) -> Page:
    """Return PAGE of subscribers whose address contains QUERY, newest first."""
    condition = func.lower(Subscriber.email).like(_like_pattern(query.strip()), escape="\\")
    if query.strip():
        base = select(Subscriber).where(condition)
        # On PostgreSQL the trigram index on lower(email) finds the matches.
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    else:
        base = select(Subscriber)
        # Every subscriber is a signup of one course: the rollups count them all exactly.
        total = sum(rollups.read(session, [SIGNUPS]).values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.scalars(
        base.order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return Page(list(rows), page, pages, total)


def timeline(session: Session, subscriber: Subscriber) -> list[TimelineEntry]:
    """Return SUBSCRIBER's signup, confirmation, lessons and events in time order."""
    entries = [TimelineEntry(subscriber.created_at, "Aangemeld", subscriber.signup_source or "")]
    moments = [
        (subscriber.confirmed_at, "Aanmelding bevestigd", subscriber.consent_version or ""),
        (subscriber.unsubscribed_at, "Afgemeld", ""),
        (subscriber.suppressed_at, "Geblokkeerd", subscriber.suppression_reason or ""),
        (subscriber.forgotten_at, "Gegevens gewist", ""),
    ]
    entries += [TimelineEntry(at, what, detail) for at, what, detail in moments if at]
    deliveries = session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.day)
    )
    for delivery in deliveries:
        state = DELIVERY_STATES.get(delivery.state, delivery.state)
        mail = MAIL_LABELS.get(delivery.kind) or f"Les {delivery.day}"
        entries.append(TimelineEntry(delivery.created_at, f"{mail} ingepland", state))
        if delivery.sent_at:
            entries.append(TimelineEntry(delivery.sent_at, f"{mail} verzonden"))
        if delivery.state in {"failed", "skipped"}:
            detail = delivery.last_error or ""
            entries.append(TimelineEntry(delivery.created_at, f"{mail} {state}", detail))
    events = session.scalars(select(EmailEvent).where(EmailEvent.subscriber_id == subscriber.id))
    for event in events:
        what = EVENT_LABELS.get(event.kind, event.kind)
        if event.kind == "open":
            what += " (machine)" if event.machine else " (mens)"
        if event.day:
            what = f"Les {event.day}: {what}"
        entries.append(TimelineEntry(event.occurred_at, what, event.url or event.reason or ""))
    return sorted(entries, key=lambda entry: entry.at)


def received_lessons(session: Session, subscriber_id: int) -> list[Delivery]:
    """Return the lessons sent to SUBSCRIBER_ID, by day, each naming its course version."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.subscriber_id == subscriber_id,
                Delivery.kind == DeliveryKind.LESSON,
                Delivery.sent_at.is_not(None),
            )
            .order_by(Delivery.day, Delivery.id)
        )
    )
