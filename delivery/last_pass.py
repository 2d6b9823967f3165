"""What the dispatcher's last pass did, and running totals, kept in Redis for /metrics.

Every pass that runs through `tasks.dispatch.dispatch_once` (beat's task, `nurture dispatch
--once`) writes its duration and the rows of each step into one Redis hash, LAST_PASS_KEY,
and adds them to TOTALS_KEY, in one MULTI. When it ran is not repeated here: that is
tasks.heartbeat's stamp, the one `nurture doctor` reads too. Redis, not a table: any worker
process can write it and any process read it in one round trip, with no migration, and
the figures only have to be recent. A flushed Redis loses them until the next pass (the
totals start over, which Prometheus reads as a counter reset).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from delivery.dispatcher import DispatchReport
from runtime import Runtime

log = logging.getLogger(__name__)

LAST_PASS_KEY = "nurture:dispatch:last"  # noqa: S105 (a Redis key, not a password)
TOTALS_KEY = "nurture:dispatch:totals"
# The rows a pass handles, step by step (DispatchReport's fields, as written to Redis).
ROW_FIELDS = ("evidence_batches", "sent_by_evidence", "requeued_stale", "materialised", "enqueued")


@dataclass(frozen=True)
class LastPass:
    """How long the last pass took, and the rows of each step."""

    seconds: float
    rows: dict[str, int]


def record_pass(runtime: Runtime, report: DispatchReport) -> None:
    """Keep REPORT as the last pass and add it to the totals; with Redis down, only log."""
    rows = {name: int(getattr(report, name)) for name in ROW_FIELDS}
    last: dict[str, float | int] = {"seconds": report.seconds, **rows}
    try:
        # MULTI/EXEC: a reader never sees the last pass without its share of the totals.
        pipe = runtime.redis.pipeline(transaction=True)
        pipe.hset(LAST_PASS_KEY, mapping=last)  # type: ignore[arg-type]
        pipe.hincrby(TOTALS_KEY, "passes", 1)
        pipe.hincrbyfloat(TOTALS_KEY, "seconds", report.seconds)
        for name, value in rows.items():
            pipe.hincrby(TOTALS_KEY, name, value)
        pipe.execute()
    except redis.RedisError as exc:
        # The pass itself is done and committed; only its report is missing.
        log.warning("could not record the dispatcher pass in redis (%s)", type(exc).__name__)


def _number(raw: Mapping[bytes, bytes], name: str) -> float:
    value = raw.get(name.encode())
    return float(value) if value is not None else 0.0


def parse_last_pass(raw: Mapping[bytes, bytes]) -> LastPass | None:
    """Return the last pass from LAST_PASS_KEY's fields, or None when none was recorded."""
    if b"seconds" not in raw:
        return None
    return LastPass(
        seconds=_number(raw, "seconds"),
        rows={name: int(_number(raw, name)) for name in ROW_FIELDS},
    )


def parse_totals(raw: Mapping[bytes, bytes]) -> dict[str, float]:
    """Return TOTALS_KEY's fields: passes, seconds and each of ROW_FIELDS (0 when absent)."""
    return {name: _number(raw, name) for name in ("passes", "seconds", *ROW_FIELDS)}


def read_last_pass(runtime: Runtime) -> LastPass | None:
    """Return the last recorded pass, or None; raises redis.RedisError when Redis is down."""
    return parse_last_pass(runtime.redis.hgetall(LAST_PASS_KEY))
