"""Mail providers, each in one place: SendGrid (providers.sendgrid) and the outbox folder.

Nothing outside this package knows a provider's wire format. Senders hand over Messages and
Bulks (emails/) and get SendResults or SendErrors back; webhook events come back as our own
ProviderEvent objects.
"""

from __future__ import annotations

from config import Settings
from providers.base import MailBackend
from store.clock import Clock


def build_mail_backend(settings: Settings, clock: Clock) -> MailBackend:
    """Return the backend NURTURE_MAIL_BACKEND names (the runtime builds one per process)."""
    if settings.mail_backend == "sendgrid":
        from providers.sendgrid.mail import SendGridBackend

        return SendGridBackend(
            api_key=settings.sendgrid_api_key,
            host=settings.sendgrid_host,
            timeout=settings.sendgrid_timeout,
            clock=clock,
        )
    from providers.outbox import OutboxBackend

    return OutboxBackend(settings.outbox_dir, clock)


__all__ = ["MailBackend", "build_mail_backend"]
