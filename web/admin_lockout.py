"""Admin login lockout: a guess is counted before the password is checked, then decided on.

Each request that carries a password first takes a slot (one atomic Redis script: INCR and,
for a new window, EXPIRE), and only a request that got a slot has its password compared. A
right password gives its slot back, so the owner browsing the dashboard uses none; a wrong
one keeps it. A parallel burst therefore gets at most the allowed number of guesses, however
its requests interleave.

Two limits per fixed window:
- per client address (settings.admin_failed_logins_per_client): one address that guesses
  stops itself;
- for all addresses together (settings.admin_failed_logins_total). Reaching it does NOT lock
  everyone out: a few addresses could then keep the owner out of their own dashboard for as
  long as they like. Instead it slows everyone down for the rest of the window: each address
  gets SLOWED_GUESSES_PER_CLIENT guess, so the owner, typing the right password once, still
  gets in, while an attacker spread over many addresses gets one guess per address instead
  of the full allowance. One address alone never reaches the total (it is stopped at its own
  limit first, and refused requests do not count towards the total), so no single address,
  proxy included, can trigger the slow-down.

With Redis down, an in-process limiter with the same rules (held on the app, per process)
takes over: never fail open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app, request

from web.context import runtime

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300
SLOWED_GUESSES_PER_CLIENT = 1
CLIENT_KEY = "nurture:admin:guesses:client:"
TOTAL_KEY = "nurture:admin:guesses:total"
EXTENSION = "nurture_admin_lockout"
# Addresses the in-process limiter remembers at most; past that it refuses (fails closed).
LOCAL_MAX_CLIENTS = 100_000

# KEYS: client key, total key. ARGV: per client, total, slowed allowance, window seconds.
# Return 1 when the guess may be checked, 0 when it is refused. A fixed window: the expiry is
# set when the window opens, so further attempts never prolong a lockout.
_RESERVE = """
local client = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if client > tonumber(ARGV[1]) then return 0 end
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if total >= tonumber(ARGV[2]) and client > tonumber(ARGV[3]) then return 0 end
redis.call('INCR', KEYS[2])
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return 1
"""
# Give a slot back (right password); a key whose window ended is left alone.
_REFUND = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""


@dataclass
class Limits:
    """How many guesses a window allows: per client, in total, per client once over total."""

    per_client: int
    total: int
    slowed: int = SLOWED_GUESSES_PER_CLIENT


class LocalLockout:
    """The same rules in this process's memory, for when Redis cannot be reached."""

    def __init__(
        self, window_seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Count in fixed windows of WINDOW_SECONDS on CLOCK (monotonic seconds)."""
        self.window_seconds = window_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, list[float]] = {}  # address -> [window end, count]
        self._total = [0.0, 0.0]

    def _current(self, counter: list[float], now: float) -> list[float]:
        if counter[0] <= now:
            counter[0], counter[1] = now + self.window_seconds, 0
        return counter

    def reserve(self, client: str, limits: Limits) -> bool:
        """Take a guess slot for CLIENT; return whether its password may be checked."""
        with self._lock:
            now = self.clock()
            if client not in self._clients and len(self._clients) >= LOCAL_MAX_CLIENTS:
                self._clients = {k: v for k, v in self._clients.items() if v[0] > now}
                if len(self._clients) >= LOCAL_MAX_CLIENTS:
                    return False
            counter = self._current(self._clients.setdefault(client, [0.0, 0]), now)
            counter[1] += 1
            if counter[1] > limits.per_client:
                return False
            total = self._current(self._total, now)
            if total[1] >= limits.total and counter[1] > limits.slowed:
                return False
            total[1] += 1
            return True

    def refund(self, client: str) -> None:
        """Give CLIENT's slot back (the password was right)."""
        with self._lock:
            counter = self._clients.get(client)
            for each in (counter, self._total):
                if each is not None and each[1] > 0:
                    each[1] -= 1


def _local() -> LocalLockout:
    # One per app (per process), made on first use; setdefault keeps it one under threads.
    found: LocalLockout = current_app.extensions.setdefault(EXTENSION, LocalLockout())
    return found


@dataclass
class Slot:
    """A guess that may be checked; give_back() when the password was right."""

    client: str
    local: bool

    def give_back(self) -> None:
        """Return the slot, so right passwords never count towards a lockout."""
        if self.local:
            _local().refund(self.client)
            return
        try:
            client = runtime().redis
            client.register_script(_REFUND)(keys=[CLIENT_KEY + self.client, TOTAL_KEY])
        except redis.RedisError:
            log.warning("could not give back an admin login slot (redis unreachable)")


def take_slot() -> Slot | None:
    """Count this request's guess first; return a Slot to check it, or None to refuse it."""
    settings = runtime().settings
    limits = Limits(settings.admin_failed_logins_per_client, settings.admin_failed_logins_total)
    client = request.remote_addr or "unknown"
    try:
        reserve = runtime().redis.register_script(_RESERVE)
        granted = reserve(
            keys=[CLIENT_KEY + client, TOTAL_KEY],
            args=[limits.per_client, limits.total, limits.slowed, WINDOW_SECONDS],
        )
    except Exception:
        # Whatever went wrong with Redis, this process's limiter decides: never fail open.
        log.warning("redis unreachable; counting admin logins in this process")
        return Slot(client, local=True) if _local().reserve(client, limits) else None
    return Slot(client, local=False) if granted else None
