"""Bookings the clinic's booking page reports: POST /api/conversions with the CTA's reference.

The call to action's link carries a signed reference to its email (emails.lesson_links); the
booking page passes it back once a booking is made. One booking per email: a page reloaded
or a retry reports it again and changes nothing.

A booking from the mail of an erased ("forgotten") person is dropped and answered UNKNOWN,
as for a reference that is not ours: nothing new may point at them, and the booking site
learns nothing about them. Recording and an erase never overlap (store.erasure_lock).
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import Conversion, Delivery, DeliveryKind
from tracking.record import forgotten_among

RECORDED = "recorded"
ALREADY = "already"
UNKNOWN = "unknown"


def record_conversion(runtime: Runtime, session: Session, delivery_id: int) -> str:
    """Record a booking for the lesson email DELIVERY_ID; return RECORDED, ALREADY or UNKNOWN.

    Call it first in the transaction: it takes the erasure lock before any row lock.
    """
    # First: an erase under way finishes before we read whose email this is.
    hold_for_recording(session)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.kind != DeliveryKind.LESSON:
        return UNKNOWN
    if forgotten_among(session, [delivery.subscriber_id]):
        return UNKNOWN  # also when it was reported before the erase: no "already" either
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Conversion)
        .values(
            delivery_id=delivery.id,
            subscriber_id=delivery.subscriber_id,
            course_slug=delivery.course_slug,
            day=delivery.day,
            occurred_at=runtime.now(),
        )
        .on_conflict_do_nothing(index_elements=["delivery_id"])
        .returning(Conversion.id)
    )
    return RECORDED if session.scalar(statement) is not None else ALREADY
