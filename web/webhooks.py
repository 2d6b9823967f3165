"""POST /webhooks/sendgrid: verify, store the raw batch in one insert, answer fast, apply later.

Verification and parsing are the provider's (providers.sendgrid.webhook); this blueprint
reads the body within its size limit, stores it, and queues its ingest. An exact replay of a
signed POST within its timestamp window is acknowledged and not stored again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from providers.sendgrid.webhook import WebhookRefused
from store.models import WebhookBatch
from tasks.tracking import ingest_webhook_batch
from tracking.tallies import count_batch_received
from web.context import celery, runtime

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

# Redis keys of the signed POSTs taken within the timestamp window (replays are acknowledged).
SEEN_PREFIX = "nurture:webhook:seen:"


def _read_body(max_bytes: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise WebhookRefused(413, f"body larger than {max_bytes} bytes")
    # Cap the read too: a chunked body has no Content-Length to check.
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise WebhookRefused(413, f"body larger than {max_bytes} bytes")
    return body


def _enqueue(batch_id: int) -> None:
    try:
        # retry=False: with Redis down, fail at once; the dispatcher ingests the batch.
        celery().send_task(ingest_webhook_batch.name, args=(batch_id,), retry=False)
    except Exception as exc:
        log.warning(
            "batch %s stored, not queued (%s); the dispatcher applies it",
            batch_id,
            exc,
            extra={"batch_id": batch_id},
        )


def _first_time(key: str) -> bool:
    """Remember KEY for the timestamp window; tell whether it was new.

    A timestamp is accepted from max_age before it to max_age after it, so a POST stays
    replayable for twice max_age: the key lives that long. With Redis down, store anyway:
    events are deduplicated on their own keys, so a replay then adds a batch, not a count.
    """
    window = 2 * runtime().settings.webhook_max_age_seconds
    try:
        return bool(runtime().redis.set(SEEN_PREFIX + key, 1, nx=True, ex=window))
    except Exception as exc:
        log.warning("could not check for a replayed webhook batch (%s); storing it", exc)
        return True


def _forget_seen(key: str) -> None:
    try:
        runtime().redis.delete(SEEN_PREFIX + key)
    except Exception as exc:
        log.warning("could not forget a webhook batch that was not stored (%s)", exc)


@bp.post("/webhooks/sendgrid")
def sendgrid_events() -> ResponseReturnValue:
    """Accept a SendGrid Event Webhook POST: verify, store once, queue processing."""
    nurture = runtime()
    try:
        raw = _read_body(nurture.settings.webhook_max_bytes)
        events = nurture.webhooks.events(raw, request.headers)
    except WebhookRefused as refused:
        return jsonify(error=refused.message), refused.status
    if not events:
        return jsonify(stored=0), 200
    seen_key = nurture.webhooks.replay_key(raw, request.headers)
    if seen_key is not None and not _first_time(seen_key):
        # An exact replay (or SendGrid retrying a POST we already took): acknowledged, so
        # nobody retries it, and stored no second time.
        return jsonify(stored=0, replay=True), 200
    try:
        with nurture.session() as session:
            batch = WebhookBatch(body=events, received_at=nurture.now())
            session.add(batch)
            session.flush()
            batch_id = batch.id
            count_batch_received(session)  # for /metrics: bodies are deleted after a week
    except Exception:
        if seen_key is not None:
            _forget_seen(seen_key)  # not stored: SendGrid's retry must be taken
        raise
    _enqueue(batch_id)
    return jsonify(stored=len(events), batch=batch_id), 200
