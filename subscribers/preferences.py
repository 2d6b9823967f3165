"""The reader's preferences page: what it shows, which course and enrollment it is about.

The page is reached through a signed, never-expiring link in every lesson
(emails.tokens, purpose "preferences"); only that link's holder gets here. The link names the
course of the mail it came in, and the page and its buttons are about that course's newest
enrollment; a link from before links named their course is about the newest enrollment of
any course. The changes its buttons make are subscribers.preference_changes.

An erased ("forgotten") reader's link changes nothing: the page and each change raise Erased,
so the page can say so. A change and an erase never overlap (store.erasure_lock): a change
that starts while an erase runs waits for it, then finds the reader forgotten, and an erase
waits for a change under way, then erases what it stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.schedule import cadence_for
from delivery.standing import course_standing
from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import Enrollment, EnrollmentStatus, Subscriber, SubscriberStatus

# The hours a reader picks from; "morning" is the course's own send time.
MORNING, NOON, EVENING, EXACT = "morning", "noon", "evening", "exact"
HOURS = {NOON: "12:00", EVENING: "19:00"}
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# Why a reader leaves (the dashboard counts them per lesson); the labels are what they see.
REASONS = {
    "te-veel": "Ik krijg te veel e-mails",
    "past-niet": "De inhoud past niet bij mij",
    "geholpen": "Ik heb gevonden wat ik zocht",
    "niet-aangemeld": "Ik heb me niet aangemeld",
    "anders": "Een andere reden",
}

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


@dataclass(frozen=True)
class Standing:
    """What the page shows a reader: their course's state and their own schedule."""

    subscriber: Subscriber
    enrollment: Enrollment | None
    course_slug: str  # the course the page is about (see page_course)
    named: bool  # the link names its course (else: a link from before, the newest course)
    elsewhere: bool  # another course of theirs is running (it keeps going)
    zone: str  # the zone lessons follow (their own, or the course's)
    send_time: str  # the hour lessons follow ("HH:MM")
    hour: str  # MORNING, NOON, EVENING or EXACT
    morning: str  # the course's own send time ("HH:MM"), what MORNING means
    days: int

    @property
    def left(self) -> bool:
        """Tell whether the reader stopped this course (and still gets another's mail)."""
        return left_course(self.enrollment)

    @property
    def receiving(self) -> bool:
        """Tell whether this reader may still get this course's mail (confirmed, not left)."""
        return self.subscriber.status == SubscriberStatus.CONFIRMED and not self.left

    @property
    def state(self) -> str | None:
        """Return the enrollment's status, or None before any."""
        return self.enrollment.status if self.enrollment else None

    def local(self, moment: datetime | None) -> datetime | None:
        """Return MOMENT in the reader's zone."""
        return moment.astimezone(ZoneInfo(self.zone)) if moment else None


class Erased(Exception):
    """The reader of this link was erased: nothing may be changed or stored for them."""


def held_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """Return SUBSCRIBER_ID locked for a change, or None; raise Erased for an erased reader.

    Call it first in the transaction: it takes the erasure lock before any row lock, and it
    reads the row afresh (a row this session loaded earlier would keep its old status).
    """
    hold_for_recording(session)
    subscriber = session.get(
        Subscriber, subscriber_id, with_for_update=True, populate_existing=True
    )
    if subscriber is not None and subscriber.status == SubscriberStatus.FORGOTTEN:
        raise Erased
    return subscriber


def standing(
    runtime: Runtime, session: Session, subscriber_id: int, course_slug: str | None = None
) -> Standing | None:
    """Return what SUBSCRIBER_ID's page of COURSE_SLUG shows, or None for no such person.

    COURSE_SLUG None: the page of a link from before links named their course. Changes nothing.
    Raises Erased for an erased reader.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    if subscriber.status == SubscriberStatus.FORGOTTEN:
        raise Erased
    enrollment = page_enrollment(session, subscriber.id, course_slug, lock=False)
    course = runtime.courses.get(page_course(subscriber, enrollment, course_slug))
    cadence = cadence_for(runtime.settings, course, subscriber.timezone, subscriber.send_time)
    send_time = cadence.send_time.strftime("%H:%M")
    morning = cadence_for(runtime.settings, course).send_time.strftime("%H:%M")
    return Standing(
        subscriber=subscriber,
        enrollment=enrollment,
        course_slug=course.slug,
        named=course_slug is not None,
        elsewhere=course_standing(session, subscriber.id, course.slug).live_elsewhere,
        zone=cadence.zone.key,
        send_time=send_time,
        hour=_hour_of(subscriber.send_time),
        morning=morning,
        days=course.days,
    )


def page_enrollment(
    session: Session, subscriber_id: int, course_slug: str | None, *, lock: bool
) -> Enrollment | None:
    """Return the enrollment the page is about: the newest of COURSE_SLUG (None: of any course).

    Whatever its state; locked for the change to come when LOCK.
    """
    query = select(Enrollment).where(Enrollment.subscriber_id == subscriber_id)
    if course_slug is not None:
        query = query.where(Enrollment.course_slug == course_slug)
    query = query.order_by(Enrollment.id.desc()).limit(1)
    return session.scalars(query.with_for_update() if lock else query).first()


def page_course(
    subscriber: Subscriber, enrollment: Enrollment | None, course_slug: str | None
) -> str:
    """Return the course the page is about: the link's, else the newest enrollment's."""
    if course_slug is not None:
        return course_slug
    return enrollment.course_slug if enrollment else subscriber.course_slug


def left_course(enrollment: Enrollment | None) -> bool:
    """Tell whether the page's ENROLLMENT says the reader stopped its course.

    Only leaving a course (or all mail) leaves its newest enrollment cancelled: a restart
    cancels one but starts the next. Joining again is a new signup, with its double opt-in.
    """
    return enrollment is not None and enrollment.status == EnrollmentStatus.CANCELLED


def _hour_of(send_time: str | None) -> str:
    """Name the choice SEND_TIME stands for on the page (None: the course's morning)."""
    if send_time is None:
        return MORNING
    return next((name for name, at in HOURS.items() if at == send_time), EXACT)


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
