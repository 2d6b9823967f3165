"""Move an enrollment past a sent lesson: the next lesson's due time, or completed.

Shared by the send path (after a 202) and the evidence resolver (after a processed event);
guarded so the two can never advance one enrollment twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, or_, update

from store.models import EnrollmentStatus, UtcDateTime
from tasks.claims import Executor, enrollments

# Several enrollments at once: a batch of sends is one lesson, so they share the day, and
# mostly the next due time too (it differs only by timezone). One statement moves them all.
_ENROLLMENT_AT_DAY = (
    enrollments.c.id.in_(bindparam("p_enrollment_ids", expanding=True)),
    enrollments.c.next_day == bindparam("p_day", type_=Integer()),
)
_COMPLETE = (
    update(enrollments)
    .where(
        *_ENROLLMENT_AT_DAY,
        or_(
            enrollments.c.status == EnrollmentStatus.ACTIVE,
            enrollments.c.status == EnrollmentStatus.PAUSED,
        ),
    )
    .values(
        next_day=enrollments.c.next_day + 1,
        next_due_at=None,
        status=EnrollmentStatus.COMPLETED,
        completed_at=bindparam("p_now", type_=UtcDateTime()),
    )
)
_ADVANCE = (
    update(enrollments)
    .where(*_ENROLLMENT_AT_DAY)
    .values(
        next_day=enrollments.c.next_day + 1,
        # A paused enrollment moves on but gets no due time: resuming sets it.
        next_due_at=case(
            (
                enrollments.c.status == EnrollmentStatus.ACTIVE,
                bindparam("p_next_due_at", type_=UtcDateTime()),
            ),
            else_=None,
        ),
    )
)


def advance_enrollment(
    executor: Executor,
    enrollment_id: int,
    *,
    day: int,
    last_day: bool,
    next_due_at: datetime | None,
    now: datetime,
) -> None:
    """Move ENROLLMENT_ID past DAY: the next lesson's due time, or completed after the last.

    Guarded on next_day = DAY so evidence and a late worker can't advance it twice (and so
    next_day + 1 is DAY + 1). A paused enrollment moves on but gets no due time.
    """
    advance_enrollments(executor, [Advance(enrollment_id, day, last_day, next_due_at)], now=now)


@dataclass(frozen=True, slots=True)
class Advance:
    """One enrollment to move past DAY (see advance_enrollment)."""

    enrollment_id: int
    day: int
    last_day: bool
    next_due_at: datetime | None


def advance_enrollments(executor: Executor, advances: Sequence[Advance], *, now: datetime) -> None:
    """Advance several enrollments: one statement per (day, last day, next due time)."""
    groups: defaultdict[tuple[int, bool, datetime | None], list[int]] = defaultdict(list)
    for advance in advances:
        key = (advance.day, advance.last_day, advance.next_due_at)
        groups[key].append(advance.enrollment_id)
    for (day, last_day, next_due_at), enrollment_ids in groups.items():
        params: dict[str, Any] = {"p_enrollment_ids": enrollment_ids, "p_day": day}
        if last_day:
            executor.execute(_COMPLETE, {**params, "p_now": now})
        else:
            executor.execute(_ADVANCE, {**params, "p_next_due_at": next_due_at})
