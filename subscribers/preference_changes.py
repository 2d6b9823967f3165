"""The changes the reader's preferences page makes: pause, resume, hour and zone, restart, leave.

Each acts on the course the page is about (subscribers.preferences.page_enrollment: the
link's course, or for a link from before links named one, the newest enrollment). Each change
is guarded on the state it starts from (delivery.enrollments) and appended to the history: a
preference event (delivery.preference_log), and for unsubscribing a consent event too. Each
takes the erasure lock and the reader's row first (subscribers.preferences.held_subscriber).
Nothing here commits: the caller's `runtime.session()` makes one transaction of it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery import enrollments
from delivery.preference_log import PAGE, record_preference
from runtime import Runtime
from store.models import (
    Enrollment,
    EnrollmentStatus,
    PreferenceEventKind,
    Subscriber,
    SubscriberStatus,
)
from subscribers.preferences import (
    MORNING,
    REASONS,
    PreferenceError,
    held_subscriber,
    left_course,
    page_course,
    page_enrollment,
)
from subscribers.service import leave_course, unsubscribe
from subscribers.validation import clean_name, clean_timezone

log = logging.getLogger(__name__)

PAUSE_WEEK = timedelta(days=7)
COMMENT_MAX_CHARS = 1000


def _receiving(session: Session, subscriber_id: int) -> Subscriber | None:
    """Return the subscriber, locked, when they still get lessons (confirmed); see Erased."""
    subscriber = held_subscriber(session, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        return None
    return subscriber


def _receiving_in(
    session: Session, subscriber_id: int, course_slug: str | None
) -> tuple[Subscriber, Enrollment] | None:
    """Return the receiving subscriber and the page's enrollment of COURSE_SLUG, both locked."""
    subscriber = _receiving(session, subscriber_id)
    if subscriber is None:
        return None
    enrollment = page_enrollment(session, subscriber_id, course_slug, lock=True)
    return None if enrollment is None else (subscriber, enrollment)


def _record(
    session: Session,
    subscriber: Subscriber,
    kind: str,
    now: datetime,
    course_slug: str | None = None,
    **extra: str | None,
) -> None:
    """Append the reader's change of KIND (to COURSE_SLUG's enrollment) to their history."""
    slug = course_slug or subscriber.course_slug
    record_preference(session, subscriber.id, slug, kind, PAGE, now, **extra)


def pause(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    week: bool,
    course_slug: str | None = None,
) -> bool:
    """Pause the course for a week (WEEK) or until resumed; False if it does not run."""
    found = _receiving_in(session, subscriber_id, course_slug)
    if found is None:
        return False
    subscriber, enrollment = found
    now = runtime.now()
    until = now + PAUSE_WEEK if week else None
    if not enrollments.pause(enrollment, now, until):
        return False
    _record(
        session,
        subscriber,
        PreferenceEventKind.PAUSE,
        now,
        enrollment.course_slug,
        value=until.isoformat() if until else "",
    )
    return True


def resume(
    runtime: Runtime, session: Session, subscriber_id: int, *, course_slug: str | None = None
) -> bool:
    """Resume the paused course at the day it stopped; False if it is not paused."""
    found = _receiving_in(session, subscriber_id, course_slug)
    if found is None:
        return False
    subscriber, enrollment = found
    now = runtime.now()
    course = runtime.courses.get_version(enrollment.course_slug, enrollment.course_version)
    if not enrollments.resume(enrollment, course, subscriber, now, runtime.settings):
        return False
    kind = PreferenceEventKind.RESUME
    _record(session, subscriber, kind, now, enrollment.course_slug, value="page")
    return True


def set_schedule(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    send_time: str | None,
    zone: str | None,
    course_slug: str | None = None,
) -> bool:
    """Keep the reader's hour and zone and move their coming lessons to it; False if stopped.

    The hour and zone are the reader's own, one for all their courses: every running course's
    coming lesson moves, the page's and any other. ZONE must be a checked IANA name
    (clean_timezone); raises PreferenceError otherwise.
    """
    checked = clean_timezone(zone)
    if checked is None:
        raise PreferenceError("zone")
    subscriber = _receiving(session, subscriber_id)
    if subscriber is None:
        return False
    now = runtime.now()
    slug = page_course(
        subscriber, page_enrollment(session, subscriber_id, course_slug, lock=False), course_slug
    )
    if subscriber.send_time != send_time:
        subscriber.send_time = send_time
        kind = PreferenceEventKind.SEND_TIME
        _record(session, subscriber, kind, now, slug, value=send_time or MORNING)
    if subscriber.timezone != checked:
        subscriber.timezone = checked
        _record(session, subscriber, PreferenceEventKind.TIMEZONE, now, slug, value=checked)
    running = select(Enrollment).where(
        Enrollment.subscriber_id == subscriber_id, Enrollment.status == EnrollmentStatus.ACTIVE
    )
    for enrollment in session.scalars(running.order_by(Enrollment.id).with_for_update()):
        course = runtime.courses.get_version(enrollment.course_slug, enrollment.course_version)
        enrollments.reschedule(session, enrollment, course, subscriber, now, runtime.settings)
    return True


def restart(
    runtime: Runtime, session: Session, subscriber_id: int, *, course_slug: str | None = None
) -> bool:
    """Start the course again from day 1 (after finishing, or midway); False if stopped."""
    subscriber = _receiving(session, subscriber_id)
    if subscriber is None:
        return False
    latest = page_enrollment(session, subscriber.id, course_slug, lock=True)
    if left_course(latest):
        return False  # a course the reader stopped is joined again by signing up
    now = runtime.now()
    course = runtime.courses.get(page_course(subscriber, latest, course_slug))
    _record(session, subscriber, PreferenceEventKind.RESTART, now, course.slug)
    enrollments.restart(session, subscriber, course, now, runtime.settings)
    log.info(
        "subscriber %s restarted course %s",
        subscriber.id,
        course.slug,
        extra={"subscriber_id": subscriber.id},
    )
    return True


def unsubscribe_with_reason(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    reason: str | None,
    comment: str | None,
    ip: str | None,
    source: str,
    course_slug: str | None = None,
    everything: bool = True,
) -> bool:
    """Stop COURSE_SLUG's mail (or all mail: EVERYTHING), keeping the optional REASON and COMMENT.

    Either is a consent event; stopping one course while another runs is leave_course's,
    otherwise all mail stops. False: no such person. Raises Erased for an erased reader.
    """
    if reason and reason not in REASONS:
        raise PreferenceError("reason")
    # Line breaks become spaces (clean_name drops control characters, joining the words).
    words = comment[: COMMENT_MAX_CHARS * 4].split() if comment else []
    text = clean_name(" ".join(words), COMMENT_MAX_CHARS) if words else None
    # First: an erase under way finishes before we read who this is (store.erasure_lock).
    subscriber = held_subscriber(session, subscriber_id)
    if subscriber is None:
        return False
    one_course = course_slug if course_slug is not None and not everything else None
    enrollment = page_enrollment(session, subscriber_id, one_course, lock=False)
    getting_mail = subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)
    # A second press (or a course already left) changes nothing, and records no reason again.
    if (reason or text) and getting_mail and not (one_course and left_course(enrollment)):
        _record(
            session,
            subscriber,
            PreferenceEventKind.UNSUBSCRIBE_REASON,
            runtime.now(),
            course_slug,
            value=reason or "",
            comment=text,
        )
    if one_course is not None:
        return leave_course(runtime, session, subscriber_id, one_course, source=source, ip=ip)
    return unsubscribe(
        runtime, session, subscriber_id, source=source, ip=ip, course_slug=course_slug
    )
