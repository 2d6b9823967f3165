"""POST /webhooks/sendgrid: verify, store the raw batch in one insert, answer fast, apply later.

Verification and parsing are the provider's (providers.sendgrid.webhook); this blueprint
reads the body within its size limit, stores it, and queues its ingest.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from providers.sendgrid.webhook import WebhookRefused
from store.models import WebhookBatch
from tasks.tracking import ingest_webhook_batch
from web.context import celery, runtime

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


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
        log.warning("batch %s stored, not queued (%s); the dispatcher applies it", batch_id, exc)


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
    with nurture.session() as session:
        batch = WebhookBatch(body=events, received_at=nurture.now())
        session.add(batch)
        session.flush()
        batch_id = batch.id
    _enqueue(batch_id)
    return jsonify(stored=len(events), batch=batch_id), 200
