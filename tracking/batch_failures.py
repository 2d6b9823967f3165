"""Set aside a webhook batch that keeps failing, so it never blocks the batches behind it.

Poison input (a body the driver cannot load, a value the database refuses) fails the same
way on every try. Each failure of a batch is counted in Redis; at the POISON_STRIKES'th the
batch is marked processed without its events, with a log line and an anonymous counter,
and the rest flows on. Its body stays (scrubbed of personal data when it can be read) for
a look until the retention job deletes it. Failures of the connection rather than of the
batch (the database gone, a deadlock) are not counted: the batch stays pending.

Setting aside reads the body and writes it back scrubbed in one transaction, under the
shared erasure lock (store.erasure_lock), like the ingest: an erase that took a person's
events out of the body in between would otherwise be overwritten by the old body.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import redis
from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from config.logs import redact
from providers.sendgrid.scrub import without_personal_data
from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import WebhookBatch
from subscribers import counters

log = logging.getLogger(__name__)

# Tries before a batch is set aside: a one-off clash (a row deleted meanwhile) gets retried.
POISON_STRIKES = 3
STRIKES_KEY = "nurture:webhook-batch-failures:{}"
# A count outlives any retry schedule, and goes away with the batch it was about.
STRIKES_TTL_SECONDS = 7 * 24 * 3600
# The anonymous counter (subscribers.counters) of batches set aside.
SET_ASIDE_COUNTER = "tracking.poison_webhook_batches"
# Errors of the connection or the moment, not of the batch: a later try may well succeed.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)


def record_failure(runtime: Runtime, batch_id: int, error: BaseException) -> bool:
    """Count a failed ingest of BATCH_ID and set it aside at the last strike; True if so.

    Never raises: the caller goes on with the original error and the batches behind it.
    """
    if isinstance(error, TRANSIENT_ERRORS):
        log.warning(
            "webhook batch %s not ingested now (%s); it stays pending",
            batch_id,
            redact(str(error)),
            extra={"batch_id": batch_id},
        )
        return False
    try:
        key = STRIKES_KEY.format(batch_id)
        pipe = runtime.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, STRIKES_TTL_SECONDS)
        strikes = int(pipe.execute()[0])
    except redis.RedisError as exc:
        log.error(
            "webhook batch %s failed (%s); it stays pending (failures not counted: %s)",
            batch_id,
            redact(repr(error)),
            exc,
            extra={"batch_id": batch_id},
        )
        return False
    if strikes < POISON_STRIKES:
        log.error(
            "webhook batch %s failed (%d of %d tries): %s",
            batch_id,
            strikes,
            POISON_STRIKES,
            redact(repr(error)),
            extra={"batch_id": batch_id},
        )
        return False
    try:
        set_aside(runtime, batch_id)
    except Exception:
        log.exception("webhook batch %s could not be set aside; it stays pending", batch_id)
        return False
    log.error(
        "webhook batch %s set aside after %d failed tries (%s); its events are not stored, "
        "its body is kept until the retention job deletes it",
        batch_id,
        strikes,
        redact(repr(error)),
        extra={"batch_id": batch_id},
    )
    with contextlib.suppress(redis.RedisError):  # else the count expires on its own
        runtime.redis.delete(key)
    return True


def set_aside(runtime: Runtime, batch_id: int) -> bool:
    """Mark BATCH_ID processed without its events and count it; False if already processed."""
    with runtime.session() as session:
        # First: an erase under way finishes before we read the body, and none starts
        # before the scrubbed body is written back.
        hold_for_recording(session)
        pending = session.scalar(
            select(WebhookBatch.id)
            .where(WebhookBatch.id == batch_id, WebhookBatch.processed_at.is_(None))
            .with_for_update()
        )
        if pending is None:
            return False  # ingested (or set aside) by someone else meanwhile
        values: dict[str, Any] = {"processed_at": runtime.now()}
        readable, body = _scrubbed_body(session, batch_id)
        if readable:
            values["body"] = body
        session.execute(
            update(WebhookBatch)
            .where(WebhookBatch.id == batch_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        counters.increment(session, SET_ASIDE_COUNTER)
    return True


def _scrubbed_body(session: Session, batch_id: int) -> tuple[bool, Any]:
    """Return (True, the body without personal data), or (False, None) if it can't be read."""
    try:
        # A savepoint: a body the database itself refuses to hand over leaves the rest usable.
        with session.begin_nested():
            body = session.scalar(select(WebhookBatch.body).where(WebhookBatch.id == batch_id))
        return True, without_personal_data(body)
    except Exception:
        # A body the driver cannot load (nested past the parser's limit, say) stays as is.
        return False, None
