"""The SendGrid backend: the official library over HTTP, with errors mapped to retry or give up.

Guarantee: a 202 means SendGrid accepted the message and `SendResult.message_id` is its
X-Message-Id. A timeout or dropped connection is ambiguous (SendGrid may have accepted the
mail before the answer was lost), so it raises RetryableSendError with `maybe_sent=True`;
the delivery code resolves those by webhook evidence before resending.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from email.utils import parsedate_to_datetime
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from emails.bulk import Bulk
from emails.message import Message
from providers.base import PermanentSendError, RetryableSendError, SendError, SendResult
from providers.sendgrid.requests import build_bulk_body, build_request_body, plan_requests
from providers.sendgrid.transport import KeepAliveClient
from store.clock import Clock

RETRYABLE_STATUSES = frozenset({408, 425, 429})
# A bulk request refused as malformed or too large is retried recipient by recipient.
SPLIT_ON_STATUSES = frozenset({400, 413})


class SendGridBackend:
    """Send through SendGrid's v3 API; one client shared by all threads."""

    def __init__(self, api_key: str, host: str, timeout: float, clock: Clock) -> None:
        """Build the client with the host and request timeout; CLOCK reads rate-limit resets."""
        self.clock = clock
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        # Same host, headers and version, but each thread keeps its HTTP/1.1 connection to
        # SendGrid open between sends (see providers.sendgrid.transport for why and how).
        stock = self._client.client
        self._client.client = KeepAliveClient(
            host=stock.host, request_headers=stock.request_headers, version=stock._version
        )
        # python_http_client copies the timeout into every child client it builds, and passes
        # it to urllib's open(), which applies it to the connect and to each socket read.
        self._client.client.timeout = timeout
        # The library adds Content-Type with setdefault() on the first request; adding it now
        # means concurrent requests never change the shared header dict while another copies it.
        self._client.client.request_headers["Content-Type"] = "application/json"
        self._endpoint = self._client.client.mail.send
        self.timeout = timeout

    def send(self, message: Message) -> SendResult:
        """POST MESSAGE; return SendGrid's message id, or raise a mapped SendError."""
        return self._post(build_request_body(message))

    def send_bulk(self, bulk: Bulk) -> list[SendResult | SendError]:
        """Send every recipient of BULK in as few requests as allowed; a result per recipient."""
        results: list[SendResult | SendError] = [SendError("not sent")] * len(bulk.recipients)
        for group in plan_requests(bulk):
            self._send_group(bulk, group, results)
        return results

    def forget(self, address: str) -> int:
        """Keep nothing to delete: mail goes to SendGrid, and no copy stays here."""
        return 0

    def _send_group(
        self, bulk: Bulk, group: list[int], results: list[SendResult | SendError]
    ) -> None:
        """Send the recipients of BULK at GROUP in one request; store each one's result.

        SendGrid accepts or refuses a request whole. A 400 or 413 (one recipient's bad value,
        or too large a body) is split in halves and each half sent again, so the culprit
        fails alone after a few requests (log2 of the group), not one request per recipient.
        """
        if len(group) == 1:
            results[group[0]] = self._send_one(bulk.recipients[group[0]].message)
            return
        try:
            accepted: SendResult | SendError = self._post(build_bulk_body(bulk, group))
        except PermanentSendError as exc:
            if exc.status in SPLIT_ON_STATUSES:
                middle = len(group) // 2
                self._send_group(bulk, group[:middle], results)
                self._send_group(bulk, group[middle:], results)
                return
            accepted = exc
        except SendError as exc:
            accepted = exc
        for index in group:
            results[index] = accepted

    def _send_one(self, message: Message) -> SendResult | SendError:
        try:
            return self.send(message)
        except SendError as exc:
            return exc

    def _post(self, body: dict[str, Any]) -> SendResult:
        try:
            response = self._endpoint.post(request_body=body)
        except HTTPError as exc:
            raise map_http_error(exc, self.clock) from None
        except urllib.error.URLError as exc:
            # Raised before the request was sent (DNS, refused connection, connect timeout).
            raise RetryableSendError(f"SendGrid unreachable: {exc.reason}") from None
        except TimeoutError as exc:
            raise RetryableSendError(
                f"SendGrid did not answer within {self.timeout:g} s ({exc})", maybe_sent=True
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise RetryableSendError(
                f"SendGrid connection failed: {type(exc).__name__}: {exc}", maybe_sent=True
            ) from None
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return SendResult(message_id=message_id or None)


def map_http_error(exc: HTTPError, clock: Clock) -> RetryableSendError | PermanentSendError:
    """Turn a python_http_client HTTPError into our retryable or permanent error."""
    status = int(exc.status_code)
    text = f"SendGrid {status}: {error_text(exc.body)}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableSendError(text, status=status, retry_after=retry_after(exc.headers, clock))
    return PermanentSendError(text, status=status)


def error_text(body: bytes | str | None) -> str:
    """Return SendGrid's error messages (with their fields) as one line."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        errors = json.loads(raw).get("errors") or []
        parts = [
            f"{error.get('field')}: {error.get('message')}"
            if error.get("field")
            else str(error.get("message"))
            for error in errors
            if isinstance(error, dict)
        ]
    except (ValueError, AttributeError):
        parts = []
    return "; ".join(parts) or " ".join(raw.split())[:500] or "no error text"


def retry_after(headers: Any, clock: Clock) -> float | None:
    """Read seconds to wait from Retry-After, else from X-RateLimit-Reset (unix seconds)."""
    if headers is None:
        return None
    now = clock()
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - now.timestamp())
        except ValueError:
            return None
    return None
