"""The send_confirmation task: mail the double opt-in link to a pending subscriber."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from config import get_settings
from course.loader import load_course
from emails.message import PermanentSendError, RetryableSendError
from emails.tokens import make_confirm_token
from store.db import session_scope
from store.models import Subscriber, SubscriberStatus

log = logging.getLogger(__name__)

MAX_RETRIES = 5
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 600


def confirm_url(subscriber_id: int) -> str:
    """Return the absolute confirm link for SUBSCRIBER_ID."""
    return f"{get_settings().base_url}/confirm/{make_confirm_token(subscriber_id)}"


def retry_countdown(retries: int, retry_after: float | None) -> float:
    """Wait what the provider asked for (capped), else back off exponentially (capped)."""
    if retry_after is not None and retry_after > 0:
        return min(float(retry_after), RETRY_MAX_SECONDS)
    return float(min(RETRY_BASE_SECONDS * 2**retries, RETRY_MAX_SECONDS))


@shared_task(
    bind=True, name="tasks.confirmation.send_confirmation", ignore_result=True, max_retries=None
)
def send_confirmation(self: Any, subscriber_id: int) -> str:
    """Send the confirmation email to SUBSCRIBER_ID if they are still pending."""
    from emails.backends import get_backend
    from emails.render import Recipient, render_confirmation_email

    with session_scope() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.email is None:
            return "gone"
        if subscriber.status != SubscriberStatus.PENDING:
            return f"skipped: {subscriber.status}"
        recipient = Recipient(subscriber.id, subscriber.email, subscriber.first_name)
        course_slug = subscriber.course_slug
    message = render_confirmation_email(
        load_course(course_slug), recipient, confirm_url(subscriber_id)
    )
    try:
        get_backend().send(message)
    except RetryableSendError as exc:
        if self.request.retries >= MAX_RETRIES:
            log.error("confirmation for subscriber %s not sent: %s", subscriber_id, exc)
            return "failed"
        countdown = retry_countdown(self.request.retries, exc.retry_after)
        raise self.retry(countdown=countdown, max_retries=None) from exc
    except PermanentSendError as exc:
        log.error("confirmation for subscriber %s refused: %s", subscriber_id, exc)
        return "failed"
    return "sent"
