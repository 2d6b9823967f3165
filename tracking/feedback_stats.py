"""Per lesson, what readers said: the share of "ja", how many rated, and their comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import LessonRating
from tracking import rollups
from tracking.rollup_actions import RATINGS, RATINGS_USEFUL

# Comments the dashboard lists, newest first, over all lessons of a course.
COMMENTS_SHOWN = 200


@dataclass(frozen=True)
class Comment:
    """One reader's comment on a lesson (no name or address: the clinic reads text only)."""

    day: int
    useful: bool
    text: str
    written_at: datetime | None


@dataclass
class LessonRatings:
    """How one lesson was rated; one rating per reader (their last answer)."""

    day: int
    ratings: int = 0
    useful: int = 0

    @property
    def useful_share(self) -> float | None:
        """Return the share of "ja" among the ratings, or None with no ratings yet."""
        return self.useful / self.ratings if self.ratings else None


@dataclass
class Feedback:
    """The ratings of every lesson of a course, and its newest comments."""

    lessons: list[LessonRatings] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


def lesson_feedback(session: Session, course_slug: str, days: list[int]) -> Feedback:
    """Count the ratings of COURSE_SLUG per lesson (DAYS and any rated) and list comments."""
    by_day = {day: LessonRatings(day) for day in days}
    # Kept exact by triggers (tracking.rollup_actions): no scan of the ratings.
    for (_course, day, metric), value in rollups.read(
        session, (RATINGS, RATINGS_USEFUL), course_slug
    ).items():
        lesson = by_day.setdefault(day, LessonRatings(day))
        if metric == RATINGS:
            lesson.ratings = value
        else:
            lesson.useful = value
    comments = [
        Comment(day, useful, text or "", written_at)
        for day, useful, text, written_at in session.execute(
            select(
                LessonRating.day,
                LessonRating.useful,
                LessonRating.comment,
                LessonRating.commented_at,
            )
            .where(LessonRating.course_slug == course_slug, LessonRating.comment.is_not(None))
            .order_by(LessonRating.commented_at.desc(), LessonRating.id.desc())
            .limit(COMMENTS_SHOWN)
        )
    ]
    # The closing email's answers (the whole course, day CLOSING_DAY) come after the lessons.
    return Feedback([by_day[day] for day in sorted(by_day, key=lambda d: (d < 1, d))], comments)
