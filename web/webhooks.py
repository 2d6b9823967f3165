"""POST /webhooks/sendgrid: verify, store the raw batch in one insert, answer fast, apply later."""

from __future__ import annotations

import binascii
import json
import logging
from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from store.clock import utcnow
from store.db import session_scope
from store.models import WebhookBatch
from web.app import nurture_settings

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


class WebhookRefused(Exception):
    """The request is not a webhook we may accept; carries the status and a message."""

    def __init__(self, status: int, message: str) -> None:
        """Keep STATUS and MESSAGE for the response."""
        super().__init__(message)
        self.status = status
        self.message = message


@lru_cache(maxsize=4)
def _verifier(public_key: str) -> EventWebhook:
    return EventWebhook(public_key.strip())


def _read_body(max_bytes: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise WebhookRefused(413, f"body larger than {max_bytes} bytes")
    # Cap the read too: a chunked body has no Content-Length to check.
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise WebhookRefused(413, f"body larger than {max_bytes} bytes")
    return body


def _check_signature(body: str) -> None:
    settings = nurture_settings(current_app)
    if not settings.sendgrid_webhook_public_key:
        if settings.webhook_insecure_dev:
            return
        raise WebhookRefused(
            403,
            "webhook refused: NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is not set "
            "(NURTURE_WEBHOOK_INSECURE_DEV=true accepts unsigned events, for development only)",
        )
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not signature or not timestamp:
        raise WebhookRefused(403, "missing signature or timestamp header")
    try:
        age = abs(utcnow().timestamp() - int(timestamp))
    except ValueError:
        raise WebhookRefused(403, "timestamp header is not unix seconds") from None
    if age > settings.webhook_max_age_seconds:
        raise WebhookRefused(403, "timestamp too old or too far ahead (replayed or clock skew)")
    try:
        verifier = _verifier(settings.sendgrid_webhook_public_key)
    except (ValueError, TypeError) as exc:
        log.error("NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key: %s", exc)
        # Not 2xx, so SendGrid keeps retrying until the key is fixed: no event lost.
        raise WebhookRefused(503, "webhook public key misconfigured on our side") from None
    try:
        valid = verifier.verify_signature(body, signature, timestamp)
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise WebhookRefused(403, "bad signature")


def _parse_events(body: str) -> list[dict[str, Any]]:
    try:
        events = json.loads(body)
    except ValueError:
        raise WebhookRefused(400, "body is not valid JSON") from None
    if not isinstance(events, list):
        raise WebhookRefused(400, "body must be a JSON array of events")
    if not all(isinstance(event, dict) for event in events):
        raise WebhookRefused(400, "every event must be a JSON object")
    return events


def _enqueue(batch_id: int) -> None:
    try:
        from tasks.app import celery_app  # noqa: F401  (sets the configured app as default)
        from tasks.webhooks import process_webhook_batch

        # retry=False: with Redis down, fail at once; the dispatcher picks the batch up.
        process_webhook_batch.apply_async((batch_id,), retry=False)
    except Exception as exc:
        log.warning("batch %s stored, not queued (%s); the dispatcher applies it", batch_id, exc)


@bp.post("/webhooks/sendgrid")
def sendgrid_events() -> ResponseReturnValue:
    """Accept a SendGrid Event Webhook POST: verify, store once, queue processing."""
    settings = nurture_settings(current_app)
    try:
        raw = _read_body(settings.webhook_max_bytes)
        try:
            # Verify exactly the bytes received: a trailing \r\n is part of what is signed.
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRefused(400, "body is not UTF-8") from None
        _check_signature(body)
        events = _parse_events(body)
    except WebhookRefused as refused:
        return jsonify(error=refused.message), refused.status
    if not events:
        return jsonify(stored=0), 200
    with session_scope() as session:
        batch = WebhookBatch(body=events, received_at=utcnow())
        session.add(batch)
        session.flush()
        batch_id = batch.id
    _enqueue(batch_id)
    return jsonify(stored=len(events), batch=batch_id), 200
