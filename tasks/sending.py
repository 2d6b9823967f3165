"""The send_lesson task: claim a delivery, check again, render, send, record, exactly once.

Guarantees, in order of the steps:
- claim: one guarded UPDATE queued -> sending; a duplicate task or redelivered message
  changes nothing and returns, so at most one worker calls the provider per claim;
- just before sending: the subscriber must still be confirmed and the enrollment active
  (an unsubscribe that landed after the dispatcher queued the lesson wins);
- after a 202: provider message id, sent state and the enrollment's next due time commit in
  one transaction;
- a worker killed between the 202 and that commit leaves a stale 'sending' claim, which the
  dispatcher settles by evidence (tasks.evidence), never by a blind resend.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from sqlalchemy import Connection

from config import get_settings
from course.loader import Course, load_course
from emails.message import Message, PermanentSendError, RetryableSendError
from store.clock import utcnow
from store.db import transaction
from store.models import DeliveryState, EnrollmentStatus, Subscriber
from subscribers.lifecycle import may_receive_lessons
from tasks.claims import (
    Claim,
    advance_enrollment,
    claim_delivery,
    mark_sent,
    note_claim_error,
    release_claim,
    settle_claim,
)
from tasks.retry import attempts_exhausted, retry_not_before
from tasks.schedule import cadence_for, next_due_after

log = logging.getLogger(__name__)

# A lesson claimed while its enrollment is paused goes back to 'queued' this far ahead;
# resuming pulls it forward (the dispatcher re-times a held row), so pausing holds the
# lesson instead of losing it, and a long pause costs one look a day, not one a minute.
PAUSED_HOLD = timedelta(days=1)


@shared_task(name="tasks.sending.send_lesson", ignore_result=True)
def send_lesson(delivery_id: int) -> str:
    """Send one lesson delivery once; return what happened (for logs and tests)."""
    return deliver(delivery_id)


def deliver(delivery_id: int) -> str:
    """Claim, check, render, send and record DELIVERY_ID; the task body, callable directly."""
    now = utcnow()
    with transaction() as connection:
        claim = claim_delivery(connection, delivery_id, now)
        if claim is None:
            return "not-claimed"
        verdict = _pre_send_verdict(claim)
        if verdict is not None:
            _settle_unsendable(connection, claim, verdict)
            return verdict
    try:
        course = load_course(claim.course_slug)
        message = _render(course, claim)
    except Exception as exc:
        # Nothing reached the provider: a bug or an outage of ours (course, template).
        # Release the claim with backoff rather than leave it 'sending' until it goes stale.
        log.exception("delivery %s: could not render; it will be retried", delivery_id)
        return _retry_later(claim, exc)
    try:
        result = _backend().send(message)
    except RetryableSendError as exc:
        if exc.maybe_sent:
            return _await_evidence(claim, exc)
        return _retry_later(claim, exc)
    except PermanentSendError as exc:
        log.error("delivery %s failed permanently: %s", delivery_id, exc)
        _end_claim(claim, DeliveryState.FAILED, _describe(exc))
        return "failed"
    except Exception as exc:
        # Unexpected, and the request may have gone out: let evidence decide, as for a timeout.
        log.exception("delivery %s: unexpected error while sending", delivery_id)
        return _await_evidence(claim, exc)
    # If this commit fails (database down, worker killed) the mail is out but the row still
    # says 'sending': the stale-claim resolver settles it by SendGrid's processed event.
    record_sent(claim, course, message_id=result.message_id)
    return "sent"


def record_sent(claim: Claim, course: Course, *, message_id: str | None) -> None:
    """Commit the sent state and the enrollment's next due time in one transaction."""
    sent_at = utcnow()
    last_day = claim.day >= course.days
    next_due = None
    if not last_day:
        next_due = next_due_after(sent_at, cadence_for(get_settings(), course, claim.timezone))
    with transaction() as connection:
        if mark_sent(connection, claim.delivery_id, sent_at=sent_at, message_id=message_id):
            advance_enrollment(
                connection,
                claim.enrollment_id,
                day=claim.day,
                last_day=last_day,
                next_due_at=next_due,
                now=sent_at,
            )


def _pre_send_verdict(claim: Claim) -> str | None:
    """Return why this claim must not be sent now, or None to send it."""
    person = Subscriber(status=claim.subscriber_status)
    if not may_receive_lessons(person) or not claim.email:
        return "skipped"
    if claim.enrollment_status == EnrollmentStatus.PAUSED:
        return "held"
    if claim.enrollment_status != EnrollmentStatus.ACTIVE:
        return "skipped"
    return None


def _settle_unsendable(connection: Connection, claim: Claim, verdict: str) -> None:
    if verdict == "held":
        release_claim(
            connection,
            claim.delivery_id,
            claimed_at=claim.claimed_at,
            not_before=claim.claimed_at + PAUSED_HOLD,
            error="paused",
        )
        return
    reason = f"not sent: subscriber {claim.subscriber_status}, enrollment {claim.enrollment_status}"
    settle_claim(
        connection,
        claim.delivery_id,
        claimed_at=claim.claimed_at,
        state=DeliveryState.SKIPPED,
        error=reason,
    )


def _render(course: Course, claim: Claim) -> Message:
    from emails.render import Recipient, render_lesson_email

    recipient = Recipient(
        subscriber_id=claim.subscriber_id,
        email=claim.email or "",
        first_name=claim.first_name,
        delivery_id=claim.delivery_id,
    )
    return render_lesson_email(course, claim.day, recipient)


def _backend() -> Any:
    from emails.backends import get_backend

    return get_backend()


def _retry_later(claim: Claim, exc: Exception) -> str:
    settings = get_settings()
    error = _describe(exc)
    if attempts_exhausted(claim.attempts, settings):
        log.error(
            "delivery %s failed after %s attempts: %s", claim.delivery_id, claim.attempts, error
        )
        _end_claim(claim, DeliveryState.FAILED, f"gave up after {claim.attempts} attempts: {error}")
        return "failed"
    retry_after = getattr(exc, "retry_after", None)
    not_before = retry_not_before(utcnow(), claim.attempts, settings, retry_after=retry_after)
    log.warning("delivery %s will be retried after %s: %s", claim.delivery_id, not_before, error)
    with transaction() as connection:
        release_claim(
            connection,
            claim.delivery_id,
            claimed_at=claim.claimed_at,
            not_before=not_before,
            error=error,
        )
    return "retry"


def _await_evidence(claim: Claim, exc: Exception) -> str:
    """Keep the claim 'sending' so the resolver decides by evidence: sent, or send again."""
    log.warning(
        "delivery %s may have been accepted (%s); waiting for webhook evidence",
        claim.delivery_id,
        exc,
    )
    with transaction() as connection:
        note_claim_error(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, error=_describe(exc)
        )
    return "awaiting-evidence"


def _end_claim(claim: Claim, state: str, error: str) -> None:
    with transaction() as connection:
        settle_claim(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, state=state, error=error
        )


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    text = str(exc) or type(exc).__name__
    return f"{status}: {text}" if status else text
