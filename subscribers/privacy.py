"""GDPR: export everything about a person, erase it on request (IPs: subscribers.consent)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from delivery.bulk import erase_errors_of
from providers import MailBackend
from providers.sendgrid.contract import SUBSCRIBER_ID_ARG
from providers.sendgrid.scrub import ERASED, is_persons, without_person
from providers.sendgrid.webhook import parse_events
from store.erasure_lock import hold_for_erasure
from store.models import (
    ConsentEvent,
    Conversion,
    Delivery,
    DeliveryKind,
    EmailEvent,
    Enrollment,
    LessonRating,
    PreferenceEvent,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import counters, suppression
from subscribers.lifecycle import stop_all_mail


def _row(obj: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def export_subscriber(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Return everything stored about SUBSCRIBER as plain JSON-ready data."""

    def rows_of(model: Any, *order: Any) -> Sequence[Any]:
        query = select(model).where(model.subscriber_id == subscriber.id).order_by(*order)
        return session.scalars(query).all()

    enrollments = rows_of(Enrollment, Enrollment.id)
    deliveries = rows_of(Delivery, Delivery.id)
    events = rows_of(EmailEvent, EmailEvent.occurred_at, EmailEvent.id)
    # The consent history: each signup, confirmation, opt-out and suppression, in order.
    consent = rows_of(ConsentEvent, ConsentEvent.occurred_at, ConsentEvent.id)
    preferences = rows_of(PreferenceEvent, PreferenceEvent.occurred_at, PreferenceEvent.id)
    rated = rows_of(LessonRating, LessonRating.course_slug, LessonRating.day)
    return {
        "subscriber": _row(subscriber),
        "enrollments": [_row(row) for row in enrollments],
        "deliveries": [_row(row) for row in deliveries],
        "events": [_row(row) for row in events],
        "consent_events": [_row(row) for row in consent],
        "preference_events": [_row(row) for row in preferences],
        "lesson_ratings": [_row(row) for row in rated],
        "bookings": [
            _row(row)
            for row in session.scalars(
                select(Conversion)
                .where(Conversion.subscriber_id == subscriber.id)
                .order_by(Conversion.id)
            )
        ],
    }


def forget_subscriber(
    session: Session,
    subscriber: Subscriber,
    now: datetime,
    mail: MailBackend,
    *,
    keys: Sequence[str],
) -> None:
    """Erase SUBSCRIBER's personal data; keep anonymous rows so per-lesson counts stay right."""
    erase_subscriber(session, subscriber, now, mail, keys=keys)
    counters.increment(session, counters.FORGOTTEN)


def erase_subscriber(
    session: Session,
    subscriber: Subscriber,
    now: datetime,
    mail: MailBackend,
    *,
    keys: Sequence[str],
) -> None:
    """Erase SUBSCRIBER's personal data everywhere we keep it (forget, and the retention job).

    Kept: the anonymous row (status, course, dates), its deliveries and events without free
    text, its lesson ratings unlinked and without comments, the consent events (no address;
    the IP only as a keyed hash), and the suppression hash (under KEYS, the secret keys), so
    an address that bounced or complained is still never mailed again. Events that arrive
    for them later are dropped by the ingest (tracking.ingest).

    The caller takes the erasure lock (store.erasure_lock) first in its transaction, before
    it locks the subscriber row: no ingest or drain of hits then runs beside the erase.
    """
    # A no-op when the caller holds it; a caller that forgot still gets no overlap.
    hold_for_erasure(session)
    email = subscriber.email
    stop_all_mail(
        session, subscriber, status=SubscriberStatus.FORGOTTEN, reason="forgotten", now=now
    )
    subscriber.status = SubscriberStatus.FORGOTTEN
    subscriber.forgotten_at = now
    for column in ("email", "first_name", "consent_ip_hash", "signup_source", "timezone"):
        setattr(subscriber, column, None)
    # Provider messages (bounce reasons, errors) often quote the address itself.
    session.execute(
        update(EmailEvent)
        .where(EmailEvent.subscriber_id == subscriber.id)
        .values(user_agent=None, url=None, reason=None)
    )
    _erase_ratings(session, subscriber.id)
    # A confirmation keeps the name and zone of its signup until it is confirmed.
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.kind == DeliveryKind.CONFIRMATION)
        .values(requested_name=None, requested_timezone=None)
    )
    # What a reader typed as their reason to leave; the chosen reason and day stay.
    session.execute(
        update(PreferenceEvent)
        .where(PreferenceEvent.subscriber_id == subscriber.id, PreferenceEvent.comment.is_not(None))
        .values(comment=None)
    )
    erase_errors_of(session, subscriber.id, ERASED)
    _clear_webhook_bodies(session, subscriber.id, email, keys, now)
    if email:
        # Development's outbox keeps every mail as a file (SendGrid keeps nothing of ours).
        mail.forget(email)


def _erase_ratings(session: Session, subscriber_id: int) -> None:
    """Delete the person's lesson comments and unlink their ratings; the answers still count.

    Deleted, not only unlinked: a comment is free text, and text can name its writer or
    tell their health story, which no unlinking makes anonymous. A "ja" or "nee" cannot.
    """
    session.execute(
        update(LessonRating)
        .where(LessonRating.subscriber_id == subscriber_id)
        .values(subscriber_id=None, delivery_id=None, comment=None, commented_at=None)
        .execution_options(synchronize_session=False)
    )


def _clear_webhook_bodies(
    session: Session, subscriber_id: int, email: str | None, keys: Sequence[str], now: datetime
) -> None:
    """Take the person's events out of stored webhook bodies, and their address out of all.

    Pending and processed bodies alike: providers quote the address per event, and our tags
    name the subscriber (a processed body keeps them, with the links they clicked). A bounce
    or complaint of theirs still waiting to be ingested lists the address's hash first: the
    ingest could no longer, and such an address must never be mailed again.
    """
    # Case-insensitive: a provider may quote the address as the person typed it, and LIKE
    # on PostgreSQL is case-sensitive. autoescape: "_" in an address is no wildcard. The
    # tag as the body is stored (JSON with ": "), a string as we send it or a number.
    body_text = func.lower(cast(WebhookBatch.body, Text))
    tag = f'"{SUBSCRIBER_ID_ARG}": '
    patterns = [f'{tag}"{subscriber_id}"', f"{tag}{subscriber_id},", f"{tag}{subscriber_id}}}"]
    if email:
        patterns.append(email.lower())
    matches = select(WebhookBatch.id, WebhookBatch.processed_at).where(
        or_(*(body_text.contains(pattern, autoescape=True) for pattern in patterns))
    )
    for batch_id, processed_at in list(session.execute(matches)):
        try:
            body = session.scalar(select(WebhookBatch.body).where(WebhookBatch.id == batch_id))
        except (ValueError, RecursionError):
            # A body the driver cannot even load (set aside as poison): it holds the person's
            # data and will never be processed, so it goes now rather than at retention.
            session.execute(delete(WebhookBatch).where(WebhookBatch.id == batch_id))
            continue
        if processed_at is None and isinstance(body, list):
            theirs = [event for event in body if is_persons(event, email, subscriber_id)]
            _list_failures(session, keys, theirs, email, now)
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(body=without_person(body, email, subscriber_id))
        )


def _list_failures(
    session: Session, keys: Sequence[str], events: list[Any], email: str | None, now: datetime
) -> None:
    """Put the addresses of pending hard bounces and complaints on the suppression list.

    Only the hash: no consent event, as nothing new may point at the erased person.
    """
    for event in parse_events(events, lambda: now):
        reason = suppression.FAILURE_REASONS.get(event.failure or "")
        address = event.email or email
        if reason and address:
            suppression.suppress(session, keys, address, reason=reason, source="webhook", now=now)
