"""Operator and privacy repairs of delivery rows: requeue failed sends, erase kept errors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from store.models import DeliveryState, Executor
from store.models import deliveries_table as deliveries


def requeue_failed(executor: Executor, now: datetime, delivery_id: int | None = None) -> int:
    """Put failed deliveries (all, or DELIVERY_ID) back to queued with fresh attempts."""
    statement = (
        update(deliveries)
        .where(deliveries.c.state == DeliveryState.FAILED)
        .values(
            state=DeliveryState.QUEUED,
            attempts=0,
            not_before=now,
            enqueued_at=None,
            claimed_at=None,
        )
    )
    if delivery_id is not None:
        statement = statement.where(deliveries.c.id == delivery_id)
    return int(executor.execute(statement).rowcount)  # type: ignore[attr-defined]


def erase_errors_of(executor: Executor, subscriber_id: int, erased: str) -> None:
    """Replace the kept errors of SUBSCRIBER_ID's deliveries (they may quote the address)."""
    statement = (
        update(deliveries)
        .where(deliveries.c.subscriber_id == subscriber_id, deliveries.c.last_error.is_not(None))
        .values(last_error=erased)
    )
    executor.execute(statement)
