"""SendGrid's Event Webhook: verify a POST, parse its events, scrub personal data from them.

Verification checks the signed ECDSA signature over timestamp + the exact bytes received
(a trailing CRLF is part of what is signed) and the timestamp's age; the official library
does the cryptography. Parsing turns SendGrid's event dialect into ProviderEvents.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from providers.events import ProviderEvent
from providers.sendgrid.contract import (
    COURSE_ARG,
    DAY_ARG,
    DELIVERY_ID_ARG,
    SUBSCRIBER_ID_ARG,
    as_id,
)
from store.clock import Clock

log = logging.getLogger(__name__)

# Personal data in a raw event; dropped from a kept batch once processed.
PERSONAL_FIELDS = ("email", "ip")
ERASED = "[erased]"


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (Werkzeug's Headers, say)."""

    def get(self, key: str, default: str) -> str:
        """Return the header's value, or DEFAULT."""
        ...


class WebhookRefused(Exception):
    """The request is not a webhook we may accept; carries the HTTP status and a message."""

    def __init__(self, status: int, message: str) -> None:
        """Keep STATUS and MESSAGE for the response."""
        super().__init__(message)
        self.status = status
        self.message = message


class WebhookVerifier:
    """Accept only POSTs signed with the configured key, within the allowed clock skew."""

    def __init__(
        self, public_key: str, *, max_age_seconds: int, insecure_dev: bool, clock: Clock
    ) -> None:
        """Keep the verification key (base64 DER), the age limit and the clock."""
        self.public_key = public_key.strip()
        self.max_age_seconds = max_age_seconds
        self.insecure_dev = insecure_dev
        self.clock = clock
        self._verifier: EventWebhook | None = None

    def events(self, raw: bytes, headers: Headers) -> list[dict[str, Any]]:
        """Return the events of a verified POST body, or raise WebhookRefused."""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRefused(400, "body is not UTF-8") from None
        self._check_signature(body, headers)
        return _parse_body(body)

    def _check_signature(self, body: str, headers: Headers) -> None:
        if not self.public_key:
            if self.insecure_dev:
                return
            raise WebhookRefused(
                403,
                "webhook refused: NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is not set "
                "(NURTURE_WEBHOOK_INSECURE_DEV=true accepts unsigned events, for development only)",
            )
        signature = headers.get(EventWebhookHeader.SIGNATURE, "")
        timestamp = headers.get(EventWebhookHeader.TIMESTAMP, "")
        if not signature or not timestamp:
            raise WebhookRefused(403, "missing signature or timestamp header")
        try:
            age = abs(self.clock().timestamp() - int(timestamp))
        except ValueError:
            raise WebhookRefused(403, "timestamp header is not unix seconds") from None
        if age > self.max_age_seconds:
            raise WebhookRefused(403, "timestamp too old or too far ahead (replayed or clock skew)")
        try:
            if self._verifier is None:
                self._verifier = EventWebhook(self.public_key)
            verifier = self._verifier
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


def _parse_body(body: str) -> list[dict[str, Any]]:
    try:
        events = json.loads(body)
    except ValueError:
        raise WebhookRefused(400, "body is not valid JSON") from None
    if not isinstance(events, list):
        raise WebhookRefused(400, "body must be a JSON array of events")
    if not all(isinstance(event, dict) for event in events):
        raise WebhookRefused(400, "every event must be a JSON object")
    return events


def _as_text(value: Any, limit: int | None = None) -> str | None:
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:limit] if limit else text


def _event_key(event: dict[str, Any]) -> str:
    key = event.get("sg_event_id")
    if isinstance(key, str) and key:
        return key[:100]
    # No id from SendGrid: the event's own content identifies a replay of it.
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:64]}"


def _occurred_at(event: dict[str, Any], clock: Clock) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return clock()


def _reason(event: dict[str, Any]) -> str | None:
    names = ("type", "bounce_classification", "reason", "response")
    parts = [_as_text(event.get(name)) for name in names]
    text = " | ".join(part for part in parts if part)
    return text[:2000] or None


def _message_id(event: dict[str, Any]) -> str | None:
    # sg_message_id is "<X-Message-Id>.filter…"; the part before the first dot is ours.
    value = event.get("sg_message_id")
    return value.split(".", 1)[0] if isinstance(value, str) and value else None


def _email(event: dict[str, Any]) -> str | None:
    value = event.get("email")
    return value.strip().lower() or None if isinstance(value, str) else None


def parse_events(body: Any, clock: Clock) -> list[ProviderEvent]:
    """Turn one stored webhook body into ProviderEvents; malformed entries are skipped."""
    raw = [event for event in body if isinstance(event, dict)] if isinstance(body, list) else []
    events = []
    for event in raw:
        kind = (_as_text(event.get("event"), 30) or "unknown").lower()
        day = event.get(DAY_ARG)
        events.append(
            ProviderEvent(
                kind=kind,
                key=_event_key(event),
                occurred_at=_occurred_at(event, clock),
                delivery_id=as_id(event.get(DELIVERY_ID_ARG)),
                subscriber_id=as_id(event.get(SUBSCRIBER_ID_ARG)),
                course=_as_text(event.get(COURSE_ARG), 100),
                day=as_id(day) if day is not None else None,
                message_id=_message_id(event),
                email=_email(event),
                machine_open=bool(event.get("sg_machine_open")),
                user_agent=_as_text(event.get("useragent"), 500),
                url=_as_text(event.get("url")) if kind == "click" else None,
                reason=_reason(event),
            )
        )
    return events


def without_personal_data(body: Any, email: str | None = None) -> Any:
    """Return BODY without its personal fields, and with any value naming EMAIL erased.

    Processed batches keep no address or IP; forgetting a subscriber also erases their
    address wherever a provider quoted it (bounce reasons often do).
    """
    if isinstance(body, list):
        return [without_personal_data(item, email) for item in body]
    if isinstance(body, dict):
        return {
            key: without_personal_data(value, email)
            for key, value in body.items()
            if key not in PERSONAL_FIELDS
        }
    if email and isinstance(body, str) and email.lower() in body.lower():
        return ERASED
    return body
