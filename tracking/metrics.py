"""The figures /metrics exposes, read at scrape time: a few grouped queries and one Redis trip.

Nothing is counted in a process's memory, so any number of web and worker processes give
the same figures: they are the database's and Redis's, read when Prometheus asks.
- Deliveries per course, lesson and state, and those that needed more than one attempt:
  from the rollups (tracking.rollups), a few rows however many deliveries there are. (Two
  GROUP BYs over the table took about 2 s at 5,000,000 deliveries.)
- The oldest due mail: due enrollments not yet made into deliveries (ix_enrollments_due)
  and queued deliveries past their not_before (ix_deliveries_queued), per kind.
- Webhook batches waiting to be ingested (ix_webhook_batches_pending).
- Anonymous counters (subscribers.counters, tracking.tallies): signups, confirmations,
  unsubscribes, webhook batches, events and their lag, opens and clicks, set-asides.
- From Redis: the Celery queues' lengths and unacknowledged messages, the dispatcher's last
  pass and totals (delivery.last_pass), and the opens and clicks shipped and waiting.
Either source may be down; the other's figures are still given (the reader reports which).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import redis
from kombu.transport.redis import PRIORITY_STEPS
from kombu.transport.redis import Channel as RedisChannel
from sqlalchemy import func, select

from config.celery import DEFAULT_QUEUE, DISPATCH_QUEUE
from delivery.last_pass import LAST_PASS_KEY, TOTALS_KEY, LastPass, parse_last_pass, parse_totals
from runtime import Runtime
from store.models import (
    CLOSING_DAY,
    CONFIRMATION_DAY,
    Counter,
    DeliveryKind,
    DeliveryState,
    EnrollmentStatus,
    WebhookBatch,
    deliveries_table,
    enrollments_table,
)
from subscribers import counters
from tracking import batch_failures, hits, poison, rollups, tallies

log = logging.getLogger(__name__)

QUEUES = (DEFAULT_QUEUE, DISPATCH_QUEUE)
# The anonymous counters /metrics reads, by name (an IN list on the primary key).
COUNTER_NAMES = (
    counters.SIGNUPS,
    counters.REPEAT_SIGNUPS,
    counters.CONFIRMATIONS,
    counters.UNSUBSCRIBES,
    counters.FORGOTTEN,
    poison.POISON_COUNTER,
    batch_failures.SET_ASIDE_COUNTER,
    *tallies.tally_names(),
)
CONFIRMATION_LESSON = "confirmation"
CLOSING_LESSON = "closing"
# The rollup metrics of deliveries per state, and of those retried (tracking.rollup_sql).
STATE_PREFIX, RETRIED_PREFIX = "deliveries.", "retried."
STATES = (
    DeliveryState.QUEUED,
    DeliveryState.SENDING,
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.SKIPPED,
)
DELIVERY_METRICS = [prefix + state for prefix in (STATE_PREFIX, RETRIED_PREFIX) for state in STATES]


@dataclass(frozen=True)
class DeliveryCount:
    """Deliveries of one course, lesson and state; RETRIED needed more than one attempt."""

    course: str
    lesson: str
    state: str
    count: int
    retried: int


@dataclass
class DatabaseFigures:
    """What the database says at one scrape."""

    deliveries: list[DeliveryCount]
    # The oldest moment a mail of each kind (lesson, confirmation) became due and is not
    # sent yet; None when nothing of that kind is due.
    oldest_due: dict[str, datetime | None]
    pending_batches: int
    oldest_pending_batch: datetime | None
    counters: dict[str, int] = field(default_factory=dict)

    def counter(self, name: str) -> int:
        """Return counter NAME (0 until something adds to it)."""
        return self.counters.get(name, 0)


@dataclass
class RedisFigures:
    """What Redis says at one scrape."""

    queues: dict[str, int]
    unacked: int
    last_pass: LastPass | None
    pass_totals: dict[str, float]
    hits_waiting: int
    hits_shipped: int


def lesson_label(day: int) -> str:
    """Return the lesson label of a delivery: its day, "confirmation" (0) or "closing" (-1)."""
    if day == CONFIRMATION_DAY:
        return CONFIRMATION_LESSON
    return CLOSING_LESSON if day == CLOSING_DAY else str(day)


def read_database(runtime: Runtime) -> DatabaseFigures:
    """Read the database's figures in one session (raises when the database is down)."""
    now = runtime.now()
    d = deliveries_table
    e = enrollments_table
    due_enrollments = select(func.min(e.c.next_due_at)).where(
        e.c.status == EnrollmentStatus.ACTIVE,
        e.c.next_due_at.is_not(None),
        e.c.next_due_at <= now,
    )
    due_deliveries = (
        select(d.c.kind, func.min(d.c.not_before))
        .where(d.c.state == DeliveryState.QUEUED, d.c.not_before <= now)
        .group_by(d.c.kind)
    )
    pending = select(func.count(), func.min(WebhookBatch.received_at)).where(
        WebhookBatch.processed_at.is_(None)
    )
    named = select(Counter.name, Counter.value).where(Counter.name.in_(COUNTER_NAMES))
    with runtime.session() as session:
        counts = rollups.read(session, DELIVERY_METRICS)
        rows = [
            DeliveryCount(
                course,
                lesson_label(day),
                metric.removeprefix(STATE_PREFIX),
                count,
                counts.get((course, day, RETRIED_PREFIX + metric.removeprefix(STATE_PREFIX)), 0),
            )
            for (course, day, metric), count in sorted(counts.items())
            if metric.startswith(STATE_PREFIX)
        ]
        oldest: dict[str, datetime | None] = {
            DeliveryKind.LESSON: session.scalar(due_enrollments),
            DeliveryKind.CONFIRMATION: None,
        }
        for kind, moment in session.execute(due_deliveries):
            current = oldest.get(kind)
            oldest[kind] = moment if current is None else min(current, moment)
        pending_count, oldest_batch = session.execute(pending).one()
        values = {name: int(value) for name, value in session.execute(named)}
    return DatabaseFigures(
        deliveries=rows,
        oldest_due=oldest,
        pending_batches=int(pending_count),
        oldest_pending_batch=oldest_batch,
        counters=values,
    )


def _queue_keys(queue: str) -> list[str]:
    """Return the Redis lists of QUEUE: kombu keeps one per priority step."""
    return [queue] + [f"{queue}{RedisChannel.sep}{step}" for step in PRIORITY_STEPS if step]


def read_redis(runtime: Runtime) -> RedisFigures:
    """Read Redis's figures in one round trip (raises redis.RedisError when Redis is down)."""
    pipe = runtime.redis.pipeline(transaction=False)
    keys = {queue: _queue_keys(queue) for queue in QUEUES}
    for queue_keys in keys.values():
        for key in queue_keys:
            pipe.llen(key)
    pipe.hlen(RedisChannel.unacked_key)
    pipe.hgetall(LAST_PASS_KEY)
    pipe.hgetall(TOTALS_KEY)
    pipe.llen(hits.QUEUE_KEY)
    pipe.llen(hits.PROCESSING_KEY)
    pipe.get(hits.SHIPPED_KEY)
    answers = iter(pipe.execute())
    queues = {queue: sum(int(next(answers)) for _ in names) for queue, names in keys.items()}
    unacked = int(next(answers))
    last_pass = parse_last_pass(next(answers))
    totals = parse_totals(next(answers))
    waiting = int(next(answers)) + int(next(answers))
    shipped = int(next(answers) or 0)
    return RedisFigures(queues, unacked, last_pass, totals, waiting, shipped)


def read_or_none(runtime: Runtime) -> tuple[DatabaseFigures | None, RedisFigures | None]:
    """Read both sources; a source that is down gives None (logged, without its details)."""
    try:
        database: DatabaseFigures | None = read_database(runtime)
    except Exception as exc:
        log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
        database = None
    try:
        figures: RedisFigures | None = read_redis(runtime)
    except redis.RedisError as exc:
        log.warning("metrics: redis did not answer (%s)", type(exc).__name__)
        figures = None
    return database, figures
