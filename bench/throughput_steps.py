"""bench_throughput's helpers: empty the tables between runs; take one batch apart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from common import dispatch_pass
from sqlalchemy import text

if TYPE_CHECKING:
    from runtime import Runtime

T = TypeVar("T")


def empty_tables(runtime: Runtime) -> None:
    """Remove every row (between runs)."""
    from store.models import Base

    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with runtime.transaction() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def time_shares(runtime: Runtime, size: int) -> dict[str, float]:
    """Send one batch of SIZE step by step, single-threaded; return seconds per step."""
    import json

    from lessons import enroll

    from delivery.accepted import record_accepted
    from delivery.transitions import claim_deliveries
    from emails.render import Recipient
    from providers.sendgrid.requests import build_bulk_body, plan_requests

    empty_tables(runtime)
    enroll(runtime, size, runtime.now())
    batches: list[list[int]] = []
    dispatch_pass(runtime, lambda published: batches.extend(list(b) for b in published))
    # The pass's first step may split them; one lesson either way, so take SIZE of them.
    batch = [delivery_id for published in batches for delivery_id in published][:size]
    shares: dict[str, float] = {}

    def timed(step: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        shares[step] = shares.get(step, 0.0) + time.perf_counter() - started
        return result

    def claim() -> list[Any]:
        with runtime.transaction() as connection:
            return claim_deliveries(connection, batch, runtime.now())

    claims = timed("database", claim)
    course = runtime.courses.get(claims[0].course_slug)
    recipients = [
        Recipient(c.subscriber_id, c.email or "", c.first_name, c.delivery_id) for c in claims
    ]
    bulk = timed("render", lambda: runtime.renderer.lesson_bulk(course, claims[0].day, recipients))
    timed(
        "JSON",
        lambda: [json.dumps(build_bulk_body(bulk, group)) for group in plan_requests(bulk)],
    )
    results = timed("send (JSON + HTTP)", lambda: runtime.mail.send_bulk(bulk))
    message_id = results[0].message_id  # type: ignore[union-attr]

    def record() -> None:
        with runtime.transaction() as connection:
            record_accepted(
                connection,
                claims,
                message_id=message_id,
                sent_at=runtime.now(),
                courses=runtime.courses,
                settings=runtime.settings,
                version=course.version,
            )

    timed("database", record)
    shares["HTTP"] = shares.pop("send (JSON + HTTP)") - shares["JSON"]
    return shares
