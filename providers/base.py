"""What every mail backend offers, what it reports, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from emails.bulk import Bulk
from emails.message import Message


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a backend reports for an accepted message."""

    message_id: str | None


class SendError(Exception):
    """A message was not accepted."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the provider's message and HTTP status."""
        super().__init__(message)
        self.status = status


class RetryableSendError(SendError):
    """A passing failure (429, 5xx, timeout): try again after retry_after seconds if given.

    maybe_sent is True when the request may have reached the provider before the failure
    (a timeout or dropped connection while waiting for the answer): resending blindly could
    deliver twice, so check for webhook evidence first.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        *,
        maybe_sent: bool = False,
    ) -> None:
        """Keep when the provider said to come back, and whether the mail may have gone."""
        super().__init__(message, status)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class PermanentSendError(SendError):
    """A failure that retrying won't fix (400, 401, 403, 413)."""


class MailBackend(Protocol):
    """What the senders need from a mail backend; safe to call from many threads at once."""

    def send(self, message: Message) -> SendResult:
        """Hand MESSAGE over for delivery, or raise a SendError."""
        ...

    def send_bulk(self, bulk: Bulk) -> list[SendResult | SendError]:
        """Hand every recipient of BULK over; return a result or error per recipient."""
        ...

    def forget(self, address: str) -> int:
        """Delete every copy the backend keeps of mail to ADDRESS (any case); return how many."""
        ...


def send_each(backend: MailBackend, bulk: Bulk) -> list[SendResult | SendError]:
    """Send BULK's rendered messages one by one (for backends that can't substitute)."""
    results: list[SendResult | SendError] = []
    for message in bulk.messages:
        try:
            results.append(backend.send(message))
        except SendError as exc:
            results.append(exc)
    return results
