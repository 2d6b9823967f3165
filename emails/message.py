"""The one message model every mail backend sends, and the errors backends raise."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Message:
    """A fully rendered email for one recipient."""

    to_email: str
    subject: str
    html: str
    text: str
    from_email: str
    from_name: str = ""
    to_name: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # Echoed back by SendGrid on every webhook event; values must be strings.
    custom_args: dict[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()


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
