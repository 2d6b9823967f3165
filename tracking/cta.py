"""The call to action, measured per lesson: human clicks, readers, first clicks, bookings.

Counts only clicks judged human (tracking.clicks): scanners click every link. A click on the
call to action is stored with source "cta", which survives `forget` (the URL does not). The
counts come from the rollups (tracking.rollup_actions), so a view costs the same at any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Conversion
from tracking import rollups
from tracking.rollup_actions import CTA_FIRST, CTA_HUMAN, CTA_MACHINE, CTA_READERS

# Each rollup metric and the LessonActions field it fills.
_FIELDS = {
    CTA_HUMAN: "human_clicks",
    CTA_MACHINE: "machine_clicks",
    CTA_READERS: "readers",
    CTA_FIRST: "first_clicks",
}


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


def cta_numbers(session: Session, course_slug: str, days: list[int]) -> Actions:
    """Count the call to action of COURSE_SLUG per lesson (DAYS and any clicked)."""
    by_day = {day: LessonActions(day) for day in days}

    def lesson(day: int) -> LessonActions:
        return by_day.setdefault(day, LessonActions(day))

    # Kept exact by triggers (tracking.rollup_actions): no scan of the events.
    counts = rollups.read(session, _FIELDS, course_slug)
    for (_course, day, metric), value in counts.items():
        setattr(lesson(day), _FIELDS[metric], value)
    for day, bookings in session.execute(
        select(Conversion.day, func.count())
        .where(Conversion.course_slug == course_slug)
        .group_by(Conversion.day)
    ):
        lesson(day).bookings = bookings
    # Every reader who clicked has exactly one lesson of their first click.
    total = sum(value for (_c, _d, metric), value in counts.items() if metric == CTA_FIRST)
    return Actions([by_day[day] for day in sorted(by_day) if day], total)
