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
- Each hit carries a key that becomes the event's unique key, so storing a batch twice
  inserts nothing new and moves no counter. The key is deterministic: kind, delivery, an HMAC
  of the client's IP and user agent (and the URL of a click) and the number of the
  hit_replay_window_seconds window. Repeats of one client within a window share it, so a
  leaked pixel or link fetched 200 times counts once, with no network call on the request.
- One hit the database refuses is set aside and the rest stored (tracking.poison).
- A hit on the mail of an erased person is dropped, as the ingest drops their events (see
  tracking.ingest for why); a drain and an erase never overlap (store.erasure_lock).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import Delivery
from tracking.classify import USER_AGENT_LIMIT, in_networks, is_machine_open
from tracking.clicks import CTA_BUTTON, SCANNER_NETWORK, flag_click_patterns, judge_click
from tracking.poison import store_or_set_aside
from tracking.record import DELIVERY_COLUMNS, NewEvent, forgotten_among, store_events
from tracking.spool import Spool, ship_folder, spool_dir
from tracking.tallies import count_hits

log = logging.getLogger(__name__)

QUEUE_KEY = "nurture:tracking:hits"
PROCESSING_KEY = "nurture:tracking:hits:processing"
LOCK_KEY = "nurture:tracking:hits:lock"
# How many hits were ever pushed to QUEUE_KEY, by every process (duplicates included).
SHIPPED_KEY = "nurture:tracking:hits:shipped"
DRAIN_BATCH = 2000
LOCK_SECONDS = 120
# Hex characters of the client's HMAC in a hit's key (96 bits: no two clients collide).
HIT_DIGEST_CHARS = 24

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


class HitIntake:
    """Take in the opens and clicks of one web process: spool file, then Redis, then database.

    SCHEDULE_DRAIN asks a worker to drain the Redis queue soon; it is called when hits land
    in an empty queue (the web app wires it to the drain task).
    """

    def __init__(self, runtime: Runtime, schedule_drain: Callable[[], None] | None = None) -> None:
        """Spool into this installation's folder; nothing starts until the first hit."""
        self.runtime = runtime
        self.schedule_drain = schedule_drain
        self.spool = Spool(
            spool_dir(runtime.settings), self.push, runtime.settings.hit_ship_seconds
        )
        self._client_key = runtime.settings.secret_key.encode("utf-8")
        self._window_seconds = runtime.settings.hit_replay_window_seconds
        self._scanner_networks = [
            ipaddress.ip_network(network) for network in runtime.settings.scanner_networks
        ]

    def record(
        self,
        kind: str,
        delivery_id: int,
        user_agent: str | None,
        url: str | None = None,
        client: str | None = None,
        *,
        cta: bool = False,
    ) -> None:
        """Record an open or click of DELIVERY_ID by CLIENT (its IP): spool, Redis, database.

        CTA marks a click on the email's call-to-action button.
        """
        stamp = self.runtime.now().timestamp()
        agent = (user_agent or "")[:USER_AGENT_LIMIT]
        key = self.hit_key(delivery_id, stamp, client, agent, url)
        # The client's IP is never stored: only whether it lies in a scanner network.
        flags = SCANNER_NETWORK if in_networks(client, self._scanner_networks) else ""
        flags += CTA_BUTTON if cta else ""
        hit = [kind, delivery_id, key, stamp, agent, url or "", flags]
        line = json.dumps(hit, separators=(",", ":")).encode() + b"\n"
        try:
            self.spool.append(line)
            return
        except OSError:
            log.exception("tracking spool unwritable; pushing the %s to Redis directly", kind)
        try:
            self.push([line.rstrip(b"\n")])
        except Exception:
            # Redis and the database both down: the visitor still gets the GIF or redirect.
            log.exception(
                "could not record a %s of delivery %s",
                kind,
                delivery_id,
                extra={"delivery_id": delivery_id},
            )

    def hit_key(
        self,
        delivery_id: int,
        stamp: float,
        client: str | None,
        user_agent: str,
        url: str | None,
    ) -> str:
        """Name a hit so that one client's repeats within one window share the name."""
        window = int(stamp // self._window_seconds)
        # An HMAC, not the IP itself: the key is stored with the event for good.
        who = "\n".join((client or "", user_agent, url or "")).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._client_key, who, hashlib.sha256).hexdigest()[:HIT_DIGEST_CHARS]
        return f"{delivery_id}:{window}:{digest}"

    def push(self, lines: Sequence[bytes]) -> None:
        """Queue encoded hits in Redis (or store them), and have the queue drained soon."""
        if push_lines(self.runtime, lines) and self.schedule_drain is not None:
            try:
                self.schedule_drain()
            except Exception:
                log.warning("could not schedule a drain; the next dispatcher pass drains it")


def push_lines(runtime: Runtime, lines: Sequence[bytes]) -> bool:
    """Append encoded hits to the Redis queue, or store them if Redis is down.

    Return True when the queue was empty before (so a drain should be scheduled).
    """
    try:
        # One round trip: the hits, and the count of hits ever shipped (for /metrics).
        pipe = runtime.redis.pipeline(transaction=False)
        pipe.rpush(QUEUE_KEY, *lines)
        pipe.incrby(SHIPPED_KEY, len(lines))
        length = pipe.execute()[0]
    except redis.RedisError:
        # If the push did land (a timeout after sending), the drain later finds the same hit
        # ids already stored and inserts nothing: no double count either way.
        log.warning("redis unreachable; storing %s hits directly in the database", len(lines))
        parsed = [hit for hit in map(_parse, lines) if hit is not None]
        store_or_set_aside(runtime, parsed, store_hits)
        return False
    return bool(length == len(lines))


def _parse(raw: bytes | str) -> list[Any] | None:
    try:
        hit = json.loads(raw)
    except ValueError:
        return None
    # Anything malformed is dropped here: one bad entry must not jam the queue for good.
    # Six fields (hits spooled before flags existed) or seven.
    if not (isinstance(hit, list) and len(hit) in (6, 7) and hit[0] in {"open", "click"}):
        return None
    _kind, delivery_id, hit_id, stamp, user_agent, url, *rest = hit
    if not (
        isinstance(delivery_id, int)
        and 0 < delivery_id < 2**63
        and isinstance(hit_id, str)
        and isinstance(stamp, int | float)
        and 0 < stamp < 1e11  # a unix time datetime can hold
        and isinstance(user_agent, str)
        and isinstance(url, str)
        and all(isinstance(flag, str) for flag in rest)
    ):
        return None
    return hit


def store_hits(runtime: Runtime, hits: Sequence[list[Any]]) -> int:
    """Store HITS as events and move the delivery counters; return how many were new."""
    ids = {hit[1] for hit in hits}
    with runtime.session() as session:
        # First: an erase under way finishes before we read who is forgotten.
        hold_for_recording(session)
        deliveries = {
            row.id: row for row in session.query(*DELIVERY_COLUMNS).filter(Delivery.id.in_(ids))
        }
        erased = forgotten_among(session, {row.subscriber_id for row in deliveries.values()})
        events = []
        for kind, delivery_id, hit_id, stamp, user_agent, url, *rest in hits:
            delivery = deliveries.get(delivery_id)
            if delivery is None:
                continue  # signed for a delivery since deleted: nothing to count against
            if delivery.subscriber_id in erased:
                continue  # nothing new may point at an erased person
            occurred_at = datetime.fromtimestamp(stamp, UTC)
            flags = rest[0] if rest else ""
            if kind == "open":
                source = "pixel"
                machine = SCANNER_NETWORK in flags or is_machine_open(
                    user_agent, occurred_at, delivery.delivered_at or delivery.sent_at
                )
            else:
                machine, source = judge_click(
                    runtime, delivery, user_agent, url, occurred_at, flags
                )
            events.append(
                NewEvent(
                    kind=kind,
                    source=source,
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
        fresh = store_events(session, events, runtime.now())
        # Scanners show across an email's clicks (a burst, the trap), in any order of arrival.
        flag_click_patterns(session, fresh)
        count_hits(session, fresh)  # for /metrics (tracking.tallies)
        return len(fresh)


def drain_hits(runtime: Runtime, max_hits: int = 100_000) -> int:
    """Store queued hits in batches until the queue is empty; return how many were handled.

    A batch is stored in one transaction; if the database refuses it, hit by hit, and the
    hits it still refuses are set aside (tracking.poison) rather than block the queue.
    """
    try:
        # This host's spooled hits (of web processes that died, say) join the queue first.
        ship_folder(spool_dir(runtime.settings), lambda lines: push_lines(runtime, lines))
    except Exception:
        log.exception("shipping the local tracking spool failed; the spool timer retries")
    client = runtime.redis
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
            # A hit the database refuses is set aside, so the queue behind it keeps flowing.
            store_or_set_aside(runtime, hits, store_hits)
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


def queued_hits(runtime: Runtime) -> int:
    """Return how many hits wait in Redis (queued plus being stored)."""
    client = runtime.redis
    return int(client.llen(QUEUE_KEY)) + int(client.llen(PROCESSING_KEY))
