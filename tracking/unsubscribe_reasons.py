"""Why readers leave, per lesson: the reasons chosen on the preferences page, and comments.

The lesson is the last one the reader had been sent when they left (0: before day 1). Reads
preference events only (store.preferences), so a forgotten reader's reason still counts;
their comment was erased with the rest of their data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import PreferenceEvent, PreferenceEventKind
from subscribers.leaving import REASONS

# Comments the dashboard lists, newest first.
COMMENTS_SHOWN = 50
NO_REASON = ""  # a comment without a chosen reason


@dataclass(frozen=True)
class Comment:
    """One reader's own words on leaving."""

    day: int
    reason: str  # the label shown to the reader, or "" when none was chosen
    text: str
    occurred_at: datetime


@dataclass
class LessonReasons:
    """The reasons given after one lesson: label -> count."""

    day: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Return how many readers gave a reason after this lesson."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class UnsubscribeReasons:
    """The dashboard's view: per lesson, and the latest comments."""

    labels: tuple[str, ...]
    lessons: list[LessonReasons]
    comments: list[Comment]


def _label(code: str | None) -> str:
    """Return the label the reader saw for reason CODE."""
    return REASONS.get(code or NO_REASON, "Geen reden gekozen")


def unsubscribe_reasons(session: Session, course_slug: str) -> UnsubscribeReasons:
    """Count COURSE_SLUG's unsubscribe reasons per lesson and list the latest comments."""
    kind_and_course = (
        PreferenceEvent.kind == PreferenceEventKind.UNSUBSCRIBE_REASON,
        PreferenceEvent.course_slug == course_slug,
    )
    rows = session.execute(
        select(PreferenceEvent.day, PreferenceEvent.value, func.count())
        .where(*kind_and_course)
        .group_by(PreferenceEvent.day, PreferenceEvent.value)
    ).all()
    per_day: defaultdict[int, LessonReasons] = defaultdict(lambda: LessonReasons(0))
    for day, code, count in rows:
        lesson = per_day[day or 0]
        lesson.day = day or 0
        label = _label(code)
        lesson.counts[label] = lesson.counts.get(label, 0) + int(count)
    comments = session.execute(
        select(
            PreferenceEvent.day,
            PreferenceEvent.value,
            PreferenceEvent.comment,
            PreferenceEvent.occurred_at,
        )
        .where(*kind_and_course, PreferenceEvent.comment.is_not(None))
        .order_by(PreferenceEvent.occurred_at.desc(), PreferenceEvent.id.desc())
        .limit(COMMENTS_SHOWN)
    ).all()
    return UnsubscribeReasons(
        labels=(*REASONS.values(), _label(None)),
        lessons=[per_day[day] for day in sorted(per_day)],
        comments=[
            Comment(day or 0, REASONS.get(code or "", ""), text or "", at)
            for day, code, text, at in comments
        ],
    )
