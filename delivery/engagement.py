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

from sqlalchemy import bindparam, case, update

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


def add_engagement(executor: Executor, engagements: Sequence[Engagement]) -> None:
    """Add each Engagement to its delivery row, in one executemany."""
    if not engagements:
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
