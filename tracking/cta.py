"""The call to action, measured per lesson: human clicks, readers, first clicks, bookings.

Counts only clicks judged human (tracking.clicks): scanners click every link. A click on the
call to action is stored with source "cta", which survives `forget` (the URL does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, distinct, func, select
from sqlalchemy.orm import Session

from store.models import Conversion, EmailEvent
from tracking.clicks import CTA


@dataclass
class LessonActions:
    """What one lesson's call to action brought."""

    day: int
    human_clicks: int = 0
    machine_clicks: int = 0
    readers: int = 0  # readers who clicked it in this lesson at least once
    first_clicks: int = 0  # readers whose first click on it was in this lesson
    bookings: int = 0


@dataclass
class Actions:
    """The call to action of a course, per lesson and over the whole course."""

    lessons: list[LessonActions] = field(default_factory=list)
    readers: int = 0  # readers who clicked it at least once, in any lesson

    @property
    def bookings(self) -> int:
        """Return the bookings reported over all lessons."""
        return sum(lesson.bookings for lesson in self.lessons)


def _cta_clicks(course_slug: str, *, machine: bool) -> ColumnElement[bool]:
    return and_(
        EmailEvent.kind == "click",
        EmailEvent.source == CTA,
        EmailEvent.course_slug == course_slug,
        EmailEvent.day.is_not(None),
        EmailEvent.machine.is_(machine),
    )


def cta_numbers(session: Session, course_slug: str, days: list[int]) -> Actions:
    """Count the call to action of COURSE_SLUG per lesson (DAYS and any clicked)."""
    by_day = {day: LessonActions(day) for day in days}

    def lesson(day: int | None) -> LessonActions:
        # Every query below counts lesson clicks only (day set); 0 keeps mypy content.
        return by_day.setdefault(day or 0, LessonActions(day or 0))

    human = _cta_clicks(course_slug, machine=False)
    for day, clicks, readers in session.execute(
        select(EmailEvent.day, func.count(), func.count(distinct(EmailEvent.subscriber_id)))
        .where(human)
        .group_by(EmailEvent.day)
    ):
        lesson(day).human_clicks, lesson(day).readers = clicks, readers
    for day, clicks in session.execute(
        select(EmailEvent.day, func.count())
        .where(_cta_clicks(course_slug, machine=True))
        .group_by(EmailEvent.day)
    ):
        lesson(day).machine_clicks = clicks
    # Each reader's first human click on the call to action, and the lesson it was in.
    first = (
        select(EmailEvent.subscriber_id, func.min(EmailEvent.occurred_at).label("first_at"))
        .where(human, EmailEvent.subscriber_id.is_not(None))
        .group_by(EmailEvent.subscriber_id)
        .subquery()
    )
    for day, readers in session.execute(
        select(EmailEvent.day, func.count(distinct(EmailEvent.subscriber_id)))
        .join(
            first,
            and_(
                first.c.subscriber_id == EmailEvent.subscriber_id,
                first.c.first_at == EmailEvent.occurred_at,
            ),
        )
        .where(human)
        .group_by(EmailEvent.day)
    ):
        lesson(day).first_clicks = readers
    for day, bookings in session.execute(
        select(Conversion.day, func.count())
        .where(Conversion.course_slug == course_slug)
        .group_by(Conversion.day)
    ):
        lesson(day).bookings = bookings
    total = session.scalar(
        select(func.count(distinct(EmailEvent.subscriber_id))).where(
            human, EmailEvent.subscriber_id.is_not(None)
        )
    )
    return Actions([by_day[day] for day in sorted(by_day) if day], int(total or 0))
