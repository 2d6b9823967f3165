"""What happens to a subscriber: sign up, confirm, unsubscribe, pause and resume.

Each function takes the runtime and an open session and commits nothing itself; the caller's
`runtime.session()` makes one transaction of it. A signup's confirmation email is a queued
delivery written in that same transaction, so no signup ever waits on Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from delivery import enrollments
from delivery.transitions import queue_confirmation
from runtime import Runtime
from store.models import Enrollment, EnrollmentStatus, Subscriber, SubscriberStatus
from subscribers import counters
from subscribers.lifecycle import stop_all_mail
from subscribers.privacy import hash_ip
from subscribers.validation import Signup, normalise_email

RESEND_AFTER = timedelta(minutes=10)
# Suppressions that a fresh, confirmed opt-in may lift; bounces and complaints stay put.
RESUBSCRIBABLE_REASONS = frozenset({"unsubscribe", "group_unsubscribe"})


class SubscriberError(Exception):
    """An operator asked for something that can't be done; the message says why."""


@dataclass(frozen=True)
class SignupOutcome:
    """What a signup led to: the subscriber, and the queued confirmation (None: no mail)."""

    subscriber_id: int | None
    confirmation_id: int | None


def subscribe(
    runtime: Runtime, session: Session, signup: Signup, *, source: str | None = None
) -> SignupOutcome:
    """Record SIGNUP: a new pending row, or the existing one; queue a confirmation mail."""
    now = runtime.now()
    subscriber = _find(session, signup.email)
    if subscriber is None:
        subscriber, created = _insert_pending(
            session, signup, runtime.courses.default_slug, source, now
        )
        if created:
            counters.increment(session, counters.SIGNUPS)
            return SignupOutcome(subscriber.id, _confirm_by_mail(session, subscriber, now))
    return _subscribe_existing(session, subscriber, signup, now)


def _confirm_by_mail(session: Session, subscriber: Subscriber, now: datetime) -> int:
    subscriber.confirmation_sent_at = now
    return queue_confirmation(session, subscriber.id, subscriber.course_slug, now)


def _find(session: Session, email: str) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(Subscriber.email == email).with_for_update()
    ).first()


def _insert_pending(
    session: Session, signup: Signup, course_slug: str, source: str | None, now: datetime
) -> tuple[Subscriber, bool]:
    """Insert a pending subscriber; if a concurrent request won the race, return its row."""
    subscriber = Subscriber(
        email=signup.email,
        first_name=signup.first_name,
        status=SubscriberStatus.PENDING,
        course_slug=course_slug,
        signup_source=source[:200] if source else None,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(subscriber)
            session.flush()
    except IntegrityError:
        existing = _find(session, signup.email)
        if existing is None:  # pragma: no cover - unique violation without a row: re-raise
            raise
        return existing, False
    return subscriber, True


def _subscribe_existing(
    session: Session, subscriber: Subscriber, signup: Signup, now: datetime
) -> SignupOutcome:
    status = subscriber.status
    if status == SubscriberStatus.CONFIRMED:
        # Already in the course: answer the same as for a new address, mail nothing.
        return SignupOutcome(subscriber.id, None)
    if status == SubscriberStatus.SUPPRESSED and (
        subscriber.suppression_reason not in RESUBSCRIBABLE_REASONS
    ):
        # Bounced or complained: never mail again from a form anyone can fill in.
        return SignupOutcome(subscriber.id, None)
    if status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUPPRESSED):
        # Back to pending: only a new confirmation restarts the course.
        subscriber.status = SubscriberStatus.PENDING
        subscriber.unsubscribed_at = None
        subscriber.suppressed_at = None
        subscriber.suppression_reason = None
        subscriber.confirmed_at = None
        counters.increment(session, counters.SIGNUPS)
    if signup.first_name:
        subscriber.first_name = signup.first_name
    sent = subscriber.confirmation_sent_at
    if sent is not None and now - sent < RESEND_AFTER:
        return SignupOutcome(subscriber.id, None)
    return SignupOutcome(subscriber.id, _confirm_by_mail(session, subscriber, now))


@dataclass(frozen=True)
class ConfirmOutcome:
    """What a confirm link did: 'confirmed', 'already' or 'stopped' (no longer wanted)."""

    result: str
    first_name: str | None = None


def confirm(
    runtime: Runtime, session: Session, subscriber_id: int, ip: str | None
) -> ConfirmOutcome:
    """Confirm SUBSCRIBER_ID, record consent and enroll them so day 1 becomes due."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None or subscriber.email is None:
        return ConfirmOutcome("stopped")
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return ConfirmOutcome("already", subscriber.first_name)
    if subscriber.status != SubscriberStatus.PENDING:
        # An old link must not undo a later unsubscribe, bounce or complaint.
        return ConfirmOutcome("stopped")
    now = runtime.now()
    course = runtime.courses.get(subscriber.course_slug)
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = now
    subscriber.consent_at = now
    subscriber.consent_version = course.consent_version
    subscriber.consent_ip_hash = hash_ip(runtime.settings.secret_key, ip) if ip else None
    enrollments.enroll(session, subscriber, course, now, runtime.settings)
    counters.increment(session, counters.CONFIRMATIONS)
    return ConfirmOutcome("confirmed", subscriber.first_name)


def unsubscribe(runtime: Runtime, session: Session, subscriber_id: int) -> bool:
    """Stop all mail to SUBSCRIBER_ID; return False when no such person is on file."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is None:
        return False
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        counters.increment(session, counters.UNSUBSCRIBES)
    stop_all_mail(
        session,
        subscriber,
        status=SubscriberStatus.UNSUBSCRIBED,
        reason="unsubscribe",
        now=runtime.now(),
    )
    return True


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


def pause(runtime: Runtime, session: Session, email: str) -> Enrollment:
    """Pause the active enrollment of EMAIL: no lesson is due until resumed."""
    subscriber = find_by_email(session, email)
    enrollment = enrollments.latest_enrollment(session, subscriber.id, EnrollmentStatus.ACTIVE)
    if enrollment is None:
        raise SubscriberError(f"{subscriber.email} has no active course to pause")
    enrollments.pause(enrollment, runtime.now())
    return enrollment


def resume(runtime: Runtime, session: Session, email: str) -> Enrollment:
    """Resume the paused enrollment of EMAIL at the day it stopped."""
    subscriber = find_by_email(session, email)
    if subscriber.status != SubscriberStatus.CONFIRMED:
        raise SubscriberError(f"{subscriber.email} is {subscriber.status}; nothing to resume")
    enrollment = enrollments.latest_enrollment(session, subscriber.id, EnrollmentStatus.PAUSED)
    if enrollment is None:
        raise SubscriberError(f"{subscriber.email} has no paused course to resume")
    course = runtime.courses.get(enrollment.course_slug)
    enrollments.resume(enrollment, course, subscriber.timezone, runtime.now(), runtime.settings)
    return enrollment
