"""What happens to a subscriber: sign up, confirm, unsubscribe, pause and resume.

Each function takes the runtime and an open session and commits nothing itself; the caller's
`runtime.session()` makes one transaction of it. A signup's confirmation email is a
delivery written in that same transaction, so no signup ever waits on Redis. Signup lives in
subscribers.signup and the double opt-in in subscribers.optin; they are re-exported here.
"""

from __future__ import annotations

import logging

from email_validator import EmailNotValidError
from sqlalchemy import select
from sqlalchemy.orm import Session

from course.loader import Course
from delivery import enrollments
from delivery import standing as standing_in
from delivery.bulk import skip_queued_of
from delivery.preference_log import CLI, record_preference
from runtime import Runtime
from store.models import (
    ConsentEventKind,
    Enrollment,
    EnrollmentStatus,
    PreferenceEventKind,
    Subscriber,
    SubscriberStatus,
)
from subscribers import counters
from subscribers.consent import record_consent
from subscribers.lifecycle import stop_all_mail
from subscribers.optin import ConfirmOutcome, confirm, confirm_standing
from subscribers.signup import PAGE, SignupOutcome, subscribe
from subscribers.validation import normalise_email

log = logging.getLogger(__name__)

__all__ = [
    "ConfirmOutcome",
    "SignupOutcome",
    "SubscriberError",
    "confirm",
    "confirm_standing",
    "find_by_email",
    "leave_course",
    "pause",
    "resume",
    "subscribe",
    "unsubscribe",
]


class SubscriberError(Exception):
    """An operator asked for something that can't be done; the message says why."""


def unsubscribe(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    source: str = PAGE,
    ip: str | None = None,
    course_slug: str | None = None,
) -> bool:
    """Stop all mail to SUBSCRIBER_ID; return False when no such person is on file.

    SOURCE says how (our page's button, or the mail client's one-click POST); an opt-out
    that changes something is appended to the consent history, under COURSE_SLUG (the
    course whose mail or page it came from; default: the subscriber's first course).
    """
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None:
        return False
    now = runtime.now()
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        counters.increment(session, counters.UNSUBSCRIBES)
        log.info(
            "subscriber %s unsubscribed (%s)",
            subscriber.id,
            source,
            extra={"subscriber_id": subscriber.id},
        )
        _record_opt_out(runtime, session, subscriber, course_slug, source, ip, "all mail")
    stop_all_mail(
        session, subscriber, status=SubscriberStatus.UNSUBSCRIBED, reason="unsubscribe", now=now
    )
    return True


def leave_course(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    course_slug: str,
    *,
    source: str = PAGE,
    ip: str | None = None,
) -> bool:
    """Stop COURSE_SLUG's mail to SUBSCRIBER_ID; other courses go on. False: nobody on file.

    With no other course running this is the same as unsubscribing from all mail, so a
    reader of one course sees no difference.
    """
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None:
        return False
    standing = standing_in.course_standing(session, subscriber.id, course_slug)
    if subscriber.status != SubscriberStatus.CONFIRMED or not standing.live_elsewhere:
        return unsubscribe(
            runtime, session, subscriber_id, source=source, ip=ip, course_slug=course_slug
        )
    now = runtime.now()
    stopped = enrollments.cancel_all_of(session, subscriber.id, now, course_slug=course_slug)
    stopped += skip_queued_of(
        session, subscriber.id, reason="unsubscribe from course", course_slug=course_slug
    )
    if stopped:  # a second press changes nothing and records nothing
        counters.increment(session, counters.UNSUBSCRIBES)
        log.info(
            "subscriber %s left course %s (%s)",
            subscriber.id,
            course_slug,
            source,
            extra={"subscriber_id": subscriber.id},
        )
        _record_opt_out(runtime, session, subscriber, course_slug, source, ip, "this course")
    return True


def _record_opt_out(
    runtime: Runtime,
    session: Session,
    subscriber: Subscriber,
    course_slug: str | None,
    source: str,
    ip: str | None,
    scope: str,
) -> None:
    record_consent(
        session,
        subscriber_id=subscriber.id,
        kind=ConsentEventKind.UNSUBSCRIBE,
        source=source,
        now=runtime.now(),
        course=_course_or_none(runtime, course_slug or subscriber.course_slug),
        course_slug=course_slug or subscriber.course_slug,
        ip=ip,
        secret_key=runtime.settings.secret_key,
        detail=scope,
    )


def _course_or_none(runtime: Runtime, slug: str) -> Course | None:
    try:
        return runtime.courses.get(slug)
    except Exception:
        return None  # a course folder removed since: the opt-out is recorded all the same


def _find(session: Session, email: str) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(Subscriber.email == email).with_for_update()
    ).first()


def find_by_email(session: Session, email: str) -> Subscriber:
    """Return the subscriber with EMAIL (normalised first), or raise SubscriberError."""
    try:
        address = normalise_email(email.strip())
    except EmailNotValidError as exc:
        raise SubscriberError(f"{email!r} is not a valid email address ({exc})") from None
    subscriber = _find(session, address)
    if subscriber is None:
        raise SubscriberError(f"no subscriber with email {address}")
    return subscriber


def pause(
    runtime: Runtime, session: Session, email: str, course_slug: str | None = None
) -> Enrollment:
    """Pause EMAIL's active enrollment (of COURSE_SLUG, else the newest) until resumed."""
    subscriber = find_by_email(session, email)
    active = EnrollmentStatus.ACTIVE
    enrollment = enrollments.latest_enrollment(session, subscriber.id, active, course_slug)
    if enrollment is None:
        raise SubscriberError(f"{subscriber.email} has no active course to pause{_in(course_slug)}")
    enrollments.pause(enrollment, runtime.now())
    kind = PreferenceEventKind.PAUSE
    record_preference(session, subscriber.id, enrollment.course_slug, kind, CLI, runtime.now())
    return enrollment


def resume(
    runtime: Runtime, session: Session, email: str, course_slug: str | None = None
) -> Enrollment:
    """Resume EMAIL's paused enrollment (of COURSE_SLUG, else the newest) where it stopped."""
    subscriber = find_by_email(session, email)
    if subscriber.status != SubscriberStatus.CONFIRMED:
        raise SubscriberError(f"{subscriber.email} is {subscriber.status}; nothing to resume")
    paused = EnrollmentStatus.PAUSED
    enrollment = enrollments.latest_enrollment(session, subscriber.id, paused, course_slug)
    if enrollment is None:
        raise SubscriberError(
            f"{subscriber.email} has no paused course to resume{_in(course_slug)}"
        )
    # The version it runs on: one a publish left on an older version keeps that one's cadence.
    course = runtime.courses.get_version(enrollment.course_slug, enrollment.course_version)
    enrollments.resume(enrollment, course, subscriber, runtime.now(), runtime.settings)
    kind = PreferenceEventKind.RESUME
    record_preference(session, subscriber.id, enrollment.course_slug, kind, CLI, runtime.now())
    return enrollment


def _in(course_slug: str | None) -> str:
    """Return " in course SLUG" for a message about one course, else nothing."""
    return f" in course {course_slug}" if course_slug else ""
