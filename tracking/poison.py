"""The poison rule for opens and clicks: one hit the database refuses never blocks the rest.

A batch of hits is stored in one transaction. If that fails for anything but an unreachable
database, the batch is stored again hit by hit; a hit that still fails is set aside (kept in
a short Redis list for a look, logged, and counted anonymously) and the others are stored.
An unreachable or busy database is no fault of a hit: the error goes up and the batch stays
queued for the next drain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import exc as sql_errors

from runtime import Runtime
from subscribers.counters import increment

log = logging.getLogger(__name__)

POISON_KEY = "nurture:tracking:hits:poison"
POISON_KEEP = 1000  # the newest set-aside hits kept in Redis; the counter keeps the total
POISON_COUNTER = "tracking.poison_hits"
# The database is down, locked or out of connections: try the whole batch again later.
UNAVAILABLE = (sql_errors.OperationalError, sql_errors.InterfaceError, sql_errors.TimeoutError)

Hit = list[Any]


def store_or_set_aside(
    runtime: Runtime, hits: Sequence[Hit], store: Callable[[Runtime, Sequence[Hit]], int]
) -> int:
    """Store HITS with STORE in one go, else one by one setting failures aside; return new."""
    if not hits:
        return 0
    try:
        return store(runtime, hits)
    except UNAVAILABLE:
        raise
    except Exception:
        log.warning("storing %s hits at once failed; storing them one by one", len(hits))
    stored = 0
    for hit in hits:
        try:
            stored += store(runtime, [hit])
        except UNAVAILABLE:
            raise
        except Exception as error:
            set_aside(runtime, hit, error)
    return stored


def set_aside(runtime: Runtime, hit: Hit, error: Exception) -> None:
    """Keep HIT out of the way: log it, count it, and park it in Redis if Redis is there."""
    kind, delivery_id = (hit[0], hit[1]) if len(hit) > 1 else ("?", "?")
    # No user agent or URL in the log line: they may say who the reader is.
    log.error(
        "set aside a %s hit of delivery %s the database refused: %s",
        kind,
        delivery_id,
        type(error).__name__,
    )
    try:
        with runtime.session() as session:
            increment(session, POISON_COUNTER)
    except Exception:
        log.exception("could not count a hit that was set aside")
    try:
        pipe = runtime.redis.pipeline()
        pipe.lpush(POISON_KEY, json.dumps(hit, ensure_ascii=True))
        pipe.ltrim(POISON_KEY, 0, POISON_KEEP - 1)
        pipe.execute()
    except Exception:
        log.warning("could not park a set-aside hit in Redis; it is logged and counted")
