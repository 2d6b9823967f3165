"""Enrollment state changes: enroll, advance past a sent lesson, pause, resume, cancel.

Advancing is shared by the send path (after a 202) and the evidence resolver (after a
processed event), guarded so the two can never advance one enrollment twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from config import Settings
from course.loader import Course
from delivery.completion import record_completed, skip_waiting_closings
from delivery.schedule import cadence_for, first_due_at, resume_due_at
from delivery.transitions import Executor, enrollments
from store.models import Enrollment, EnrollmentStatus, Subscriber, UtcDateTime

# Several enrollments at once: a batch of sends is one lesson, so they share the day, and
# mostly the next due time too (it differs only by timezone). One statement moves them all.
_ENROLLMENT_AT_DAY = (
    enrollments.c.id.in_(bindparam("p_enrollment_ids", expanding=True)),
    enrollments.c.next_day == bindparam("p_day", type_=Integer()),
)
_COMPLETE = (
    update(enrollments)
    .where(
        *_ENROLLMENT_AT_DAY,
        or_(
            enrollments.c.status == EnrollmentStatus.ACTIVE,
            enrollments.c.status == EnrollmentStatus.PAUSED,
        ),
    )
    .values(
        next_day=enrollments.c.next_day + 1,
        next_due_at=None,
        status=EnrollmentStatus.COMPLETED,
        completed_at=bindparam("p_now", type_=UtcDateTime()),
    )
    # Only the rows this statement completed: each gets its event (and closing) once.
    .returning(enrollments.c.id, enrollments.c.subscriber_id, enrollments.c.course_slug)
)
_ADVANCE = (
    update(enrollments)
    .where(*_ENROLLMENT_AT_DAY)
    .values(
        next_day=enrollments.c.next_day + 1,
        # A paused enrollment moves on but gets no due time: resuming sets it.
        next_due_at=case(
            (
                enrollments.c.status == EnrollmentStatus.ACTIVE,
                bindparam("p_next_due_at", type_=UtcDateTime()),
            ),
            else_=None,
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Advance:
    """One enrollment to move past DAY: next due time, or completed after the last day.

    Guarded on next_day = DAY so evidence and a late worker can't advance it twice (and so
    next_day + 1 is DAY + 1). A paused enrollment moves on but gets no due time.
    """

    enrollment_id: int
    day: int
    last_day: bool
    next_due_at: datetime | None
    # After the last day: when the course's closing email is due (None: it has none).
    closing_due_at: datetime | None = None


def advance_enrollments(executor: Executor, advances: Sequence[Advance], *, now: datetime) -> None:
    """Advance several enrollments: one statement per (day, last day, next due time).

    Those completed get their `completed` event and closing email (delivery.completion).
    """
    groups: defaultdict[tuple[int, bool, datetime | None], list[int]] = defaultdict(list)
    for advance in advances:
        due = advance.closing_due_at if advance.last_day else advance.next_due_at
        groups[(advance.day, advance.last_day, due)].append(advance.enrollment_id)
    for (day, last_day, due), enrollment_ids in groups.items():
        params: dict[str, Any] = {"p_enrollment_ids": enrollment_ids, "p_day": day}
        if last_day:
            completed = executor.execute(_COMPLETE, {**params, "p_now": now}).all()
            record_completed(
                executor,
                [(row[0], row[1], row[2]) for row in completed],
                day=day,
                now=now,
                closing_due_at=due,
            )
        else:
            executor.execute(_ADVANCE, {**params, "p_next_due_at": due})


def enroll(
    session: Session, subscriber: Subscriber, course: Course, now: datetime, settings: Settings
) -> Enrollment:
    """Start COURSE for SUBSCRIBER: day 1 becomes due at once or at the next send time.

    A closing email still waiting from an earlier run is skipped: it would land mid-course.
    """
    skip_waiting_closings(session, subscriber.id)
    cadence = cadence_for(settings, course, subscriber.timezone)
    enrollment = Enrollment(
        subscriber_id=subscriber.id,
        course_slug=course.slug,
        status=EnrollmentStatus.ACTIVE,
        next_day=1,
        next_due_at=first_due_at(now, cadence),
        started_at=now,
    )
    session.add(enrollment)
    return enrollment


def latest_enrollment(session: Session, subscriber_id: int, status: str) -> Enrollment | None:
    """Return SUBSCRIBER_ID's newest enrollment in STATUS, locked for the change to come."""
    return session.scalars(
        select(Enrollment)
        .where(Enrollment.subscriber_id == subscriber_id, Enrollment.status == status)
        .order_by(Enrollment.id.desc())
        .with_for_update()
    ).first()


def pause(enrollment: Enrollment, now: datetime) -> None:
    """Pause ENROLLMENT (active): nothing is due until it is resumed."""
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.next_due_at = None
    enrollment.paused_at = now


def resume(
    enrollment: Enrollment, course: Course, timezone: str | None, now: datetime, settings: Settings
) -> None:
    """Resume ENROLLMENT (paused) at the day it stopped, due at the next send time."""
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_at = None
    enrollment.next_due_at = resume_due_at(now, cadence_for(settings, course, timezone))


def cancel_all_of(executor: Executor, subscriber_id: int, now: datetime) -> int:
    """Cancel SUBSCRIBER_ID's active and paused enrollments; return how many."""
    statement = (
        update(enrollments)
        .where(
            enrollments.c.subscriber_id == subscriber_id,
            enrollments.c.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
        )
        .values(status=EnrollmentStatus.CANCELLED, cancelled_at=now, next_due_at=None)
    )
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]
