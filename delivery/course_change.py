"""What a new course version does to the people in the middle of the course.

Enrollments follow the live version, day by day. A version that removes or renumbers a day
someone still waits for would send them a lesson twice, skip one, or (past the new last
day) nothing at all, so publishing it is refused until the editor chooses:
- OLD: they finish on the version they started (the enrollment keeps its hash);
- SKIP: they follow the new version: a removed day is skipped, a lesson they wait for is
  found at its new day, and who has nothing left is completed. Someone already past a
  renumbered day can't go back to a lower day number (each day is sent once per
  enrollment), so they finish on the old version instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.bulk import skip_queued_lessons_of
from store.models import Enrollment, EnrollmentStatus

OLD = "old"
SKIP = "skip"
CHOICES = (OLD, SKIP)


@dataclass
class ChangeOutcome:
    """What a publish did to enrollments on the old version."""

    kept_on_old: int = 0
    follow_new: int = 0
    completed: int = 0


def waiting_for(session: Session, slug: str, moved: list[int]) -> list[Enrollment]:
    """Return the enrollments on SLUG's live version that still wait for one of MOVED days.

    Someone at day N waits for every day from N on; enrollments already on their own
    version are not touched by a publish.
    """
    if not moved:
        return []
    return list(
        session.scalars(
            select(Enrollment)
            .where(
                Enrollment.course_slug == slug,
                Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
                Enrollment.course_version.is_(None),
                Enrollment.next_day <= max(moved),
            )
            .order_by(Enrollment.id)
            .with_for_update()
        )
    )


def apply_change(
    session: Session,
    waiting: list[Enrollment],
    *,
    choice: str,
    old_version: str,
    mapping: dict[int, int | None],
    now: datetime,
) -> ChangeOutcome:
    """Carry out CHOICE (OLD or SKIP) for WAITING; MAPPING is old day -> new day or None."""
    if choice not in CHOICES:
        raise ValueError(f"unknown choice {choice!r}")
    outcome = ChangeOutcome()
    for enrollment in waiting:
        target = _next_lesson(enrollment.next_day, mapping) if choice == SKIP else None
        if choice == OLD or (target is not None and target < enrollment.next_day):
            enrollment.course_version = old_version
            outcome.kept_on_old += 1
        elif target is None:
            enrollment.status = EnrollmentStatus.COMPLETED
            enrollment.completed_at, enrollment.next_due_at = now, None
            skip_queued_lessons_of(session, enrollment.id, reason="lesson removed from the course")
            outcome.completed += 1
        elif target > enrollment.next_day:
            skip_queued_lessons_of(session, enrollment.id, reason="course changed: lesson moved")
            enrollment.next_day = target
            if enrollment.status == EnrollmentStatus.ACTIVE and enrollment.next_due_at is None:
                enrollment.next_due_at = now  # its queued lesson was skipped just now
            outcome.follow_new += 1
        else:
            outcome.follow_new += 1  # the lesson they wait for keeps its day number
    session.flush()
    return outcome


def _next_lesson(day: int, mapping: dict[int, int | None]) -> int | None:
    """Return the new day of the first lesson from old DAY on that is still in the course."""
    for old_day in sorted(mapping):
        new_day = mapping[old_day]
        if old_day >= day and new_day is not None:
            return new_day
    return None
