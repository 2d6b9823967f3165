"""The circuit breaker: while the provider is down, hold sends and probe with one small batch.

Without it, a SendGrid outage of hours makes every queued row fail again and again on its own
backoff (13 to 25 tries each over six hours). With it:
- each provider request that fails with a 5xx or a broken connection adds one to a count of
  failures in a row; any answer from the provider (an accepted mail, or a refusal such as a
  400 or 429) resets it;
- at breaker_failures in a row the breaker opens: the dispatcher stops enqueueing (due
  lessons stay due, queued rows stay queued, so nothing is lost) and, every probe interval,
  enqueues one small batch (PROBE_SIZE) to ask the provider again. The interval starts at
  breaker_probe_seconds and doubles up to MAX_PROBE_FACTOR times that, so a long outage
  costs a few dozen requests;
- the first request that gets through closes it, and the outage (when it began and ended)
  is kept for the clinic's alert (tasks.alerts mails it once and clears it).

State lives in one Redis hash, shared by every worker and dispatcher, and times are the
runtime clock's, so tests move through an outage on a frozen clock. The scripts keep each
change atomic across processes. If Redis is unreachable the breaker counts as closed: the
rows' own backoff still applies, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from providers.base import RetryableSendError
from runtime import Runtime

log = logging.getLogger(__name__)

KEY = "nurture:breaker"
# The last outage once the breaker closed again: opened_at and closed_at, for the alert.
LAST_OUTAGE_KEY = "nurture:breaker:last_outage"
# Kept a week: an alert that could not be raised in that time is moot.
LAST_OUTAGE_SECONDS = 7 * 86400
# Deliveries in a probe: enough to show the provider takes mail, few enough to cost little.
PROBE_SIZE = 5
MAX_PROBE_FACTOR = 16

CLOSED = "closed"
HOLD = "hold"
PROBE = "probe"

# ARGV: now, threshold, first probe wait. Returns 1 when this failure opened the breaker.
_FAILED = """
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if n >= tonumber(ARGV[2]) and redis.call('HEXISTS', KEYS[1], 'opened_at') == 0 then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[1],
             'probe_at', tonumber(ARGV[1]) + tonumber(ARGV[3]), 'probe_wait', ARGV[3])
  return 1
end
return 0
"""
# Returns when the breaker had opened ('' when it was closed), and clears it.
_SUCCEEDED = """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DEL', KEYS[1]) end
return opened or ''
"""
# ARGV: now, longest wait. Returns -1 closed, 0 hold, 1 probe now (and sets the next probe).
_GATE = """
local probe_at = redis.call('HGET', KEYS[1], 'probe_at')
if not probe_at then return -1 end
if tonumber(ARGV[1]) < tonumber(probe_at) then return 0 end
local wait = tonumber(redis.call('HGET', KEYS[1], 'probe_wait'))
redis.call('HSET', KEYS[1], 'probe_at', tonumber(ARGV[1]) + wait,
           'probe_wait', math.min(wait * 2, tonumber(ARGV[2])))
return 1
"""


@dataclass(frozen=True)
class Outage:
    """A stretch of time the breaker was open."""

    opened_at: datetime
    closed_at: datetime


def _stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _moment(value: bytes | str) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def record_outcome(runtime: Runtime, *, reached: bool) -> None:
    """Count one provider request: REACHED (any answer) closes, a 5xx or no connection adds."""
    now = runtime.now()
    settings = runtime.settings
    try:
        if reached:
            opened = runtime.redis.eval(_SUCCEEDED, 1, KEY)
            if opened:
                outage = {"opened_at": opened, "closed_at": _stamp(now)}
                runtime.redis.hset(LAST_OUTAGE_KEY, mapping=outage)  # type: ignore[arg-type]
                runtime.redis.expire(LAST_OUTAGE_KEY, LAST_OUTAGE_SECONDS)
                log.warning("the mail provider answers again; held sends resume")
            return
        args = (_stamp(now), settings.breaker_failures, settings.breaker_probe_seconds)
        if runtime.redis.eval(_FAILED, 1, KEY, *args):
            log.error(
                "the mail provider failed %s requests in a row; sends are held, probing",
                settings.breaker_failures,
            )
    except redis.RedisError as exc:
        log.warning("circuit breaker not updated: redis unreachable (%s)", type(exc).__name__)


def gate(runtime: Runtime) -> str:
    """Tell the dispatcher what it may send now: CLOSED (all), HOLD (nothing) or PROBE."""
    longest = runtime.settings.breaker_probe_seconds * MAX_PROBE_FACTOR
    try:
        answer = int(runtime.redis.eval(_GATE, 1, KEY, _stamp(runtime.now()), longest))
    except redis.RedisError:
        return CLOSED
    return {-1: CLOSED, 0: HOLD, 1: PROBE}[answer]


def open_since(runtime: Runtime) -> datetime | None:
    """Return when the breaker opened, or None while it is closed (raises if Redis is down)."""
    value = runtime.redis.hget(KEY, "opened_at")
    return _moment(value) if value else None


def last_outage(runtime: Runtime) -> Outage | None:
    """Return the last outage not yet reported (raises redis.RedisError if Redis is down)."""
    raw = runtime.redis.hgetall(LAST_OUTAGE_KEY)
    if b"opened_at" not in raw or b"closed_at" not in raw:
        return None
    return Outage(_moment(raw[b"opened_at"]), _moment(raw[b"closed_at"]))


def forget_outage(runtime: Runtime) -> None:
    """Drop the last outage once its alert is raised."""
    runtime.redis.delete(LAST_OUTAGE_KEY)


def provider_down(results: Sequence[object]) -> bool:
    """Tell whether RESULTS (one request's) all say the provider is down: 5xx or no answer."""
    return bool(results) and all(
        isinstance(result, RetryableSendError) and (result.status or 500) >= 500
        for result in results
    )
