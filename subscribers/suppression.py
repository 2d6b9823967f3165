"""The permanent suppression list: addresses that get no mail, kept as HMACs.

Hard bounces, complaints and addresses the clinic blocks by hand land here. The list is keyed
by an HMAC of the normalised address (the secret key's), so it holds no address, and it
survives `subscribers forget`: a forgotten person who bounced is still never mailed again.
KEYS is the secret key followed by its fallbacks: entries made before a key rotation still
match, and new ones are made with the current key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from providers.events import Failure
from store.models import ConsentEventKind, Subscriber, SubscriberStatus, Suppression
from subscribers.consent import record_consent
from subscribers.lifecycle import stop_all_mail

# Why an address is on the list (Suppression.reason, and the subscriber's suppression_reason).
HARD_BOUNCE = "bounce"
SOFT_BOUNCES = "soft_bounces"
COMPLAINT = "complaint"
MANUAL = "manual"
# What a provider's failure puts on the list as its reason; soft ones only count in a row.
FAILURE_REASONS = {Failure.HARD: HARD_BOUNCE, Failure.COMPLAINT: COMPLAINT}


def address_hash(secret_key: str, email: str) -> str:
    """Return HMAC-SHA256(secret key, normalised address) as hex."""
    normalised = email.strip().lower().encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), normalised, hashlib.sha256).hexdigest()


def _hashes(keys: Sequence[str], email: str) -> list[str]:
    return [address_hash(key, email) for key in keys]


def is_suppressed(session: Session, keys: Sequence[str], email: str) -> bool:
    """Tell whether EMAIL is on the suppression list (under any of KEYS)."""
    query = select(Suppression.address_hash).where(
        Suppression.address_hash.in_(_hashes(keys, email))
    )
    return session.scalar(query.limit(1)) is not None


def suppress(
    session: Session,
    keys: Sequence[str],
    email: str,
    *,
    reason: str,
    source: str,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Put EMAIL on the list; return False when it already was (the first reason stays)."""
    if is_suppressed(session, keys, email):
        return False
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Two workers may ingest bounces of one address at once: the second insert does nothing.
    statement = (
        insert(Suppression)
        .values(
            address_hash=address_hash(keys[0], email),
            reason=reason,
            source=source,
            created_at=now,
            note=note,
        )
        .on_conflict_do_nothing(index_elements=["address_hash"])
        .returning(Suppression.address_hash)
    )
    return session.scalar(statement) is not None


def lift(session: Session, keys: Sequence[str], email: str) -> bool:
    """Take EMAIL off the list (under every key); return False when it was not on it."""
    found = session.scalars(
        select(Suppression).where(Suppression.address_hash.in_(_hashes(keys, email)))
    ).all()
    for entry in found:
        session.delete(entry)
    return bool(found)


def suppress_subscriber(
    session: Session,
    keys: Sequence[str],
    *,
    subscriber: Subscriber | None,
    email: str | None,
    reason: str,
    source: str,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Stop all mail to SUBSCRIBER and list EMAIL for good; return True when EMAIL was new.

    EMAIL is the address at this moment (a forgotten subscriber has none on file, so the
    caller passes the one the provider quoted). The consent history gets one suppression
    event per person, not one per repeated bounce.
    """
    newly_stopped = subscriber is not None and subscriber.status not in (
        SubscriberStatus.SUPPRESSED,
        SubscriberStatus.FORGOTTEN,
    )
    if subscriber is not None:
        stop_all_mail(
            session, subscriber, status=SubscriberStatus.SUPPRESSED, reason=reason, now=now
        )
    listed = bool(email) and suppress(
        session, keys, email or "", reason=reason, source=source, now=now, note=note
    )
    if subscriber is not None and (newly_stopped or listed):
        record_consent(
            session,
            subscriber_id=subscriber.id,
            kind=ConsentEventKind.SUPPRESSION,
            source=source,
            now=now,
            detail=reason,
        )
    return listed


def lift_subscriber(
    session: Session,
    keys: Sequence[str],
    *,
    subscriber: Subscriber | None,
    email: str,
    now: datetime,
) -> bool:
    """Take EMAIL off the list and let its suppressed subscriber opt in again; True if so.

    Mail stays stopped: the subscriber becomes unsubscribed (as of NOW), so only a new,
    confirmed signup restarts the course, exactly as after an unsubscribe.
    """
    lifted = lift(session, keys, email)
    if subscriber is None or subscriber.status != SubscriberStatus.SUPPRESSED:
        return lifted
    subscriber.status = SubscriberStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = now
    # A fresh start: one soft bounce after the lift must not suppress again at once.
    subscriber.soft_bounce_streak = 0
    return True


def suppression_count(session: Session) -> int:
    """Return how many addresses are on the list."""
    return int(session.scalar(select(func.count()).select_from(Suppression)) or 0)


def suppression_entries(session: Session, limit: int | None = None) -> list[Suppression]:
    """Return the list's entries, newest first (LIMIT of them, or all)."""
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.address_hash)
    return list(session.scalars(query.limit(limit) if limit else query))
