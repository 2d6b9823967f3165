"""Record opens and clicks fast, and store them in the database in batches.

Guarantee: a hit that got its answer is never lost and never counted twice.
- The request appends the hit to this process's spool file (tracking.spool): no network
  call. If the spool is unwritable it pushes to Redis, and if Redis is down it writes the
  event to the database directly.
- A timer thread ships spool files into a Redis list (or the database, with Redis down).
- A drainer (a Celery task, started when hits land in an empty queue, and every dispatcher
  pass) moves a batch atomically into a processing list, stores it in one transaction, then
  deletes the processing list. A drainer that dies midway leaves the batch in the processing
  list and the next drainer stores it again.
- Each hit carries a random id that becomes the event's unique key, so storing a batch twice
  inserts nothing new and moves no counter.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis

from config import get_settings
from store.clock import utcnow
from store.db import session_scope
from store.models import Delivery
from tracking.classify import is_machine_open
from tracking.record import DELIVERY_COLUMNS, NewEvent, store_events
from tracking.spool import append_hit

log = logging.getLogger(__name__)

QUEUE_KEY = "nurture:tracking:hits"
PROCESSING_KEY = "nurture:tracking:hits:processing"
LOCK_KEY = "nurture:tracking:hits:lock"
DRAIN_BATCH = 2000
LOCK_SECONDS = 120
USER_AGENT_LIMIT = 500

# Move up to ARGV[1] hits from the queue to the processing list in one atomic step.
_MOVE_BATCH = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
end
return items
"""
# Delete the processing list only while we still hold the drain lock (KEYS[1] == our token):
# a drainer whose lock expired must not delete a batch that a newer drainer has moved.
_FINISH_BATCH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    # Short timeouts: a pixel must not hang on a dead Redis; it falls back to the database.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)


def redis_client() -> redis.Redis:
    """Return the shared Redis client for the configured URL."""
    return _client_for(get_settings().redis_url)


def _hit(kind: str, delivery_id: int, user_agent: str | None, url: str | None) -> list[Any]:
    return [
        kind,
        delivery_id,
        uuid.uuid4().hex,
        utcnow().timestamp(),
        (user_agent or "")[:USER_AGENT_LIMIT],
        url or "",
    ]


def record_hit(kind: str, delivery_id: int, user_agent: str | None, url: str | None = None) -> None:
    """Record an open or click of DELIVERY_ID: spool file first, then Redis, then the database."""
    hit = _hit(kind, delivery_id, user_agent, url)
    line = json.dumps(hit, separators=(",", ":")).encode() + b"\n"
    try:
        append_hit(line)
        return
    except OSError:
        log.exception("tracking spool unwritable; pushing the %s to Redis directly", kind)
    try:
        push_lines([line.rstrip(b"\n")])
    except Exception:
        # Redis and the database both down: the visitor still gets the GIF or redirect.
        log.exception("could not record a %s of delivery %s", kind, delivery_id)


def push_lines(lines: Sequence[bytes]) -> None:
    """Append encoded hits to the Redis queue; store them in the database if Redis is down."""
    try:
        length = redis_client().rpush(QUEUE_KEY, *lines)
    except redis.RedisError:
        # If the push did land (a timeout after sending), the drain later finds the same hit
        # ids already stored and inserts nothing: no double count either way.
        log.warning("redis unreachable; storing %s hits directly in the database", len(lines))
        store_hits([hit for hit in map(_parse, lines) if hit is not None])
        return
    if length == len(lines):
        _schedule_drain()


def _schedule_drain() -> None:
    # The queue was empty: ask a worker to drain it shortly, batching the hits that follow.
    try:
        from tasks.webhooks import drain_tracking_hits

        drain_tracking_hits.apply_async(countdown=1, retry=False)
    except Exception:
        log.warning("could not schedule a drain; the next dispatcher pass drains the queue")


def _parse(raw: bytes | str) -> list[Any] | None:
    try:
        hit = json.loads(raw)
    except ValueError:
        return None
    # Anything malformed is dropped here: one bad entry must not jam the queue for good.
    if not (isinstance(hit, list) and len(hit) == 6 and hit[0] in {"open", "click"}):
        return None
    _kind, delivery_id, hit_id, stamp, user_agent, url = hit
    if not (
        isinstance(delivery_id, int)
        and isinstance(hit_id, str)
        and isinstance(stamp, int | float)
        and 0 < stamp < 1e11  # a unix time datetime can hold
        and isinstance(user_agent, str)
        and isinstance(url, str)
    ):
        return None
    return hit


def store_hits(hits: Sequence[list[Any]]) -> int:
    """Store HITS as events and move the delivery counters; return how many were new."""
    ids = {hit[1] for hit in hits}
    with session_scope() as session:
        deliveries = {
            row.id: row for row in session.query(*DELIVERY_COLUMNS).filter(Delivery.id.in_(ids))
        }
        events = []
        for kind, delivery_id, hit_id, stamp, user_agent, url in hits:
            delivery = deliveries.get(delivery_id)
            if delivery is None:
                continue  # signed for a delivery since deleted: nothing to count against
            occurred_at = datetime.fromtimestamp(stamp, UTC)
            machine = kind == "open" and is_machine_open(
                user_agent, occurred_at, delivery.delivered_at or delivery.sent_at
            )
            events.append(
                NewEvent(
                    kind=kind,
                    source="pixel" if kind == "open" else "link",
                    event_key=f"{kind}:{hit_id}",
                    occurred_at=occurred_at,
                    delivery_id=delivery.id,
                    subscriber_id=delivery.subscriber_id,
                    course_slug=delivery.course_slug,
                    day=delivery.day,
                    machine=machine,
                    url=url or None,
                    user_agent=user_agent or None,
                )
            )
        return len(store_events(session, events))


def drain_hits(max_hits: int = 100_000) -> int:
    """Store queued hits in batches until the queue is empty; return how many were handled."""
    from tracking.spool import ship_spool

    try:
        ship_spool()  # this host's spooled hits join the queue first
    except Exception:
        log.exception("shipping the local tracking spool failed; the spool timer retries")
    client = redis_client()
    lock = client.lock(LOCK_KEY, timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return 0  # another drainer is at it
    move = client.register_script(_MOVE_BATCH)
    finish = client.register_script(_FINISH_BATCH)
    token = lock.local.token
    handled = 0
    try:
        while handled < max_hits:
            # Leftovers of a drainer that died come first; storing them again is harmless.
            raw = client.lrange(PROCESSING_KEY, 0, -1) or move(
                keys=[QUEUE_KEY, PROCESSING_KEY], args=[DRAIN_BATCH]
            )
            if not raw:
                break
            hits = [hit for hit in map(_parse, raw) if hit is not None]
            store_hits(hits)
            handled += len(raw)
            if not finish(keys=[LOCK_KEY, PROCESSING_KEY], args=[token]):
                log.warning("drain lock lost; leaving the processing list to its new owner")
                break
            lock.extend(LOCK_SECONDS, replace_ttl=True)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("drain lock expired before release; a second drainer may have overlapped")
    return handled


def queued_hits() -> int:
    """Return how many hits wait in Redis (queued plus being stored)."""
    client = redis_client()
    return int(client.llen(QUEUE_KEY)) + int(client.llen(PROCESSING_KEY))
