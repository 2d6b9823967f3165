"""When a failed send may be tried again: exponential backoff with full jitter.

Retries live in the database, not in Redis: a failed send goes back to 'queued' with a
`not_before` time, and the dispatcher enqueues it again once that time has passed. So a
SendGrid outage of hours only makes rows wait; nothing sits in Redis as a long countdown
(which Redis would redeliver after the visibility timeout) and a restart loses nothing.
A row gives up by time as well as by tries, as a mail server's queue lifetime does: with
waits capped at an hour and fully jittered, twelve tries last only about 2.5 hours.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from config import Settings


def backoff_seconds(
    attempts: int,
    settings: Settings,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Return how long to wait after the ATTEMPTS-th failed try (full jitter, capped).

    Full jitter spreads a burst of failures (a 429 storm) over the whole window instead of
    sending them back in lockstep. The provider's own Retry-After or X-RateLimit-Reset is a
    floor: never come back earlier than it asked.
    """
    exponent = min(max(attempts - 1, 0), 32)  # 2**32 × base is far past any cap
    ceiling = min(
        settings.retry_backoff_max_seconds, settings.retry_backoff_base_seconds * 2**exponent
    )
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


def retry_not_before(
    now: datetime,
    attempts: int,
    settings: Settings,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Return the earliest time the next try may run."""
    delay = backoff_seconds(attempts, settings, retry_after=retry_after, rng=rng)
    return now + timedelta(seconds=delay)


def attempts_exhausted(attempts: int, settings: Settings) -> bool:
    """Tell whether ATTEMPTS tries used up settings.max_send_attempts."""
    return attempts >= settings.max_send_attempts


def retry_window_over(queued_at: datetime, now: datetime, settings: Settings) -> bool:
    """Tell whether a row queued at QUEUED_AT has been retried for retry_window_hours."""
    return now - queued_at >= timedelta(hours=settings.retry_window_hours)
