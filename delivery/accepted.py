"""Record what the provider accepted: mark sent, work out the next due time, advance.

One path for the sender (after a 202) and the evidence resolver (after a processed event),
so a lesson settled either way moves its enrollment exactly alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from config import Settings
from course.store import CourseStore
from delivery.enrollments import Advance, advance_enrollments
from delivery.schedule import cadence_for, closing_due_at, next_due_after
from delivery.transitions import Executor, mark_all_sent
from store.models import DeliveryKind


class Accepted(Protocol):
    """What recording a sent delivery needs to know about it."""

    @property
    def delivery_id(self) -> int:
        """The delivery row."""

    @property
    def kind(self) -> str:
        """A lesson or a confirmation."""

    @property
    def enrollment_id(self) -> int | None:
        """The enrollment a lesson belongs to."""

    @property
    def course_slug(self) -> str:
        """The course."""

    @property
    def day(self) -> int:
        """The lesson's day."""

    @property
    def timezone(self) -> str | None:
        """The subscriber's time zone, when known."""

    @property
    def send_time(self) -> str | None:
        """The subscriber's own hour ("HH:MM"), when they chose one."""

    @property
    def course_version(self) -> str | None:
        """The course version fixed when it was claimed (None: a course read from its folder)."""


def record_accepted(
    executor: Executor,
    items: Sequence[Accepted],
    *,
    message_id: str | None,
    sent_at: datetime,
    courses: CourseStore,
    settings: Settings,
    version: str | None = None,
) -> set[int]:
    """Mark ITEMS sent and advance their enrollments; return the deliveries this call settled.

    VERSION is the course version the sender rendered (None: the one fixed at the claim).
    Guarded both ways: a delivery already settled is left alone, and so is its enrollment.
    """
    marked = mark_all_sent(
        executor,
        [item.delivery_id for item in items],
        sent_at=sent_at,
        message_id=message_id,
        version=version,
    )
    due_by_zone: dict[tuple[str, str | None, str | None, bool], datetime] = {}
    advances = []
    for item in items:
        if (
            item.delivery_id not in marked
            or item.kind != DeliveryKind.LESSON
            or item.enrollment_id is None
        ):
            continue
        # The days of the version it was sent from: an enrollment finishing on an older
        # version completes after that version's last day.
        course = courses.get_version(item.course_slug, version or item.course_version)
        last_day = item.day >= course.days
        key = (item.course_slug, item.timezone, item.send_time, last_day)
        if key not in due_by_zone:
            cadence = cadence_for(settings, course, item.timezone, item.send_time)
            # After the last day, the one thing due is the closing email, if the course has one.
            if not last_day:
                due_by_zone[key] = next_due_after(sent_at, cadence)
            elif course.closing is not None:
                due_by_zone[key] = closing_due_at(sent_at, cadence, course.closing.after_days)
        due = due_by_zone.get(key)
        if last_day:
            advances.append(Advance(item.enrollment_id, item.day, True, None, due))
        else:
            advances.append(Advance(item.enrollment_id, item.day, False, due))
    advance_enrollments(executor, advances, now=sent_at)
    return marked
