"""An anonymous signup: store the request, never change anyone, and answer all alike.

Anyone can post any address, so a signup never changes an existing subscriber's name,
status, time zone or history: the name and the browser's time zone go on the confirmation
delivery (applied when it is confirmed), and a return after unsubscribing waits for that
confirmation (subscribers.optin). A confirmed reader signing up for another course gets a
confirmation for that course (its consent text is its own); one already in the course gets
none. Every signup does the same work whoever the address
belongs to (new, pending, confirmed, suppressed, capped): the same queries and the same
rows (a subscriber row insert-or-find, a counter, a confirmation delivery written queued or
skipped, a consent event), so neither the answer nor its timing tells whether an address is
known. The caller publishes the confirmation either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from course.loader import Course
from delivery.standing import CourseStanding, course_standing, joined_course
from delivery.transitions import queue_confirmation
from runtime import Runtime
from store.models import ConsentEventKind, Subscriber, SubscriberStatus
from subscribers import caps, counters
from subscribers.consent import record_consent
from subscribers.suppression import is_suppressed
from subscribers.validation import Signup

log = logging.getLogger(__name__)

# Where a signup or opt-out came from (ConsentEvent.source).
FORM = "form"  # our own signup page
EMBED = "embed"  # a form on an allowed other site, posted across origins
API = "api"  # a JSON post
PAGE = "page"  # a button on one of our pages (confirm, unsubscribe)
ONE_CLICK = "one-click"  # RFC 8058: the mail client's own unsubscribe button

# What became of a signup's confirmation (SignupOutcome.mail) when it was not skipped.
QUEUED = "queued"
WAITING = "waiting"


@dataclass(frozen=True)
class SignupOutcome:
    """What a signup led to: the subscriber, its confirmation delivery and what became of it.

    MAIL is QUEUED (goes out now), WAITING (above the hourly ceiling: goes out later) or the
    reason it was written skipped. Only tests and logs look at it: the visitor's answer is
    the same in every case.
    """

    subscriber_id: int
    confirmation_id: int
    mail: str

    @property
    def mailed(self) -> bool:
        """Tell whether the confirmation will go out (now or after the ceiling)."""
        return self.mail in (QUEUED, WAITING)


def subscribe(
    runtime: Runtime,
    session: Session,
    signup: Signup,
    *,
    source: str | None = None,
    channel: str = FORM,
    ip: str | None = None,
    course: Course | None = None,
) -> SignupOutcome:
    """Record SIGNUP (from CHANNEL, IP) for COURSE and write its confirmation, queued or skipped.

    COURSE is the one whose form and consent text were shown (default: the signup course).
    SOURCE is the Origin a new subscriber row keeps as signup_source.
    """
    now = runtime.now()
    settings = runtime.settings
    course = course or runtime.courses.get()
    suppressed = is_suppressed(session, settings.secret_keys, signup.email)
    subscriber, created = _find_or_insert(session, signup, course.slug, source, now)
    counters.increment(session, counters.SIGNUPS if created else counters.REPEAT_SIGNUPS)
    standing = course_standing(session, subscriber.id, course.slug)
    recent = caps.recent_confirmations(session, subscriber.id, now, course.slug)
    reason = _no_mail_reason(subscriber, suppressed, _in_course(subscriber, course, standing))
    reason = reason or caps.address_cap(recent, settings, now)
    send_at = caps.reserve_send_time(
        session, settings.confirmations_per_hour, now, take=reason is None
    )
    confirmation_id = queue_confirmation(
        session,
        subscriber.id,
        course.slug,
        now,
        requested_name=signup.first_name,
        requested_timezone=signup.timezone,
        not_before=send_at,
        skip_reason=reason,
    )
    # One UPDATE on every path (a no-op when nothing is sent): the same work for everyone.
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber.id)
        .values(confirmation_sent_at=Subscriber.confirmation_sent_at if reason else now),
        execution_options={"synchronize_session": False},
    )
    mail = reason or (WAITING if send_at > now else QUEUED)
    # Ids only: the address, name and IP of a signup never reach a log line.
    log.info(
        "signup of subscriber %s (%s); confirmation %s: %s",
        subscriber.id,
        "new" if created else "known",
        confirmation_id,
        mail,
        extra={"subscriber_id": subscriber.id, "delivery_id": confirmation_id},
    )
    record_consent(
        session,
        subscriber_id=subscriber.id,
        kind=ConsentEventKind.SIGNUP,
        source=channel,
        now=now,
        course=course,
        ip=ip,
        secret_key=settings.secret_key,
        detail=f"confirmation {confirmation_id}: {mail}",
    )
    return SignupOutcome(subscriber.id, confirmation_id, mail)


def _in_course(subscriber: Subscriber, course: Course, standing: CourseStanding) -> bool:
    """Tell whether a confirmed SUBSCRIBER is in COURSE (running or done) already."""
    if subscriber.status != SubscriberStatus.CONFIRMED:
        return False
    return joined_course(standing, subscriber.course_slug, course.slug)


def _no_mail_reason(subscriber: Subscriber, suppressed: bool, in_course: bool) -> str | None:
    """Return why this person gets no confirmation whatever the caps say, or None."""
    if suppressed:
        return "address on the suppression list"
    if in_course:
        return "already in this course"
    if subscriber.status == SubscriberStatus.CONFIRMED:
        # Another course: its own consent text, so its own double opt-in.
        return None
    if subscriber.status not in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
        # Bounced or complained: never mail again from a form anyone can fill in.
        return f"subscriber {subscriber.status}"
    return None


def _find_or_insert(
    session: Session, signup: Signup, course_slug: str, source: str | None, now: datetime
) -> tuple[Subscriber, bool]:
    """Return the subscriber of SIGNUP's address (locked), inserting a pending one if none.

    The INSERT runs for every address and does nothing on a known one, then the same SELECT
    finds the row: one path for all, and a concurrent signup for the same address simply
    finds the row the other one made. A new row has no first name until confirmed; it takes
    the browser's time zone (nobody's data to protect yet), a known row keeps its own.
    """
    email = signup.email
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(Subscriber)
        .values(
            email=email,
            first_name=None,
            timezone=signup.timezone,
            status=SubscriberStatus.PENDING,
            course_slug=course_slug,
            signup_source=source[:200] if source else None,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Subscriber.email])
        .returning(Subscriber.id)
    )
    created = session.scalar(statement) is not None
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.email == email).with_for_update()
    ).one()
    return subscriber, created
