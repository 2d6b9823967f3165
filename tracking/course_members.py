"""Who belongs to a course, in SQL: the per-course filter of the funnel, charts and exports.

One person can follow several courses. `Subscriber.course_slug` is only their first course;
a later course shows in its confirmation deliveries (a signup) and its enrollments (a
confirmed reader). A subscriber from before enrollments were per course, confirmed without
any enrollment, counts in their first course.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from store.models import (
    ConsentEvent,
    ConsentEventKind,
    Delivery,
    DeliveryKind,
    Enrollment,
    Subscriber,
)


def _enrolled(course_slug: str) -> Any:
    return exists().where(
        Enrollment.subscriber_id == Subscriber.id, Enrollment.course_slug == course_slug
    )


def signed_up_for(course_slug: str) -> Any:
    """Return the condition: this subscriber signed up for COURSE_SLUG (first or later)."""
    later = exists().where(
        Delivery.subscriber_id == Subscriber.id,
        Delivery.kind == DeliveryKind.CONFIRMATION,
        Delivery.course_slug == course_slug,
    )
    return or_(Subscriber.course_slug == course_slug, later)


def confirmed_for(course_slug: str) -> Any:
    """Return the condition: this subscriber confirmed COURSE_SLUG."""
    elsewhere = exists().where(
        Enrollment.subscriber_id == Subscriber.id, Enrollment.course_slug != course_slug
    )
    # Their first course: confirmed, unless what they confirmed was only another course.
    first = and_(
        Subscriber.course_slug == course_slug,
        Subscriber.confirmed_at.is_not(None),
        or_(_enrolled(course_slug), not_(elsewhere)),
    )
    later = and_(Subscriber.course_slug != course_slug, _enrolled(course_slug))
    return or_(first, later)


def signup_counts(session: Session, course_slug: str) -> tuple[int, int]:
    """Return (signed up, confirmed) for COURSE_SLUG, each person counted once."""
    signups, confirmed = session.execute(
        select(func.count(), func.count().filter(confirmed_for(course_slug))).where(
            signed_up_for(course_slug)
        )
    ).one()
    return int(signups), int(confirmed)


def signup_times(session: Session, course_slug: str, since: datetime) -> list[datetime]:
    """Return when each person signed up for COURSE_SLUG, for signups from SINCE on."""
    first = select(Subscriber.created_at).where(
        Subscriber.course_slug == course_slug, Subscriber.created_at >= since
    )
    # A later course: the first confirmation of it is when that person signed up.
    later = (
        select(func.min(Delivery.created_at))
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.course_slug == course_slug,
            Subscriber.course_slug != course_slug,
        )
        .group_by(Delivery.subscriber_id)
        .having(func.min(Delivery.created_at) >= since)
    )
    return [*session.scalars(first), *session.scalars(later)]


def _opt_outs(course_slug: str, *, other: bool = False) -> Any:
    named = (
        ConsentEvent.course_slug != course_slug
        if other
        else (ConsentEvent.course_slug == course_slug)
    )
    return and_(
        ConsentEvent.subscriber_id == Subscriber.id,
        ConsentEvent.kind == ConsentEventKind.UNSUBSCRIBE,
        named,
    )


def left(course_slug: str) -> Any:
    """Return the condition: this subscriber unsubscribed from COURSE_SLUG (or from all mail)."""
    # Before opt-outs named their course, an unsubscribed person left their first course.
    legacy = and_(
        Subscriber.course_slug == course_slug,
        Subscriber.unsubscribed_at.is_not(None),
        not_(exists().where(_opt_outs(course_slug, other=True))),
    )
    return or_(legacy, exists().where(_opt_outs(course_slug)))


def left_at(course_slug: str) -> Any:
    """Return when this subscriber last left COURSE_SLUG (a correlated scalar subquery)."""
    named = select(func.max(ConsentEvent.occurred_at)).where(_opt_outs(course_slug))
    return func.coalesce(named.scalar_subquery(), Subscriber.unsubscribed_at)
