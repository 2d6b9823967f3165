"""The funnel and per-lesson numbers, shared by the dashboard and `nurture stats`.

Read from the rollups (tracking.rollups), which triggers keep exact in every writer's
transaction: a handful of rows, however many subscribers, deliveries and events there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from course.store import CourseStore
from tracking import rollups
from tracking.course_members import later_signup_times, signup_counts, site_unsubscribes
from tracking.rollup_sql import EVENT_MARK_METRIC, QUARTER_SECONDS, SIGNUPS, SITE_UNSUBSCRIBES

# Gmail's hard limit is 0.3%; warn well before it, at the rate Google advises staying under.
COMPLAINT_WARNING_RATE = 0.001
DEFAULT_DAYS = 5
CONFIRMED, SIGNUP_QUARTERS = "confirmed", "signups.quarter"
# Rollup metric -> LessonStats field, for the per-lesson counts of sent lesson deliveries.
LESSON_FIELDS = {
    "lesson.sent": "sent",
    "lesson.delivered": "delivered",
    "lesson.human_opened": "human_opened",
    "lesson.machine_opened": "machine_opened",
    "lesson.clicked": "clicked",
}
# The event kinds that count as a bounce (one per subscriber and lesson on the dashboard).
BOUNCE_KINDS = ("bounce", "dropped")
BOUNCE_METRICS = tuple(EVENT_MARK_METRIC + kind for kind in BOUNCE_KINDS)
COMPLAINT_METRIC = EVENT_MARK_METRIC + "spamreport"
UNSUBSCRIBE_METRICS = (
    EVENT_MARK_METRIC + "unsubscribe",
    EVENT_MARK_METRIC + "group_unsubscribe",
    SITE_UNSUBSCRIBES,
)
FUNNEL_METRICS = [
    SIGNUPS,
    CONFIRMED,
    *LESSON_FIELDS,
    *BOUNCE_METRICS,
    COMPLAINT_METRIC,
    *UNSUBSCRIBE_METRICS,
]


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
    with_subscribers = {course for course, _day, _metric in rollups.read(session, [SIGNUPS])}
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
    """Compute the funnel of COURSE_SLUG from its rollups (tracking.rollups): one query."""
    result = Funnel(course_slug)
    counts = rollups.read(session, FUNNEL_METRICS, course_slug)
    # Forgotten subscribers are anonymised, not deleted, so they still count here.
    several = len(courses.slugs()) > 1
    if several:
        # Several courses: a reader's later course is not their row's first one, and leaving
        # one course leaves the person subscribed, so count per course membership
        # (tracking.course_members; scans, but only where there is more than one course).
        result.signups, result.confirmed = signup_counts(session, course_slug)
    else:
        result.signups = counts.get((course_slug, 0, SIGNUPS), 0)
        result.confirmed = counts.get((course_slug, 0, CONFIRMED), 0)
    titles = _lesson_titles(courses, course_slug)
    by_day = {day: LessonStats(day, title) for day, title in titles.items()}
    for (_course, day, metric), count in sorted(counts.items()):
        if metric in (SIGNUPS, CONFIRMED):
            continue
        lesson = by_day.setdefault(day, LessonStats(day))
        if metric in LESSON_FIELDS:
            setattr(lesson, LESSON_FIELDS[metric], count)
        elif metric in BOUNCE_METRICS:
            # One subscriber bouncing twice on the same lesson is one bounce (a mark each).
            lesson.bounces += count
        elif metric == COMPLAINT_METRIC:
            lesson.complaints += count
        elif not (several and metric == SITE_UNSUBSCRIBES):
            # SendGrid's unsubscribes, and those through our own link that SendGrid did not
            # report, counted on the last lesson sent before them (day 1 if none was).
            lesson.unsubscribes += count
    if several:
        for day, count in site_unsubscribes(session, course_slug).items():
            by_day.setdefault(day, LessonStats(day)).unsubscribes += count
    # The course says how many days it has; without it, assume the usual five at least.
    last_day = max(titles) if titles else max([DEFAULT_DAYS, *by_day])
    result.lessons = [by_day.get(day, LessonStats(day)) for day in range(1, last_day + 1)]
    result.completed = by_day[last_day].sent if last_day in by_day else 0
    return result


def signups_per_day(
    session: Session,
    course_slug: str,
    zone: ZoneInfo,
    now: datetime,
    days: int = 30,
    *,
    several_courses: bool = False,
) -> list[tuple[date, int]]:
    """Return (local date, signups) for the last DAYS days up to NOW, oldest first, zeros too."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    # Quarter hours, since every zone's offset is a whole number of them (tracking.rollup_sql).
    quarters = (int(since.timestamp()) // QUARTER_SECONDS, int(now.timestamp()) // QUARTER_SECONDS)
    counts: dict[date, int] = {}
    for (_course, quarter, _metric), count in rollups.read(
        session, [SIGNUP_QUARTERS], course_slug, quarters
    ).items():
        local = datetime.fromtimestamp(quarter * QUARTER_SECONDS, UTC).astimezone(zone).date()
        counts[local] = counts.get(local, 0) + count
    if several_courses:
        # Readers for whom this is a later course: their row's signup is another course's.
        for stamp in later_signup_times(session, course_slug, since):
            local = stamp.astimezone(zone).date()
            counts[local] = counts.get(local, 0) + 1
    return [
        (first + timedelta(days=n), counts.get(first + timedelta(days=n), 0)) for n in range(days)
    ]
