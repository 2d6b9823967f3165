"""Settle stale 'sending' claims by evidence, closing the window exactly-once must close.

SendGrid has no idempotency key. A worker killed after SendGrid answered 202 but before our
commit leaves a delivery that looks unsent although the mail went out; resending it blindly
would duplicate it. Every send carries its delivery id as a custom arg, and SendGrid echoes
it on a `processed` event to our webhook. So a claim older than claim_timeout is settled by:
- a processed or delivered event for that delivery id: it was sent; mark it sent and advance
  the enrollment exactly as a normal success does (no resend);
- no such event once claim_timeout + evidence_grace has passed: SendGrid never accepted it
  (its events arrive within seconds), so put it back to queued and send it again.

What holds where: while the webhook works, every lesson goes out exactly once. If webhook
events are lost or later than the grace period, a lesson whose worker died in that window
can go out twice (at-least-once); none is ever lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from course.loader import CourseError
from delivery.accepted import record_accepted
from delivery.transitions import deliveries, release_claim, subscribers
from providers.sendgrid.contract import EVIDENCE_KINDS
from runtime import Runtime
from store.models import DeliveryState, EmailEvent, WebhookBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Stale:
    delivery_id: int
    kind: str
    enrollment_id: int | None
    course_slug: str
    day: int
    claimed_at: datetime
    timezone: str | None
    send_time: str | None
    course_version: str | None


@dataclass
class Resolution:
    """What one look at stale claims did."""

    sent_by_evidence: int = 0
    requeued: int = 0
    waiting: int = 0


def _unread_evidence_since(session: Session, since: datetime) -> bool:
    """Tell whether webhook batches received since SINCE still wait to be processed.

    Such a batch may hold the evidence for a claim we are about to resend, so resending waits
    a pass. Older pending batches (a poison batch ingest keeps failing on) don't block it.
    """
    batches = WebhookBatch.__table__
    query = (
        select(batches.c.id)
        .where(batches.c.processed_at.is_(None), batches.c.received_at >= since)
        .limit(1)
    )
    return session.execute(query).first() is not None


def _stale_claims(session: Session, cutoff: datetime, limit: int) -> list[_Stale]:
    rows = session.execute(
        select(
            deliveries.c.id,
            deliveries.c.kind,
            deliveries.c.enrollment_id,
            deliveries.c.course_slug,
            deliveries.c.day,
            deliveries.c.claimed_at,
            subscribers.c.timezone,
            subscribers.c.send_time,
            deliveries.c.course_version,
        )
        .select_from(deliveries.join(subscribers, subscribers.c.id == deliveries.c.subscriber_id))
        .where(deliveries.c.state == DeliveryState.SENDING, deliveries.c.claimed_at < cutoff)
        .order_by(deliveries.c.claimed_at)
        .limit(limit)
    ).all()
    return [_Stale(*row) for row in rows]


def _evidence(session: Session, delivery_ids: list[int]) -> dict[int, datetime]:
    """Return, per delivery with evidence, when SendGrid first reported it."""
    events = EmailEvent.__table__
    rows = session.execute(
        select(events.c.delivery_id, func.min(events.c.occurred_at))
        .where(events.c.delivery_id.in_(delivery_ids), events.c.kind.in_(EVIDENCE_KINDS))
        .group_by(events.c.delivery_id)
    ).all()
    return {delivery_id: occurred_at for delivery_id, occurred_at in rows}


def resolve_stale_claims(runtime: Runtime, now: datetime, limit: int = 1000) -> Resolution:
    """Settle claims older than claim_timeout: sent when evidenced, resent after the grace.

    Run it after the pending webhook batches were ingested, so fresh evidence counts.
    """
    settings = runtime.settings
    resolution = Resolution()
    cutoff = now - timedelta(seconds=settings.claim_timeout_seconds)
    resend_cutoff = cutoff - timedelta(seconds=settings.evidence_grace_seconds)
    with runtime.session() as session:
        stale = _stale_claims(session, cutoff, limit)
        if not stale:
            return resolution
        evidence = _evidence(session, [claim.delivery_id for claim in stale])
        may_resend = not _unread_evidence_since(session, resend_cutoff)
        for claim in stale:
            seen_at = evidence.get(claim.delivery_id)
            if seen_at is not None:
                if _settle_as_sent(runtime, session, claim, seen_at):
                    resolution.sent_by_evidence += 1
            elif claim.claimed_at < resend_cutoff and may_resend:
                if release_claim(
                    session,
                    claim.delivery_id,
                    claimed_at=claim.claimed_at,
                    not_before=now,
                    error="claim expired without evidence of sending; sending again",
                ):
                    resolution.requeued += 1
            else:
                resolution.waiting += 1
    if resolution.sent_by_evidence or resolution.requeued:
        log.warning(
            "stale claims: %s sent by evidence, %s queued again, %s waiting for evidence",
            resolution.sent_by_evidence,
            resolution.requeued,
            resolution.waiting,
        )
    return resolution


def _settle_as_sent(runtime: Runtime, session: Session, claim: _Stale, seen_at: datetime) -> bool:
    try:
        # Read before any write: a failure skips it.
        runtime.courses.get_version(claim.course_slug, claim.course_version)
    except CourseError:
        log.exception("delivery %s: course %s is unreadable", claim.delivery_id, claim.course_slug)
        return False
    # The provider's message id is not in the event table; the events keep the delivery id.
    marked = record_accepted(
        session,
        [claim],
        message_id=None,
        sent_at=seen_at,
        courses=runtime.courses,
        settings=runtime.settings,
    )
    return bool(marked)
