"""Where a subscriber stands in each course: in it, left it, or running mail elsewhere.

One person can follow several courses; signup and the sender ask this before they write or
send anything for a course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from delivery.enrollments import LIVE
from delivery.transitions import Executor
from store.models import Enrollment, EnrollmentStatus, Subscriber


@dataclass(frozen=True)
class CourseStanding:
    """Where a subscriber stands in one course: in it (running or done), or left it when."""

    joined: bool
    left_at: datetime | None
    live_elsewhere: bool
    enrolled_anywhere: bool


def course_standing(executor: Executor, subscriber_id: int, course_slug: str) -> CourseStanding:
    """Tell whether SUBSCRIBER_ID is in COURSE_SLUG, when they left it, and if mail runs elsewhere.

    One grouped query, the same for every subscriber (a signup's equal work).
    """
    rows = executor.execute(
        select(Enrollment.course_slug, Enrollment.status, func.max(Enrollment.cancelled_at))
        .where(Enrollment.subscriber_id == subscriber_id)
        .group_by(Enrollment.course_slug, Enrollment.status)
    ).all()
    here = [(status, left) for slug, status, left in rows if slug == course_slug]
    elsewhere = [status for slug, status, _ in rows if slug != course_slug]
    return CourseStanding(
        joined=any(status != EnrollmentStatus.CANCELLED for status, _ in here),
        left_at=max((left for _, left in here if left is not None), default=None),
        live_elsewhere=any(status in LIVE for status in elsewhere),
        enrolled_anywhere=bool(rows),
    )


def joined_course(standing: CourseStanding, first_course: str, course_slug: str) -> bool:
    """Tell whether a confirmed reader with STANDING in COURSE_SLUG is in it already.

    Confirmed without any enrollment (made before enrollments were per course): in
    FIRST_COURSE, their Subscriber.course_slug.
    """
    legacy = course_slug == first_course and not standing.enrolled_anywhere
    return standing.joined or legacy


def in_course(executor: Executor, subscriber_id: int, course_slug: str) -> bool:
    """Tell whether a confirmed SUBSCRIBER_ID is in COURSE_SLUG (running or done) already."""
    standing = course_standing(executor, subscriber_id, course_slug)
    first = select(Subscriber.course_slug).where(Subscriber.id == subscriber_id)
    return joined_course(standing, executor.execute(first).scalar() or "", course_slug)
