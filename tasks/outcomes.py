"""Settle a claimed delivery that was not sent: held, skipped, retried, failed, or awaiting.

Each is a guarded change of the claim this worker holds; "awaiting" leaves the claim for
the stale-claim resolver to settle by webhook evidence.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Connection

from config import get_settings
from emails.message import PermanentSendError, RetryableSendError
from store.clock import utcnow
from store.db import transaction
from store.models import DeliveryState, EnrollmentStatus, Subscriber
from subscribers.lifecycle import may_receive_lessons
from tasks.claims import Claim, note_claim_error, release_claim, settle_claim
from tasks.retry import attempts_exhausted, retry_not_before

log = logging.getLogger("tasks.sending")

# A lesson claimed while its enrollment is paused goes back to 'queued' this far ahead;
# resuming pulls it forward (the dispatcher re-times a held row), so pausing holds the
# lesson instead of losing it, and a long pause costs one look a day, not one a minute.
PAUSED_HOLD = timedelta(days=1)


def pre_send_verdict(claim: Claim) -> str | None:
    """Return why this claim must not be sent now, or None to send it."""
    person = Subscriber(status=claim.subscriber_status)
    if not may_receive_lessons(person) or not claim.email:
        return "skipped"
    if claim.enrollment_status == EnrollmentStatus.PAUSED:
        return "held"
    if claim.enrollment_status != EnrollmentStatus.ACTIVE:
        return "skipped"
    return None


def settle_unsendable(connection: Connection, claim: Claim, verdict: str) -> None:
    """Hold a paused enrollment's lesson, or skip one nobody may receive any more."""
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


def settle_send_error(claim: Claim, exc: Exception) -> str:
    """Act on the provider's refusal or failure for CLAIM; return the outcome."""
    if isinstance(exc, RetryableSendError):
        if exc.maybe_sent:
            return await_evidence(claim, exc)
        return retry_later(claim, exc)
    if isinstance(exc, PermanentSendError):
        log.error("delivery %s failed permanently: %s", claim.delivery_id, exc)
        end_claim(claim, DeliveryState.FAILED, describe(exc))
        return "failed"
    # Unexpected, and the request may have gone out: let evidence decide, as for a timeout.
    return await_evidence(claim, exc)


def retry_later(claim: Claim, exc: Exception) -> str:
    """Put CLAIM back with backoff, or fail it once the attempts are used up."""
    settings = get_settings()
    error = describe(exc)
    if attempts_exhausted(claim.attempts, settings):
        log.error(
            "delivery %s failed after %s attempts: %s", claim.delivery_id, claim.attempts, error
        )
        end_claim(claim, DeliveryState.FAILED, f"gave up after {claim.attempts} attempts: {error}")
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


def await_evidence(claim: Claim, exc: Exception) -> str:
    """Keep the claim 'sending' so the resolver decides by evidence: sent, or send again."""
    log.warning(
        "delivery %s may have been accepted (%s); waiting for webhook evidence",
        claim.delivery_id,
        exc,
    )
    with transaction() as connection:
        note_claim_error(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, error=describe(exc)
        )
    return "awaiting-evidence"


def end_claim(claim: Claim, state: str, error: str) -> None:
    """End CLAIM as STATE (failed or skipped), keeping ERROR."""
    with transaction() as connection:
        settle_claim(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, state=state, error=error
        )


def describe(exc: Exception) -> str:
    """Return EXC as one line, with the provider's HTTP status first when known."""
    status = getattr(exc, "status", None)
    text = str(exc) or type(exc).__name__
    return f"{status}: {text}" if status else text
