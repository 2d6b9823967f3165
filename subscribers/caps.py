"""Caps on confirmation emails: a form anyone can fill in must not become a mailer.

Per address: none within RESEND_AFTER of the last one for the same course, at most
confirmations_per_address_day in 24 hours and confirmations_per_address_month in 30 days.
Globally: at most confirmations_per_hour per clock hour (UTC); above it a signup is still
stored and its confirmation waits for the next hour with room, which the dispatcher then sends.

The hourly ceiling keeps one counter row per hour (an UPSERT that returns the new count), so
two parallel signups can never both take the last place of an hour. Retention prunes the rows
of hours long past.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, true
from sqlalchemy.orm import Session

from config import Settings
from store.models import Counter, Delivery, DeliveryKind, DeliveryState
from subscribers import counters

RESEND_AFTER = timedelta(minutes=10)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)
HOUR = timedelta(hours=1)
WINDOW_PREFIX = "confirmations.hour."
# How far ahead a waiting confirmation looks for an hour with room before it takes the last.
MAX_HOURS_AHEAD = 24 * 30


@dataclass(frozen=True)
class Recent:
    """The confirmations (not skipped) an address got lately: counts and the newest time."""

    in_day: int
    in_month: int
    newest: datetime | None


def recent_confirmations(
    session: Session, subscriber_id: int, now: datetime, course_slug: str | None = None
) -> Recent:
    """Count SUBSCRIBER_ID's confirmations of the last 30 days and of the last 24 hours.

    The newest is that of COURSE_SLUG when given: signing up for two courses one after the
    other is no resend, while the day and month caps count every course's.
    """
    same_course = Delivery.course_slug == course_slug if course_slug else true()
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Delivery.created_at > now - DAY, 1), else_=0)), 0),
            func.max(Delivery.created_at).filter(same_course),
        ).where(
            Delivery.subscriber_id == subscriber_id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.state != DeliveryState.SKIPPED,
            Delivery.created_at > now - MONTH,
        )
    ).one()
    return Recent(in_day=int(row[1]), in_month=int(row[0]), newest=row[2])


def address_cap(recent: Recent, settings: Settings, now: datetime) -> str | None:
    """Return why this address gets no confirmation now, or None when it may get one."""
    if recent.newest is not None and now - recent.newest < RESEND_AFTER:
        return "one was sent less than 10 minutes ago"
    if recent.in_day >= settings.confirmations_per_address_day:
        return "cap per address per 24 hours"
    if recent.in_month >= settings.confirmations_per_address_month:
        return "cap per address per 30 days"
    return None


def _window_name(start: datetime) -> str:
    return f"{WINDOW_PREFIX}{start:%Y-%m-%dT%H}"


def reserve_send_time(session: Session, per_hour: int, now: datetime, *, take: bool) -> datetime:
    """Return when a confirmation may go out under the hourly ceiling; TAKE its place then.

    Without TAKE (the signup gets no mail) the same counter statement adds nothing, so every
    signup does the same work. Above the ceiling, this hour's overflow spreads over the
    hours after it; each of those counts what it was given, so its own signups see it.
    """
    window = now.replace(minute=0, second=0, microsecond=0)
    used = counters.increment(session, _window_name(window), 1 if take else 0)
    if not take or used <= per_hour:
        return now
    window += HOUR * math.ceil((used - per_hour) / per_hour)
    for _ in range(MAX_HOURS_AHEAD):
        if counters.increment(session, _window_name(window)) <= per_hour:
            break
        window += HOUR
    return window


def prune_spent_windows(session: Session, now: datetime) -> int:
    """Delete the hourly ceiling's counter rows of hours that ended over a day before NOW."""
    # Names sort like their hours (zero-padded ISO), so one range condition finds them; a
    # day's margin keeps any window a signup of this hour could still look back on.
    oldest_kept = _window_name(now.replace(minute=0, second=0, microsecond=0) - DAY)
    statement = delete(Counter).where(
        Counter.name.startswith(WINDOW_PREFIX, autoescape=True), Counter.name < oldest_kept
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def waiting_confirmations(session: Session, now: datetime) -> int:
    """Count confirmations waiting for the hourly ceiling (queued, never tried, due later)."""
    # Retries also wait, but they have been tried (attempts > 0); the partial index on
    # queued rows keeps this cheap.
    query = select(func.count()).where(
        Delivery.state == DeliveryState.QUEUED,
        Delivery.kind == DeliveryKind.CONFIRMATION,
        Delivery.attempts == 0,
        Delivery.not_before > now,
    )
    return int(session.scalar(query) or 0)
