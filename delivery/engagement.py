"""What readers did with a sent delivery: opens (human and machine), clicks, delivered time.

Tracking works out the numbers; this module owns the one statement that adds them to the
delivery rows, run as executemany: a drain of 1,000 hits over hundreds of deliveries is one
round-trip batch, not hundreds of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, text, update
from sqlalchemy.orm import Session

from store.base import json_rows
from store.models import Executor, UtcDateTime
from store.models import deliveries_table as deliveries


@dataclass
class Engagement:
    """Counts to add to one delivery; the times only ever move earlier."""

    delivery_id: int
    human_opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    first_opened_at: datetime | None = None
    delivered_at: datetime | None = None


def _earliest(column: Any, name: str) -> Any:
    # NULL parameter: no change. Written without "param IS NULL" so PostgreSQL can infer
    # the parameter's type from the column it is compared with.
    value = bindparam(name, type_=UtcDateTime())
    return case((column.is_(None), value), (value < column, value), else_=column)


_ADD_ENGAGEMENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"))
    .values(
        human_opens=deliveries.c.human_opens + bindparam("b_human"),
        machine_opens=deliveries.c.machine_opens + bindparam("b_machine"),
        clicks=deliveries.c.clicks + bindparam("b_clicks"),
        first_opened_at=_earliest(deliveries.c.first_opened_at, "b_first_opened"),
        delivered_at=_earliest(deliveries.c.delivered_at, "b_delivered"),
    )
)


# PostgreSQL: one statement over a JSON list, so a statement-level trigger on deliveries
# (the dashboard's rollups) runs once per batch instead of once per delivery.
_ADD_ENGAGEMENT_JSON = text(
    "UPDATE deliveries AS d SET human_opens = d.human_opens + c.human, "
    "machine_opens = d.machine_opens + c.machine, clicks = d.clicks + c.clicks, "
    "first_opened_at = CASE WHEN d.first_opened_at IS NULL OR c.first_opened < "
    "d.first_opened_at THEN COALESCE(c.first_opened, d.first_opened_at) "
    "ELSE d.first_opened_at END, "
    "delivered_at = CASE WHEN d.delivered_at IS NULL OR c.delivered < d.delivered_at "
    "THEN COALESCE(c.delivered, d.delivered_at) ELSE d.delivered_at END "
    "FROM json_to_recordset(CAST(:rows AS json)) AS c(id bigint, human integer, "
    "machine integer, clicks integer, first_opened timestamptz, delivered timestamptz) "
    "WHERE d.id = c.id"
)


def add_engagement(executor: Executor, engagements: Sequence[Engagement]) -> None:
    """Add each Engagement to its delivery row, in one statement (one executemany on SQLite)."""
    if not engagements:
        return
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    if bind.dialect.name == "postgresql":
        # One row per delivery (callers merge changes per delivery), ids in order: two
        # batches touching the same deliveries lock them in the same order.
        items = sorted(engagements, key=lambda item: item.delivery_id)
        rows = [
            {
                "id": item.delivery_id,
                "human": item.human_opens,
                "machine": item.machine_opens,
                "clicks": item.clicks,
                "first_opened": item.first_opened_at,
                "delivered": item.delivered_at,
            }
            for item in items
        ]
        executor.execute(_ADD_ENGAGEMENT_JSON, {"rows": json_rows(rows)})
        return
    executor.execute(
        _ADD_ENGAGEMENT,
        [
            {
                "b_id": item.delivery_id,
                "b_human": item.human_opens,
                "b_machine": item.machine_opens,
                "b_clicks": item.clicks,
                "b_first_opened": item.first_opened_at,
                "b_delivered": item.delivered_at,
            }
            for item in engagements
        ],
    )
