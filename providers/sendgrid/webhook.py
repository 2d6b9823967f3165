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

from providers.events import Failure, ProviderEvent
from providers.sendgrid.contract import (
    COURSE_ARG,
    DAY_ARG,
    DELIVERY_ID_ARG,
    SUBSCRIBER_ID_ARG,
    as_id,
)
from store.clock import Clock

log = logging.getLogger(__name__)

# Lists and objects inside each other in a body: SendGrid's array of events with a category
# list is three; far deeper is refused.
MAX_BODY_DEPTH = 16
# email_events.day is a 32-bit integer column; a larger "day" is no lesson of ours.
MAX_DAY = 2**31 - 1


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

    def key_problem(self) -> str | None:
        """Return why no signed event can be verified (no key, or not a key), or None."""
        if not self.public_key:
            return "is not set"
        try:
            EventWebhook(self.public_key)
        except (ValueError, TypeError) as exc:
            return f"is not a valid public key ({type(exc).__name__})"
        return None

    def events(self, raw: bytes, headers: Headers) -> list[dict[str, Any]]:
        """Return the events of a verified POST body, or raise WebhookRefused."""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRefused(400, "body is not UTF-8") from None
        self._check_signature(body, headers)
        return _parse_body(body)

    def replay_key(self, raw: bytes, headers: Headers) -> str | None:
        """Name what a verified POST signed (timestamp + body); None when unsigned.

        Keyed on what the signature covers, not on the signature's bytes: an ECDSA signature
        can be re-encoded, so a replay with an altered signature still gets the same key.
        """
        timestamp = headers.get(EventWebhookHeader.TIMESTAMP, "")
        if not self.public_key or not timestamp:
            return None
        return hashlib.sha256(timestamp.encode() + b"\n" + raw).hexdigest()

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


def _nesting_depth(value: Any) -> int:
    """Return how deeply VALUE's lists and objects nest (a scalar is 0), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _parse_body(body: str) -> list[dict[str, Any]]:
    try:
        events = json.loads(body)
    except ValueError:
        raise WebhookRefused(400, "body is not valid JSON") from None
    except RecursionError:
        # The parser gives up on deep nesting with RecursionError, which is no ValueError.
        raise WebhookRefused(400, "body is nested too deeply") from None
    # SendGrid's events nest three levels at most; anything deeper is not theirs, and would
    # only give the recursive steps after this one (erasure, storage) a stack to overflow.
    if _nesting_depth(events) > MAX_BODY_DEPTH:
        raise WebhookRefused(400, "body is nested too deeply")
    if not isinstance(events, list):
        raise WebhookRefused(400, "body must be a JSON array of events")
    if not all(isinstance(event, dict) for event in events):
        raise WebhookRefused(400, "every event must be a JSON object")
    return events


def _storable(text: str) -> str:
    """Return TEXT as every database stores it: no NUL, no lone surrogate (JSON allows both).

    PostgreSQL refuses NUL in text, and neither driver can encode half of a surrogate pair
    as UTF-8; one such value would fail the whole batch it came in.
    """
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _as_text(value: Any, limit: int | None = None) -> str | None:
    if value is None or value == "":
        return None
    text = _storable(value if isinstance(value, str) else json.dumps(value))
    return (text[:limit] if limit else text) or None


def _day(value: Any) -> int | None:
    day = as_id(value) if value is not None else None
    return day if day is not None and day <= MAX_DAY else None


def event_key(event: dict[str, Any]) -> str:
    """Return the key that identifies EVENT, so a replay of it is stored only once."""
    key = event.get("sg_event_id")
    if isinstance(key, str) and _storable(key):
        return _storable(key)[:100]
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


# Drop reasons that are about the address itself (SendGrid's own suppression lists); the
# others (spam content, a bad SMTPAPI header, quota) say nothing about the person.
DROPPED_FAILURES = {
    "bounced address": Failure.HARD,
    "invalid": Failure.HARD,
    "spam reporting address": Failure.COMPLAINT,
}


def _failure(kind: str, event: dict[str, Any]) -> str | None:
    """Classify what a bounce, drop or spam report says about the address."""
    if kind == "bounce":
        # type "blocked": the receiving server refused for now (policy, reputation, a full
        # box), so it may take mail later; "bounce" (or no type) is permanent. A "deferred"
        # event is a separate kind: SendGrid is still retrying, nothing failed yet.
        kind_of_bounce = (_as_text(event.get("type"), 30) or "").lower()
        return Failure.SOFT if kind_of_bounce == "blocked" else Failure.HARD
    if kind == "dropped":
        return DROPPED_FAILURES.get((_as_text(event.get("reason"), 100) or "").strip().lower())
    if kind == "spamreport":
        return Failure.COMPLAINT
    return None


def _message_id(event: dict[str, Any]) -> str | None:
    # sg_message_id is "<X-Message-Id>.filter…"; the part before the first dot is ours.
    value = event.get("sg_message_id")
    return _as_text(value.split(".", 1)[0], 200) if isinstance(value, str) else None


def email_of(event: dict[str, Any]) -> str | None:
    """Return the address EVENT is about, normalised to lower case (None when absent)."""
    value = event.get("email")
    return _storable(value).strip().lower() or None if isinstance(value, str) else None


def parse_events(body: Any, clock: Clock) -> list[ProviderEvent]:
    """Turn one stored webhook body into ProviderEvents; malformed entries are skipped."""
    raw = [event for event in body if isinstance(event, dict)] if isinstance(body, list) else []
    events = []
    for event in raw:
        kind = (_as_text(event.get("event"), 30) or "unknown").lower()
        events.append(
            ProviderEvent(
                kind=kind,
                key=event_key(event),
                occurred_at=_occurred_at(event, clock),
                delivery_id=as_id(event.get(DELIVERY_ID_ARG)),
                subscriber_id=as_id(event.get(SUBSCRIBER_ID_ARG)),
                course=_as_text(event.get(COURSE_ARG), 100),
                day=_day(event.get(DAY_ARG)),
                message_id=_message_id(event),
                email=email_of(event),
                machine_open=bool(event.get("sg_machine_open")),
                user_agent=_as_text(event.get("useragent"), 500),
                url=_as_text(event.get("url")) if kind == "click" else None,
                reason=_reason(event),
                failure=_failure(kind, event),
            )
        )
    return events
