"""Settle a claimed delivery that was not sent: held, skipped, retried, failed, or awaiting.

Each is a guarded change of the claim this worker holds; "awaiting" leaves the claim for
the stale-claim resolver to settle by webhook evidence.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from config.logs import redact
from delivery.enrollments import Advance, advance_enrollments
from delivery.retry import attempts_exhausted, retry_not_before, retry_window_over
from delivery.transitions import (
    Claim,
    deliveries,
    note_claim_error,
    release_claim,
    settle_claim,
)
from providers.base import PermanentSendError, RetryableSendError
from runtime import Runtime
from store.models import DeliveryKind, DeliveryState, EnrollmentStatus, SubscriberStatus

log = logging.getLogger("delivery.sender")

# A lesson claimed while its enrollment is paused goes back to 'queued' this far ahead;
# resuming pulls it forward (the dispatcher re-times a held row), so pausing holds the
# lesson instead of losing it, and a long pause costs one look a day, not one a minute.
PAUSED_HOLD = timedelta(days=1)
# Whom a confirmation email may still go to when it is about to be sent.
CONFIRMABLE = frozenset({SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED})


def pre_send_verdict(claim: Claim, *, in_course: bool = False) -> str | None:
    """Return why this claim must not be sent now, or None to send it.

    IN_COURSE: a confirmed reader's confirmation is of a course they are in already.

    Checked again just before each send, so an unsubscribe that landed after the
    dispatcher queued the mail still wins. A confirmation goes only to a pending signup,
    or to someone who unsubscribed and signed up again (they stay unsubscribed until they
    confirm; their unsubscribe skipped every confirmation queued before it), or to a
    confirmed reader not (or no longer) in its course; a lesson only to a confirmed
    subscriber whose enrollment is active; a closing email only to a confirmed subscriber
    whose enrollment is completed.
    """
    if not claim.email:
        return "skipped"
    if claim.kind == DeliveryKind.CONFIRMATION:
        if claim.subscriber_status in CONFIRMABLE:
            return None
        # A confirmed reader signing up for another course: only while not in it already.
        joining = claim.subscriber_status == SubscriberStatus.CONFIRMED and not in_course
        return None if joining else "skipped"
    if claim.subscriber_status != SubscriberStatus.CONFIRMED:
        return "skipped"
    if claim.kind == DeliveryKind.CLOSING:
        # Only after a course that ran to its end (a cancelled one was stopped on purpose).
        return None if claim.enrollment_status == EnrollmentStatus.COMPLETED else "skipped"
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


def settle_send_error(runtime: Runtime, claim: Claim, exc: Exception) -> str:
    """Act on the provider's refusal or failure for CLAIM; return the outcome."""
    if isinstance(exc, RetryableSendError):
        if exc.maybe_sent:
            return await_evidence(runtime, claim, exc)
        return retry_later(runtime, claim, exc)
    if isinstance(exc, PermanentSendError):
        log.error(
            "delivery %s failed permanently: %s",
            claim.delivery_id,
            redact(describe(exc)),
            extra=ids_of(claim),
        )
        end_claim(runtime, claim, DeliveryState.FAILED, describe(exc))
        return "failed"
    # Unexpected, and the request may have gone out: let evidence decide, as for a timeout.
    return await_evidence(runtime, claim, exc)


def retry_later(runtime: Runtime, claim: Claim, exc: Exception) -> str:
    """Put CLAIM back with backoff, or fail it once its tries and retry window are used up."""
    settings = runtime.settings
    error = describe(exc)
    if attempts_exhausted(claim.attempts, settings) and retry_window_over(
        queued_at(runtime, claim), runtime.now(), settings
    ):
        log.error(
            "delivery %s failed after %s attempts: %s",
            claim.delivery_id,
            claim.attempts,
            redact(error),
            extra=ids_of(claim),
        )
        message = f"gave up after {claim.attempts} attempts: {error}"
        end_claim(runtime, claim, DeliveryState.FAILED, message)
        return "failed"
    retry_after = getattr(exc, "retry_after", None)
    not_before = retry_not_before(runtime.now(), claim.attempts, settings, retry_after=retry_after)
    log.warning(
        "delivery %s will be retried after %s: %s",
        claim.delivery_id,
        not_before,
        redact(error),
        extra=ids_of(claim),
    )
    with runtime.transaction() as connection:
        release_claim(
            connection,
            claim.delivery_id,
            claimed_at=claim.claimed_at,
            not_before=not_before,
            error=error,
        )
    return "retry"


def queued_at(runtime: Runtime, claim: Claim) -> datetime:
    """Return when CLAIM's delivery was queued (read only once its tries are used up)."""
    with runtime.transaction() as connection:
        statement = select(deliveries.c.created_at).where(deliveries.c.id == claim.delivery_id)
        created_at: datetime = connection.execute(statement).scalar_one()
        return created_at


def await_evidence(runtime: Runtime, claim: Claim, exc: Exception) -> str:
    """Keep the claim 'sending' so the resolver decides by evidence: sent, or send again."""
    log.warning(
        "delivery %s may have been accepted (%s); waiting for webhook evidence",
        claim.delivery_id,
        redact(describe(exc)),
        extra=ids_of(claim),
    )
    with runtime.transaction() as connection:
        note_claim_error(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, error=describe(exc)
        )
    return "awaiting-evidence"


def ids_of(claim: Claim) -> dict[str, int]:
    """Return the ids a log line about CLAIM carries (`extra`): never its address or name."""
    return {"delivery_id": claim.delivery_id, "subscriber_id": claim.subscriber_id}


def end_claim(runtime: Runtime, claim: Claim, state: str, error: str) -> None:
    """End CLAIM as STATE (failed or skipped), keeping ERROR."""
    with runtime.transaction() as connection:
        settle_claim(
            connection, claim.delivery_id, claimed_at=claim.claimed_at, state=state, error=error
        )


def describe(exc: Exception) -> str:
    """Return EXC as one line, with the provider's HTTP status first when known."""
    status = getattr(exc, "status", None)
    text = str(exc) or type(exc).__name__
    return f"{status}: {text}" if status else text


def skip_removed_lesson(runtime: Runtime, claims: list[Claim], version: str, days: int) -> str:
    """Skip CLAIMS whose day is past the end of their course version; end their enrollments.

    A lesson removed by a publish is not coming back, so retrying it would only fail it
    twelve times later. The enrollment has nothing left to receive: it is completed.
    """
    reason = f"not sent: lesson removed (course version {version[:12]} has {days} day(s))"
    with runtime.transaction() as connection:
        for claim in claims:
            settle_claim(
                connection,
                claim.delivery_id,
                claimed_at=claim.claimed_at,
                state=DeliveryState.SKIPPED,
                error=reason,
            )
        advances = [
            Advance(claim.enrollment_id, claim.day, last_day=True, next_due_at=None)
            for claim in claims
            if claim.enrollment_id is not None
        ]
        advance_enrollments(connection, advances, now=runtime.now())
    log.warning("deliveries %s skipped: %s", [c.delivery_id for c in claims], reason)
    return "skipped"
