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

Each task is one subscriber-lesson, acked on its own once its delivery is settled. Tasks
that run at about the same time in one worker process are coalesced (tasks.coalesce): one
claim statement, one SendGrid request per lesson with a personalization per recipient, and
one commit, for all of them. The steps and guarantees above hold per delivery.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from celery import shared_task
from sqlalchemy import Connection

from config import get_settings
from course.loader import Course, load_course
from emails.bulk import Bulk
from emails.message import SendResult
from store.clock import utcnow
from store.db import in_transaction_retrying, transaction
from tasks.claims import Claim, claim_deliveries, mark_all_sent
from tasks.coalesce import Coalescer
from tasks.outcomes import (
    await_evidence,
    pre_send_verdict,
    retry_later,
    settle_send_error,
    settle_unsendable,
)
from tasks.progress import Advance, advance_enrollments
from tasks.schedule import cadence_for, next_due_after

log = logging.getLogger(__name__)


@shared_task(name="tasks.sending.send_lesson", ignore_result=True)
def send_lesson(delivery_id: int) -> str:
    """Send one lesson delivery once; return what happened (for logs and tests)."""
    return send_with_company(delivery_id)


def send_with_company(delivery_id: int) -> str:
    """Deliver DELIVERY_ID together with the other sends this process runs at the moment."""
    if threading.current_thread() is threading.main_thread():
        # The prefork and solo pools run one task at a time, in the main thread: no company
        # can come, so waiting for it would only delay the send.
        return deliver(delivery_id)
    settings = get_settings()
    coalescer = _coalescer(settings.send_batch_size, settings.send_batch_window_seconds)
    return coalescer.submit(delivery_id)


@lru_cache(maxsize=4)
def _coalescer(max_items: int, window: float) -> Coalescer[int, str]:
    return Coalescer(deliver_many, max_items=max_items, window=window)


def deliver(delivery_id: int) -> str:
    """Claim, check, render, send and record DELIVERY_ID alone; return the outcome."""
    return deliver_many([delivery_id])[delivery_id]


def deliver_many(delivery_ids: Sequence[int]) -> dict[int, str]:
    """Claim, check, render, send and record DELIVERY_IDS; return each one's outcome.

    Outcomes: sent, not-claimed (a duplicate, or not due), skipped, held, retry, failed,
    awaiting-evidence.
    """
    now = utcnow()
    outcomes = dict.fromkeys(delivery_ids, "not-claimed")
    sendable: defaultdict[tuple[str, int], list[Claim]] = defaultdict(list)
    with transaction() as connection:
        for claim in claim_deliveries(connection, list(outcomes), now):
            verdict = pre_send_verdict(claim)
            if verdict is None:
                sendable[(claim.course_slug, claim.day)].append(claim)
            else:
                settle_unsendable(connection, claim, verdict)
                outcomes[claim.delivery_id] = verdict
    for (course_slug, day), claims in sendable.items():
        outcomes.update(_send_lesson_to(course_slug, day, claims))
    return outcomes


def _send_lesson_to(course_slug: str, day: int, claims: list[Claim]) -> dict[int, str]:
    """Send lesson DAY to every claim's subscriber in as few requests as allowed."""
    try:
        course = load_course(course_slug)
        bulk = _render(course, day, claims)
    except Exception as exc:
        if len(claims) > 1:
            # One recipient's bad data (say an address the renderer refuses) must not hold
            # back the others: render and send each on its own.
            outcomes: dict[int, str] = {}
            for claim in claims:
                outcomes.update(_send_lesson_to(course_slug, day, [claim]))
            return outcomes
        # Nothing reached the provider: a bug or an outage of ours (course, template).
        # Release the claim with backoff rather than leave it 'sending' until it goes stale.
        log.exception("delivery %s: could not render; it will be retried", claims[0].delivery_id)
        return {claims[0].delivery_id: retry_later(claims[0], exc)}
    try:
        results = _backend().send_bulk(bulk)
    except Exception as exc:
        # Unexpected, and a request may have gone out: let evidence decide, as for a timeout.
        log.exception("lesson %s: unexpected error while sending", day)
        return {claim.delivery_id: await_evidence(claim, exc) for claim in claims}
    outcomes = {}
    accepted: defaultdict[str | None, list[Claim]] = defaultdict(list)
    for claim, result in zip(claims, results, strict=True):
        if isinstance(result, SendResult):
            accepted[result.message_id].append(claim)
        else:
            outcomes[claim.delivery_id] = settle_send_error(claim, result)
    if accepted:
        # If this commit fails (database down, worker killed) the mail is out but the rows
        # still say 'sending': the stale-claim resolver settles them by SendGrid's events.
        _record_sent(course, accepted)
        outcomes.update(
            {claim.delivery_id: "sent" for group in accepted.values() for claim in group}
        )
    return outcomes


def _record_sent(course: Course, accepted: dict[str | None, list[Claim]]) -> None:
    """Commit the sent states and the enrollments' next due times in one transaction."""
    sent_at = utcnow()
    settings = get_settings()
    due_by_timezone: dict[str | None, datetime] = {}

    def next_due(claim: Claim) -> datetime | None:
        if claim.day >= course.days:
            return None
        if claim.timezone not in due_by_timezone:
            cadence = cadence_for(settings, course, claim.timezone)
            due_by_timezone[claim.timezone] = next_due_after(sent_at, cadence)
        return due_by_timezone[claim.timezone]

    def record(connection: Connection) -> None:
        for message_id, claims in accepted.items():
            marked = mark_all_sent(
                connection,
                [claim.delivery_id for claim in claims],
                sent_at=sent_at,
                message_id=message_id,
            )
            advances = [
                Advance(claim.enrollment_id, claim.day, claim.day >= course.days, next_due(claim))
                for claim in claims
                if claim.delivery_id in marked
            ]
            advance_enrollments(connection, advances, now=sent_at)

    # The mail is out: a lost connection here must not leave the rows to evidence (or,
    # without the webhook, to a resend). The statements are guarded, so a repeat is safe.
    in_transaction_retrying(record)


def _render(course: Course, day: int, claims: list[Claim]) -> Bulk:
    from emails.render import Recipient, render_lesson_bulk

    recipients = [
        Recipient(
            subscriber_id=claim.subscriber_id,
            email=claim.email or "",
            first_name=claim.first_name,
            delivery_id=claim.delivery_id,
        )
        for claim in claims
    ]
    return render_lesson_bulk(course, day, recipients)


def _backend() -> Any:
    from emails.backends import get_backend

    return get_backend()
