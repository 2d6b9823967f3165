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
    EmailEvent,
    Enrollment,
    Subscriber,
)
from tracking.rollup_sql import UNSUBSCRIBE_KINDS


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


def later_signup_times(session: Session, course_slug: str, since: datetime) -> list[datetime]:
    """Return when each person for whom COURSE_SLUG is a later course signed up, from SINCE."""
    # The first confirmation of that course is when that person signed up for it.
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
    return list(session.scalars(later))


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


def site_unsubscribes(session: Session, course_slug: str) -> dict[int, int]:
    """Count leavers of COURSE_SLUG through our own link, per last lesson sent before it.

    Those SendGrid reported as unsubscribed are counted by their event instead; leaving
    before the first lesson counts against day 1, where it stopped.
    """
    reported = select(EmailEvent.subscriber_id).where(
        EmailEvent.kind.in_(UNSUBSCRIBE_KINDS), EmailEvent.subscriber_id.is_not(None)
    )
    last_day = (
        select(func.max(Delivery.day))
        .where(
            Delivery.subscriber_id == Subscriber.id,
            Delivery.course_slug == course_slug,
            Delivery.kind == DeliveryKind.LESSON,
            Delivery.sent_at.is_not(None),
            Delivery.sent_at <= left_at(course_slug),
        )
        .scalar_subquery()
    )
    counts: dict[int, int] = {}
    for day, count in session.execute(
        select(last_day, func.count())
        .where(left(course_slug), Subscriber.id.not_in(reported))
        .group_by(last_day)
    ):
        counts[day or 1] = counts.get(day or 1, 0) + count
    return counts
