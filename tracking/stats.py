"""The funnel and per-lesson numbers, shared by the dashboard and `nurture stats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from course.loader import CourseStore
from store.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    EmailEvent,
    Enrollment,
    Subscriber,
)
from tracking.course_members import left, left_at, signup_counts, signup_times

# Gmail's hard limit is 0.3%; warn well before it, at the rate Google advises staying under.
COMPLAINT_WARNING_RATE = 0.001
DEFAULT_DAYS = 5
BOUNCE_KINDS = ("bounce", "dropped")
UNSUBSCRIBE_KINDS = ("unsubscribe", "group_unsubscribe")


@dataclass
class LessonStats:
    """What happened to one day's lesson; opens and clicks count lessons, not raw hits."""

    day: int
    title: str = ""
    sent: int = 0
    delivered: int = 0
    human_opened: int = 0
    machine_opened: int = 0
    clicked: int = 0
    unsubscribes: int = 0
    bounces: int = 0
    complaints: int = 0


@dataclass
class Funnel:
    """Signups to completion for one course, with each lesson's numbers."""

    course_slug: str
    signups: int = 0
    confirmed: int = 0
    completed: int = 0
    lessons: list[LessonStats] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Return lessons sent over all days."""
        return sum(lesson.sent for lesson in self.lessons)

    @property
    def delivered(self) -> int:
        """Return lessons delivered over all days."""
        return sum(lesson.delivered for lesson in self.lessons)

    @property
    def complaints(self) -> int:
        """Return spam complaints over all days."""
        return sum(lesson.complaints for lesson in self.lessons)

    @property
    def complaint_rate(self) -> float:
        """Return complaints per delivered lesson (per sent one until deliveries are reported)."""
        base = self.delivered or self.sent
        return self.complaints / base if base else 0.0

    @property
    def complaint_warning(self) -> bool:
        """Tell whether complaints reached the warning rate."""
        return self.complaints > 0 and self.complaint_rate >= COMPLAINT_WARNING_RATE


def known_courses(session: Session, courses: CourseStore) -> list[str]:
    """Return every course with a folder or with subscribers, the signup course first.

    A removed course still counts while people are in it.
    """
    with_subscribers = set(session.scalars(select(Subscriber.course_slug).distinct()))
    with_subscribers |= set(session.scalars(select(Enrollment.course_slug).distinct()))
    default = courses.default_slug
    found = (with_subscribers | set(courses.slugs()) | {default}) - {""}
    return sorted(found, key=lambda slug: (slug != default, slug))


def _lesson_titles(courses: CourseStore, course_slug: str) -> dict[int, str]:
    try:
        course = courses.get(course_slug)
    except Exception:
        return {}  # stats still work from the data alone when the course folder is missing
    return {lesson.day: lesson.title or lesson.subject for lesson in course.lessons}


def funnel(session: Session, courses: CourseStore, course_slug: str) -> Funnel:
    """Compute the funnel of COURSE_SLUG from the tables, in a handful of grouped queries."""
    result = Funnel(course_slug)
    # Forgotten subscribers are anonymised, not deleted, so they still count here.
    result.signups, result.confirmed = signup_counts(session, course_slug)
    titles = _lesson_titles(courses, course_slug)
    by_day = {day: LessonStats(day, title) for day, title in titles.items()}
    sent = Delivery.sent_at.is_not(None)
    rows = session.execute(
        select(
            Delivery.day,
            func.count().filter(sent),
            func.count(Delivery.delivered_at),
            func.count().filter(Delivery.human_opens > 0),
            func.count().filter(Delivery.machine_opens > 0),
            func.count().filter(Delivery.clicks > 0),
        )
        .where(
            Delivery.course_slug == course_slug,
            Delivery.kind == DeliveryKind.LESSON,
            Delivery.state == DeliveryState.SENT,
        )
        .group_by(Delivery.day)
    )
    for day, n_sent, delivered, human, machine, clicked in rows:
        lesson = by_day.setdefault(day, LessonStats(day))
        lesson.sent, lesson.delivered = n_sent, delivered
        lesson.human_opened, lesson.machine_opened, lesson.clicked = human, machine, clicked
    _add_event_counts(session, course_slug, by_day)
    _add_site_unsubscribes(session, course_slug, by_day)
    # The course says how many days it has; without it, assume the usual five at least.
    last_day = max(titles) if titles else max([DEFAULT_DAYS, *by_day])
    result.lessons = [by_day.get(day, LessonStats(day)) for day in range(1, last_day + 1)]
    result.completed = by_day[last_day].sent if last_day in by_day else 0
    return result


def _add_event_counts(session: Session, course_slug: str, by_day: dict[int, LessonStats]) -> None:
    # One subscriber bouncing twice on the same lesson is one bounce.
    rows = session.execute(
        select(EmailEvent.day, EmailEvent.kind, func.count(distinct(EmailEvent.subscriber_id)))
        .where(
            EmailEvent.course_slug == course_slug,
            EmailEvent.day.is_not(None),
            EmailEvent.kind.in_([*BOUNCE_KINDS, "spamreport", *UNSUBSCRIBE_KINDS]),
        )
        .group_by(EmailEvent.day, EmailEvent.kind)
    )
    for day, kind, count in rows:
        if day is None:
            continue
        lesson = by_day.setdefault(day, LessonStats(day))
        if kind in BOUNCE_KINDS:
            lesson.bounces += count
        elif kind == "spamreport":
            lesson.complaints += count
        else:
            lesson.unsubscribes += count


def _add_site_unsubscribes(
    session: Session, course_slug: str, by_day: dict[int, LessonStats]
) -> None:
    """Attribute unsubscribes through our own link to the last lesson sent before them."""
    # Subscribers SendGrid already reported as unsubscribed are counted by their event.
    reported = select(EmailEvent.subscriber_id).where(
        EmailEvent.kind.in_(UNSUBSCRIBE_KINDS), EmailEvent.subscriber_id.is_not(None)
    )
    last_day = (
        select(func.max(Delivery.day))
        .where(
            Delivery.subscriber_id == Subscriber.id,
            Delivery.course_slug == course_slug,
            Delivery.kind == DeliveryKind.LESSON,
            Delivery.sent_at.is_not(None),
            Delivery.sent_at <= left_at(course_slug),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(last_day, func.count())
        .where(left(course_slug), Subscriber.id.not_in(reported))
        .group_by(last_day)
    )
    for day, count in rows:
        # Unsubscribed before the first lesson: counted against day 1, where it stopped.
        lesson = by_day.setdefault(day or 1, LessonStats(day or 1))
        lesson.unsubscribes += count


def signups_per_day(
    session: Session, course_slug: str, zone: ZoneInfo, now: datetime, days: int = 30
) -> list[tuple[date, int]]:
    """Return (local date, signups) for the last DAYS days up to NOW, oldest first, zeros too."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    counts: dict[date, int] = {}
    for stamp in signup_times(session, course_slug, since):
        local = stamp.astimezone(zone).date()
        counts[local] = counts.get(local, 0) + 1
    return [
        (first + timedelta(days=n), counts.get(first + timedelta(days=n), 0)) for n in range(days)
    ]
