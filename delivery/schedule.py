"""When each lesson is due: local send time, next calendar day, DST-safe, optional weekend skip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config import Settings
from config.settings import FULL_DAY_SECONDS
from course.loader import Course

# Two lessons never land closer than this, even when day 1 went out late in the evening.
MIN_GAP = timedelta(hours=12)


@dataclass(frozen=True)
class Cadence:
    """The rules that turn 'lesson sent' into 'next lesson due'."""

    zone: ZoneInfo
    send_time: time
    skip_weekends: bool
    day_seconds: int
    first_lesson_immediately: bool

    @property
    def compressed(self) -> bool:
        """Tell whether a course day is shortened for demos and tests (no send-time alignment)."""
        return self.day_seconds < FULL_DAY_SECONDS


def cadence_for(
    settings: Settings,
    course: Course | None = None,
    timezone: str | None = None,
    send_time: str | None = None,
) -> Cadence:
    """Combine settings, the course's [cadence] and the reader's own zone and hour.

    The most specific wins: the reader's TIMEZONE and SEND_TIME ("HH:MM", their local time),
    then the course's, then the settings'.
    """
    send_time = (
        send_time
        or (course.send_time if course and course.send_time else None)
        or settings.send_time
    )
    skip = (
        course.skip_weekends
        if course and course.skip_weekends is not None
        else settings.skip_weekends
    )
    zone_name = (
        timezone or (course.timezone if course and course.timezone else None) or settings.timezone
    )
    hours, minutes = (int(part) for part in send_time.split(":"))
    return Cadence(
        zone=ZoneInfo(zone_name),
        send_time=time(hours, minutes),
        skip_weekends=skip,
        day_seconds=settings.day_seconds,
        first_lesson_immediately=settings.first_lesson == "immediately",
    )


def _is_send_day(day: date, cadence: Cadence) -> bool:
    return not (cadence.skip_weekends and day.weekday() >= 5)


def _at_send_time(day: date, cadence: Cadence) -> datetime:
    # zoneinfo resolves a send time inside a spring-forward gap to the shifted wall time,
    # and one inside the autumn overlap to its first occurrence (fold=0).
    local = datetime.combine(day, cadence.send_time, tzinfo=cadence.zone)
    return local.astimezone(UTC)


def next_send_time(
    after: datetime, cadence: Cadence, *, earliest_day: date | None = None
) -> datetime:
    """Return the first send time strictly after AFTER, on or after EARLIEST_DAY, on a send day."""
    day = earliest_day or after.astimezone(cadence.zone).date()
    for _ in range(14):
        candidate = _at_send_time(day, cadence)
        if candidate > after and _is_send_day(day, cadence):
            return candidate
        day += timedelta(days=1)
    raise AssertionError("no send day within two weeks")  # unreachable: weekdays always exist


def first_due_at(confirmed_at: datetime, cadence: Cadence) -> datetime:
    """Return when day 1 is due after confirmation."""
    if cadence.compressed or cadence.first_lesson_immediately:
        return confirmed_at
    return next_send_time(confirmed_at, cadence)


def next_due_after(sent_at: datetime, cadence: Cadence) -> datetime:
    """Return when the lesson after one sent at SENT_AT is due: next calendar day, send time."""
    if cadence.compressed:
        return sent_at + timedelta(seconds=cadence.day_seconds)
    tomorrow = sent_at.astimezone(cadence.zone).date() + timedelta(days=1)
    return next_send_time(sent_at + MIN_GAP, cadence, earliest_day=tomorrow)


def rescheduled_due_at(
    due_at: datetime, now: datetime, last_sent_at: datetime | None, cadence: Cadence
) -> datetime:
    """Move a lesson due at DUE_AT to CADENCE's hour on the same local day (or later).

    Never before NOW, and never closer than MIN_GAP to the lesson sent at LAST_SENT_AT.
    """
    if cadence.compressed:
        return due_at
    after = now if last_sent_at is None else max(now, last_sent_at + MIN_GAP)
    return next_send_time(after, cadence, earliest_day=due_at.astimezone(cadence.zone).date())


def resume_due_at(now: datetime, cadence: Cadence) -> datetime:
    """Return when a paused enrollment's next lesson is due on resume."""
    if cadence.compressed:
        return now
    return next_send_time(now, cadence)


def closing_due_at(last_sent_at: datetime, cadence: Cadence, after_days: int) -> datetime:
    """Return when the closing email is due: AFTER_DAYS days after the last lesson, send time."""
    if cadence.compressed:
        return last_sent_at + timedelta(seconds=cadence.day_seconds * after_days)
    day = last_sent_at.astimezone(cadence.zone).date() + timedelta(days=after_days)
    return next_send_time(last_sent_at, cadence, earliest_day=day)
