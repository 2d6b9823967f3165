"""Running counts of what tracking takes in, in the counters table, for /metrics.

The tables cannot give these cheaply: processed webhook bodies are deleted after a week, and
counting 20 million events per scrape is out of the question. So each step adds to
anonymous counters (subscribers.counters) in the transaction that does the work: a
rolled-back batch counts nothing, a replayed one nothing twice (only new events count),
and every process adds to the same rows, so the figures add up however many web and
worker processes there are. One multi-row UPSERT per batch, written last in its
transaction so the counter rows stay locked for as short a time as possible.

- webhook batches received (web.webhooks stores one, this counts it);
- webhook events stored, by kind, and the lag from the event to its ingest, as a
  histogram: cumulative buckets (an event counts in every bucket its lag fits), a count
  and a sum in milliseconds;
- opens and clicks stored (pixel and link hits, once each).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from subscribers.counters import increment, increment_many
from tracking.record import NewEvent

WEBHOOK_BATCHES = "webhooks.batches"
EVENT_PREFIX = "webhooks.events."
HIT_PREFIX = "tracking.hits."
LAG_BUCKET_PREFIX = "webhooks.ingest_lag.le."
LAG_COUNT = "webhooks.ingest_lag.count"
LAG_SUM_MS = "webhooks.ingest_lag.sum_ms"
# Upper bounds in seconds of the lag histogram: SendGrid posts within seconds when all is
# well; minutes mean a backlog, hours that the ingest stopped (workers and beat down).
LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 21600)
# The kinds the Event Webhook sends; anything else counts as "other", so a provider's new
# kind cannot add counter rows without end.
EVENT_KINDS = (
    "processed",
    "delivered",
    "deferred",
    "open",
    "click",
    "bounce",
    "dropped",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
    "other",
)
HIT_KINDS = ("open", "click")


def event_counter(kind: str) -> str:
    """Return the counter of stored webhook events of KIND."""
    return EVENT_PREFIX + (kind if kind in EVENT_KINDS else "other")


def lag_bucket_counter(upper: int) -> str:
    """Return the counter of events ingested at most UPPER seconds after they happened."""
    return f"{LAG_BUCKET_PREFIX}{upper}"


def count_batch_received(session: Session) -> None:
    """Count one stored webhook batch."""
    increment(session, WEBHOOK_BATCHES)


def count_ingested(session: Session, events: Sequence[NewEvent], now: datetime) -> None:
    """Count newly stored webhook EVENTS by kind, and their lag from happening to NOW."""
    amounts: Counter[str] = Counter()
    for event in events:
        amounts[event_counter(event.kind)] += 1
        lag = max(0.0, (now - event.occurred_at).total_seconds())
        amounts[LAG_COUNT] += 1
        amounts[LAG_SUM_MS] += round(lag * 1000)
        for upper in LAG_BUCKETS:
            if lag <= upper:
                amounts[lag_bucket_counter(upper)] += 1
    increment_many(session, amounts)


def count_hits(session: Session, events: Sequence[NewEvent]) -> None:
    """Count newly stored opens and clicks (pixel and link hits)."""
    increment_many(session, Counter(HIT_PREFIX + event.kind for event in events))


def tally_names() -> list[str]:
    """Return the name of every counter this module writes (what /metrics reads)."""
    return [
        WEBHOOK_BATCHES,
        *(EVENT_PREFIX + kind for kind in EVENT_KINDS),
        *(HIT_PREFIX + kind for kind in HIT_KINDS),
        *(lag_bucket_counter(upper) for upper in LAG_BUCKETS),
        LAG_COUNT,
        LAG_SUM_MS,
    ]
