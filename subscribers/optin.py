"""Double opt-in: a confirm link names one confirmation email; its POST completes the signup.

A GET of the link only shows a button (mail scanners fetch every link), and
`confirm_standing` tells that page what a POST would do without changing anything. The POST
(`confirm`) is where a signup takes effect: the status becomes confirmed, the name typed with
that signup becomes the first name and its browser's time zone the reader's zone, a return
after unsubscribing ends the opt-out, and the consent history records it. Only the newest
confirmation of a course that went out counts; an older link, or one from before a later
unsubscribe, changes nothing. A confirmed reader confirming another course keeps their
record and gets an enrollment in that course too (one person, several courses).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from delivery import enrollments
from delivery import standing as standing_in
from runtime import Runtime
from store.models import (
    ConsentEventKind,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Subscriber,
    SubscriberStatus,
)
from subscribers import counters
from subscribers.consent import hash_ip, record_consent
from subscribers.signup import PAGE
from subscribers.suppression import is_suppressed

log = logging.getLogger(__name__)

# What a confirm link does (ConfirmOutcome.result).
READY = "ready"  # a POST would confirm (only confirm_standing says this)
CONFIRMED = "confirmed"
ALREADY = "already"  # confirmed before: nothing to do
OUTDATED = "outdated"  # a newer confirmation email went out: use that one's link
STOPPED = "stopped"  # no longer wanted: unsubscribed, suppressed, forgotten or unknown


@dataclass(frozen=True)
class ConfirmOutcome:
    """What a confirm link did or would do, the name to greet with, and its course's slug."""

    result: str
    first_name: str | None = None
    course_slug: str | None = None


def confirm_standing(runtime: Runtime, session: Session, confirmation_id: int) -> ConfirmOutcome:
    """Tell what a POST of CONFIRMATION_ID's link would do; change nothing."""
    confirmation = session.get(Delivery, confirmation_id)
    subscriber = _subscriber_of(session, confirmation, lock=False)
    return _standing(runtime, session, confirmation, subscriber)


def confirm(
    runtime: Runtime,
    session: Session,
    confirmation_id: int,
    ip: str | None,
    timezone: str | None = None,
) -> ConfirmOutcome:
    """Complete the signup of confirmation CONFIRMATION_ID: confirm, record, enroll.

    TIMEZONE is the (checked) zone the confirm page's browser gave. The signup form's zone
    comes first: a mail scanner that runs the page's script sits in its own data centre's
    zone. The confirm page's fills in when the signup gave none (an embed without script).
    """
    confirmation = session.get(Delivery, confirmation_id)
    subscriber = _subscriber_of(session, confirmation, lock=True)
    standing = _standing(runtime, session, confirmation, subscriber)
    if standing.result != READY or confirmation is None or subscriber is None:
        return standing
    now = runtime.now()
    settings = runtime.settings
    course = runtime.courses.get(confirmation.course_slug)
    opted_out_at = subscriber.unsubscribed_at if _returning(subscriber) else None
    if subscriber.status != SubscriberStatus.CONFIRMED:
        # A confirmed reader joining another course keeps their first consent's fields; the
        # consent history below records this course's.
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = now
        subscriber.consent_at = now
        subscriber.consent_version = course.consent_version
        subscriber.consent_ip_hash = hash_ip(settings.secret_key, ip) if ip else None
        subscriber.unsubscribed_at = None  # the opt-out stays in the consent history
    if confirmation.requested_name:
        subscriber.first_name = confirmation.requested_name
    zone = confirmation.requested_timezone or timezone
    if zone:
        subscriber.timezone = zone
    enrollments.enroll(session, subscriber, course, now, settings)
    counters.increment(session, counters.CONFIRMATIONS)
    log.info(
        "subscriber %s confirmed (confirmation %s)",
        subscriber.id,
        confirmation.id,
        extra={"subscriber_id": subscriber.id, "delivery_id": confirmation.id},
    )
    events = [(ConsentEventKind.CONFIRMATION, f"confirmation {confirmation.id}")]
    if opted_out_at is not None:
        events.append(
            (ConsentEventKind.RESUBSCRIBE, f"after unsubscribe at {opted_out_at.isoformat()}")
        )
    for kind, detail in events:
        record_consent(
            session,
            subscriber_id=subscriber.id,
            kind=kind,
            source=PAGE,
            now=now,
            course=course,
            ip=ip,
            secret_key=settings.secret_key,
            detail=detail,
        )
    return ConfirmOutcome(CONFIRMED, subscriber.first_name, course.slug)


def _subscriber_of(
    session: Session, confirmation: Delivery | None, *, lock: bool
) -> Subscriber | None:
    if confirmation is None or confirmation.kind != DeliveryKind.CONFIRMATION:
        return None
    return session.get(Subscriber, confirmation.subscriber_id, with_for_update=lock)


def _returning(subscriber: Subscriber) -> bool:
    return subscriber.status == SubscriberStatus.UNSUBSCRIBED


def _standing(
    runtime: Runtime,
    session: Session,
    confirmation: Delivery | None,
    subscriber: Subscriber | None,
) -> ConfirmOutcome:
    if (
        confirmation is None
        or subscriber is None
        or subscriber.email is None
        # A skipped confirmation never went out, so no genuine link names it.
        or confirmation.state == DeliveryState.SKIPPED
    ):
        return ConfirmOutcome(STOPPED)
    slug = confirmation.course_slug
    standing = _course_standing(session, subscriber, slug)
    if standing is not None and standing.joined:
        return ConfirmOutcome(ALREADY, subscriber.first_name, slug)
    if _newer_one_went_out(session, confirmation):
        return ConfirmOutcome(OUTDATED, course_slug=slug)
    if is_suppressed(session, runtime.settings.secret_keys, subscriber.email):
        return ConfirmOutcome(STOPPED, course_slug=slug)
    if subscriber.status == SubscriberStatus.PENDING:
        return ConfirmOutcome(READY, course_slug=slug)
    # Back after an opt-out (of all mail, or of this course while confirmed): only a
    # confirmation asked for after it may end it.
    if _returning(subscriber):
        opted_out_at = subscriber.unsubscribed_at
        if opted_out_at is not None and confirmation.created_at > opted_out_at:
            return ConfirmOutcome(READY, course_slug=slug)
    elif standing is not None and (
        standing.left_at is None or confirmation.created_at > standing.left_at
    ):
        return ConfirmOutcome(READY, course_slug=slug)
    return ConfirmOutcome(STOPPED, course_slug=slug)


def _course_standing(
    session: Session, subscriber: Subscriber, course_slug: str
) -> standing_in.CourseStanding | None:
    """Return a confirmed SUBSCRIBER's standing in COURSE_SLUG; None when not confirmed."""
    if subscriber.status != SubscriberStatus.CONFIRMED:
        return None
    standing = standing_in.course_standing(session, subscriber.id, course_slug)
    if standing_in.joined_course(standing, subscriber.course_slug, course_slug):
        return replace(standing, joined=True)
    return standing


def _newer_one_went_out(session: Session, confirmation: Delivery) -> bool:
    """Tell whether a later confirmation for the same person and course went out (or is going)."""
    newer = select(Delivery.id).where(
        Delivery.subscriber_id == confirmation.subscriber_id,
        Delivery.kind == DeliveryKind.CONFIRMATION,
        Delivery.course_slug == confirmation.course_slug,
        Delivery.id > confirmation.id,
        Delivery.state.in_((DeliveryState.SENT, DeliveryState.SENDING)),
    )
    return bool(session.scalar(select(exists(newer))))
