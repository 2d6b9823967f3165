"""Mail backends: `get_backend()` returns the configured one (sendgrid or outbox), once per process.

Every backend has `send(message) -> SendResult`, which raises RetryableSendError or
PermanentSendError, and `send_bulk(bulk)`, which returns a SendResult or SendError per
recipient; all are safe to call from many threads at once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

from config import get_settings
from emails.bulk import Bulk
from emails.message import Message, SendError, SendResult


class Backend(Protocol):
    """What the senders need from a mail backend."""

    def send(self, message: Message) -> SendResult:
        """Hand MESSAGE over for delivery, or raise a SendError."""
        ...

    def send_bulk(self, bulk: Bulk) -> list[SendResult | SendError]:
        """Hand every recipient of BULK over; return a result or error per recipient."""
        ...


def send_each(backend: Backend, bulk: Bulk) -> list[SendResult | SendError]:
    """Send BULK's rendered messages one by one (for backends that can't substitute)."""
    results: list[SendResult | SendError] = []
    for message in bulk.messages:
        try:
            results.append(backend.send(message))
        except SendError as exc:
            results.append(exc)
    return results


def get_backend() -> Backend:
    """Return the backend NURTURE_MAIL_BACKEND names, built once per distinct configuration."""
    settings = get_settings()
    if settings.mail_backend == "sendgrid":
        return _sendgrid(
            settings.sendgrid_api_key, settings.sendgrid_host, settings.sendgrid_timeout
        )
    return _outbox(settings.outbox_dir)


@lru_cache(maxsize=8)
def _sendgrid(api_key: str, host: str, timeout: float) -> Backend:
    from emails.backends.sendgrid import SendGridBackend

    return SendGridBackend(api_key=api_key, host=host, timeout=timeout)


@lru_cache(maxsize=8)
def _outbox(folder: Path) -> Backend:
    from emails.backends.outbox import OutboxBackend

    return OutboxBackend(folder)


def reset_backend_cache() -> None:
    """Forget built backends (tests that change settings, or after a config reload)."""
    _sendgrid.cache_clear()
    _outbox.cache_clear()


__all__ = ["Backend", "get_backend", "reset_backend_cache", "send_each"]
