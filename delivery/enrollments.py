"""Enrollment state changes: enroll, advance, pause, resume, reschedule, restart, cancel.

Each change a reader or the clinic asks for is guarded on the state it starts from and says
whether it happened, so a double POST or a race with the dispatcher changes nothing twice.
Advancing is shared by the send path (after a 202) and the evidence resolver (after a
processed event), guarded so the two can never advance one enrollment twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from config import Settings
from course.loader import Course
from course.store import CourseStore
from delivery.completion import record_completed, skip_waiting_closings
from delivery.preference_log import DISPATCHER, record_preference
from delivery.schedule import cadence_for, first_due_at, rescheduled_due_at, resume_due_at
from delivery.transitions import Executor, enrollments
from store.models import (
    Delivery,
    DeliveryKind,
    Enrollment,
    EnrollmentStatus,
    PreferenceEventKind,
    Subscriber,
    UtcDateTime,
)

# The states in which an enrollment still has lessons to send.
LIVE = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
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

    A closing email still waiting from an earlier run of COURSE is skipped: it would land
    mid-course.
    """
    skip_waiting_closings(session, subscriber.id, course.slug)
    cadence = cadence_for(settings, course, subscriber.timezone, subscriber.send_time)
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


def latest_enrollment(
    session: Session, subscriber_id: int, status: str, course_slug: str | None = None
) -> Enrollment | None:
    """Return SUBSCRIBER_ID's newest enrollment in STATUS (of COURSE_SLUG), locked for a change."""
    query = select(Enrollment).where(
        Enrollment.subscriber_id == subscriber_id, Enrollment.status == status
    )
    if course_slug is not None:
        query = query.where(Enrollment.course_slug == course_slug)
    return session.scalars(query.order_by(Enrollment.id.desc()).with_for_update()).first()


def pause(enrollment: Enrollment, now: datetime, until: datetime | None = None) -> bool:
    """Pause ENROLLMENT (active or paused): nothing is due until UNTIL, or until resumed.

    Pausing a paused enrollment only changes when the pause ends. False: not running.
    """
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        return False
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.paused_at = now
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.next_due_at = None
    enrollment.paused_until = until
    return True


def resume(
    enrollment: Enrollment,
    course: Course,
    subscriber: Subscriber,
    now: datetime,
    settings: Settings,
) -> bool:
    """Resume ENROLLMENT (paused) at the day it stopped, due at the reader's next send time."""
    if enrollment.status != EnrollmentStatus.PAUSED:
        return False
    cadence = cadence_for(settings, course, subscriber.timezone, subscriber.send_time)
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_at = None
    enrollment.paused_until = None
    enrollment.next_due_at = resume_due_at(now, cadence)
    return True


def ended_pauses(session: Session, now: datetime, limit: int = 500) -> list[Enrollment]:
    """Return paused enrollments whose set pause has ended by NOW, locked, oldest end first."""
    return list(
        session.scalars(
            select(Enrollment)
            .where(
                Enrollment.status == EnrollmentStatus.PAUSED,
                Enrollment.paused_until.is_not(None),
                Enrollment.paused_until <= now,
            )
            .order_by(Enrollment.paused_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def resume_ended_pauses(
    session: Session, now: datetime, settings: Settings, courses: CourseStore
) -> int:
    """Resume every enrollment whose set pause has ended (a dispatcher step); return how many."""
    resumed = 0
    for enrollment in ended_pauses(session, now):
        course = courses.get_version(enrollment.course_slug, enrollment.course_version)
        if resume(enrollment, course, enrollment.subscriber, now, settings):
            subscriber_id, slug = enrollment.subscriber_id, enrollment.course_slug
            kind = PreferenceEventKind.RESUME
            record_preference(session, subscriber_id, slug, kind, DISPATCHER, now, value="auto")
            resumed += 1
    return resumed


def reschedule(
    session: Session,
    enrollment: Enrollment,
    course: Course,
    subscriber: Subscriber,
    now: datetime,
    settings: Settings,
) -> bool:
    """Move ENROLLMENT's coming lesson to the reader's (new) hour and zone, same local day.

    Only a lesson not yet due moves: one already due is being sent now.
    """
    due_at = enrollment.next_due_at
    if enrollment.status != EnrollmentStatus.ACTIVE or due_at is None or due_at <= now:
        return False
    cadence = cadence_for(settings, course, subscriber.timezone, subscriber.send_time)
    enrollment.next_due_at = rescheduled_due_at(
        due_at, now, last_lesson_sent_at(session, enrollment.id), cadence
    )
    return True


def last_lesson_sent_at(session: Session, enrollment_id: int) -> datetime | None:
    """Return when ENROLLMENT_ID's latest lesson was sent, or None before day 1."""
    return session.scalar(
        select(func.max(Delivery.sent_at)).where(
            Delivery.enrollment_id == enrollment_id, Delivery.kind == DeliveryKind.LESSON
        )
    )


def restart(
    session: Session, subscriber: Subscriber, course: Course, now: datetime, settings: Settings
) -> Enrollment:
    """Start COURSE again from day 1 for SUBSCRIBER (confirmed): the running one is cancelled.

    A new enrollment, so the old one's lessons and numbers stay as they were.
    """
    cancel_all_of(session, subscriber.id, now, course_slug=course.slug)
    return enroll(session, subscriber, course, now, settings)


def cancel_all_of(
    executor: Executor, subscriber_id: int, now: datetime, *, course_slug: str | None = None
) -> int:
    """Cancel SUBSCRIBER_ID's active and paused enrollments (of COURSE_SLUG, or all)."""
    statement = (
        update(enrollments)
        .where(
            enrollments.c.subscriber_id == subscriber_id,
            enrollments.c.status.in_(LIVE),
        )
        .values(status=EnrollmentStatus.CANCELLED, cancelled_at=now, next_due_at=None)
    )
    if course_slug is not None:
        statement = statement.where(enrollments.c.course_slug == course_slug)
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]
