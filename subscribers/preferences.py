"""The reader's preferences page: what it shows, and the changes its buttons make.

The page is reached through a signed, never-expiring link in every lesson
(emails.tokens, purpose "preferences"); only that link's holder gets here. Each change is
guarded on the state it starts from (delivery.enrollments) and appended to the history: a
preference event (delivery.preference_log), and for unsubscribing a consent event too
(subscribers.leaving). Nothing here commits: the caller's `runtime.session()` makes one
transaction of it.

An erased ("forgotten") reader's link changes nothing: each change raises Erased, so the
page can say so. A change and an erase never overlap (store.erasure_lock): a change that
starts while an erase runs waits for it, then finds the reader forgotten, and an erase
waits for a change under way, then erases what it stored.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery import enrollments
from delivery.preference_log import PAGE, record_preference
from delivery.schedule import cadence_for
from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import (
    Enrollment,
    PreferenceEventKind,
    Subscriber,
    SubscriberStatus,
)
from subscribers.validation import clean_timezone

log = logging.getLogger(__name__)

PAUSE_WEEK = timedelta(days=7)
# The hours a reader picks from; "morning" is the course's own send time.
MORNING, NOON, EVENING, EXACT = "morning", "noon", "evening", "exact"
HOURS = {NOON: "12:00", EVENING: "19:00"}
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MESSAGES = {
    "time": "Kies een tijd tussen 00:00 en 23:59, bijvoorbeeld 08:15.",
    "zone": "Kies een tijdzone uit de lijst.",
    "hour": "Kies een moment van de dag.",
    "reason": "Kies een reden uit de lijst, of geen.",
}


class PreferenceError(ValueError):
    """A reader's form input can't be used; the message (Dutch) says why."""

    def __init__(self, field: str) -> None:
        """Name the FIELD at fault; the message comes from MESSAGES."""
        super().__init__(MESSAGES[field])
        self.field = field


class Erased(Exception):
    """The reader of this link was erased: nothing may be changed or stored for them."""


@dataclass(frozen=True)
class Standing:
    """What the page shows a reader: their course's state and their own schedule."""

    subscriber: Subscriber
    enrollment: Enrollment | None
    course_slug: str  # the course the page is about: that of the newest enrollment
    zone: str  # the zone lessons follow (their own, or the course's)
    send_time: str  # the hour lessons follow ("HH:MM")
    hour: str  # MORNING, NOON, EVENING or EXACT
    morning: str  # the course's own send time ("HH:MM"), what MORNING means
    days: int

    @property
    def receiving(self) -> bool:
        """Tell whether this reader may still get mail (confirmed, not stopped)."""
        return self.subscriber.status == SubscriberStatus.CONFIRMED

    @property
    def state(self) -> str | None:
        """Return the enrollment's status, or None before any."""
        return self.enrollment.status if self.enrollment else None

    def local(self, moment: datetime | None) -> datetime | None:
        """Return MOMENT in the reader's zone."""
        return moment.astimezone(ZoneInfo(self.zone)) if moment else None


def standing(runtime: Runtime, session: Session, subscriber_id: int) -> Standing | None:
    """Return what SUBSCRIBER_ID's page shows, or None for no such person; change nothing.

    Raises Erased for an erased reader.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    if subscriber.status == SubscriberStatus.FORGOTTEN:
        raise Erased
    enrollment = _latest(session, subscriber.id, lock=False)
    course = runtime.courses.get(_course_of(subscriber, enrollment))
    cadence = cadence_for(runtime.settings, course, subscriber.timezone, subscriber.send_time)
    send_time = cadence.send_time.strftime("%H:%M")
    morning = cadence_for(runtime.settings, course).send_time.strftime("%H:%M")
    return Standing(
        subscriber=subscriber,
        enrollment=enrollment,
        course_slug=course.slug,
        zone=cadence.zone.key,
        send_time=send_time,
        hour=_hour_of(subscriber.send_time),
        morning=morning,
        days=course.days,
    )


def _course_of(subscriber: Subscriber, enrollment: Enrollment | None) -> str:
    """Return the course the page and its buttons are about: the newest enrollment's."""
    # One person can follow several courses; the buttons act on the newest enrollment.
    return enrollment.course_slug if enrollment else subscriber.course_slug


def _hour_of(send_time: str | None) -> str:
    """Name the choice SEND_TIME stands for on the page (None: the course's morning)."""
    if send_time is None:
        return MORNING
    return next((name for name, at in HOURS.items() if at == send_time), EXACT)


def _latest(session: Session, subscriber_id: int, *, lock: bool) -> Enrollment | None:
    """Return SUBSCRIBER_ID's newest enrollment (whatever its state), locked if LOCK."""
    query = (
        select(Enrollment)
        .where(Enrollment.subscriber_id == subscriber_id)
        .order_by(Enrollment.id.desc())
        .limit(1)
    )
    return session.scalars(query.with_for_update() if lock else query).first()


def held_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """Return SUBSCRIBER_ID locked for a change, or None; raise Erased for an erased reader.

    Call it first in the transaction: it takes the erasure lock before any row lock.
    """
    hold_for_recording(session)
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is not None and subscriber.status == SubscriberStatus.FORGOTTEN:
        raise Erased
    return subscriber


def _receiving(session: Session, subscriber_id: int) -> Subscriber | None:
    """Return the subscriber, locked, when they still get lessons (confirmed)."""
    subscriber = held_subscriber(session, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        return None
    return subscriber


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


def pause(runtime: Runtime, session: Session, subscriber_id: int, *, week: bool) -> bool:
    """Pause the running course for a week (WEEK) or until resumed; False if none runs."""
    subscriber = _receiving(session, subscriber_id)
    enrollment = _latest(session, subscriber_id, lock=True) if subscriber else None
    if subscriber is None or enrollment is None:
        return False
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


def resume(runtime: Runtime, session: Session, subscriber_id: int) -> bool:
    """Resume a paused course at the day it stopped; False if nothing is paused."""
    subscriber = _receiving(session, subscriber_id)
    enrollment = _latest(session, subscriber_id, lock=True) if subscriber else None
    if subscriber is None or enrollment is None:
        return False
    now = runtime.now()
    course = runtime.courses.get_version(enrollment.course_slug, enrollment.course_version)
    if not enrollments.resume(enrollment, course, subscriber, now, runtime.settings):
        return False
    kind = PreferenceEventKind.RESUME
    _record(session, subscriber, kind, now, enrollment.course_slug, value="page")
    return True


def parse_hour(hour: str | None, exact: str | None) -> str | None:
    """Return the send time ("HH:MM") HOUR and EXACT ask for; None for the course's morning.

    Raises PreferenceError for an unknown choice or an impossible time.
    """
    if hour == MORNING:
        return None
    if hour in HOURS:
        return HOURS[hour]
    if hour == EXACT:
        value = (exact or "").strip()[:5]
        if not _HH_MM.fullmatch(value):
            raise PreferenceError("time")
        return value
    raise PreferenceError("hour")


def set_schedule(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    send_time: str | None,
    zone: str | None,
) -> bool:
    """Keep the reader's hour and zone and move their coming lesson to it; False if stopped.

    ZONE must be a checked IANA name (clean_timezone); raises PreferenceError otherwise.
    """
    checked = clean_timezone(zone)
    if checked is None:
        raise PreferenceError("zone")
    subscriber = _receiving(session, subscriber_id)
    if subscriber is None:
        return False
    now = runtime.now()
    if subscriber.send_time != send_time:
        subscriber.send_time = send_time
        _record(session, subscriber, PreferenceEventKind.SEND_TIME, now, value=send_time or MORNING)
    if subscriber.timezone != checked:
        subscriber.timezone = checked
        _record(session, subscriber, PreferenceEventKind.TIMEZONE, now, value=checked)
    enrollment = _latest(session, subscriber_id, lock=True)
    if enrollment is not None:
        course = runtime.courses.get_version(enrollment.course_slug, enrollment.course_version)
        enrollments.reschedule(session, enrollment, course, subscriber, now, runtime.settings)
    return True


def restart(runtime: Runtime, session: Session, subscriber_id: int) -> bool:
    """Start the course again from day 1 (after finishing, or midway); False if stopped."""
    subscriber = _receiving(session, subscriber_id)
    if subscriber is None:
        return False
    now = runtime.now()
    latest = _latest(session, subscriber.id, lock=True)
    course = runtime.courses.get(_course_of(subscriber, latest))
    _record(session, subscriber, PreferenceEventKind.RESTART, now, course.slug)
    enrollments.restart(session, subscriber, course, now, runtime.settings)
    log.info(
        "subscriber %s restarted the course", subscriber.id, extra={"subscriber_id": subscriber.id}
    )
    return True
