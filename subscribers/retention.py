"""Retention: personal data is kept only as long as it serves the course (run by beat, or by hand).

- An unconfirmed signup is erased once NURTURE_UNCONFIRMED_RETENTION_DAYS (30) passed since
  its last confirmation email was written, and no newer one is on its way.
- A person who finished the course, unsubscribed or was stopped by a bounce or complaint is
  anonymised once NURTURE_INACTIVE_RETENTION_MONTHS (24) passed since then.
- A processed webhook body is deleted NURTURE_WEBHOOK_BATCH_RETENTION_DAYS (7) after it was
  processed; its events are stored by then, without the body.
- A reader's comment on a lesson is deleted NURTURE_FEEDBACK_COMMENT_RETENTION_MONTHS (12)
  after it was written: the clinic has read it by then; the "ja" or "nee" stays.

Erasing means what `subscribers forget` does (subscribers.privacy.erase_subscriber): the row
stays, anonymous, with status "forgotten". Deleting it instead would make the numbers lie:
the funnel and the signups chart count subscriber rows, and the per-lesson numbers count
deliveries and events that belong to one. The anonymous row holds no address, name, IP
hash, source or time zone; only the course and the dates. Each erasure also adds one to an
anonymous counter (RETENTION_UNCONFIRMED, RETENTION_INACTIVE), apart from the `forget` one.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from runtime import Runtime
from store.erasure_lock import hold_for_erasure
from store.models import (
    Delivery,
    DeliveryKind,
    Enrollment,
    EnrollmentStatus,
    LessonRating,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import caps, counters
from subscribers.privacy import erase_subscriber

log = logging.getLogger(__name__)

RETENTION_UNCONFIRMED = "subscribers.retention_unconfirmed_erased"
RETENTION_INACTIVE = "subscribers.retention_inactive_anonymised"
# Subscribers erased per transaction: short locks, and progress kept if a later one fails.
CHUNK = 200


@dataclass
class RetentionReport:
    """What one retention run erased and deleted."""

    unconfirmed_erased: int = 0
    inactive_anonymised: int = 0
    webhook_batches_deleted: int = 0
    hourly_windows_pruned: int = 0
    comments_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the numbers as a plain dict (a task's result, a log line)."""
        return asdict(self)


def months_before(moment: datetime, months: int) -> datetime:
    """Return MOMENT moved back MONTHS calendar months (the 31st becomes the month's last)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _no_confirmation_since(cutoff: datetime) -> ColumnElement[bool]:
    """True for subscribers with no confirmation email written at or after CUTOFF.

    A person who signed up again (to come back, or to get a new link) is not erased under
    a confirmation they may be about to click.
    """
    recent = exists().where(
        Delivery.subscriber_id == Subscriber.id,
        Delivery.kind == DeliveryKind.CONFIRMATION,
        Delivery.created_at >= cutoff,
    )
    return and_(
        ~recent,
        or_(Subscriber.confirmation_sent_at.is_(None), Subscriber.confirmation_sent_at < cutoff),
    )


def unconfirmed_before(cutoff: datetime) -> ColumnElement[bool]:
    """Select pending signups made before CUTOFF with no confirmation email since."""
    return and_(
        Subscriber.status == SubscriberStatus.PENDING,
        Subscriber.created_at < cutoff,
        _no_confirmation_since(cutoff),
    )


def inactive_before(cutoff: datetime) -> ColumnElement[bool]:
    """Select people whose mail stopped before CUTOFF: finished, unsubscribed or suppressed."""
    mine = Enrollment.subscriber_id == Subscriber.id
    finished = and_(
        Subscriber.status == SubscriberStatus.CONFIRMED,
        exists().where(mine, Enrollment.completed_at < cutoff),
        # Nothing running or paused, and nothing that ended since the cutoff.
        ~exists().where(
            mine,
            or_(
                Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]),
                Enrollment.completed_at >= cutoff,
                Enrollment.cancelled_at >= cutoff,
            ),
        ),
    )
    unsubscribed = and_(
        Subscriber.status == SubscriberStatus.UNSUBSCRIBED, Subscriber.unsubscribed_at < cutoff
    )
    suppressed = and_(
        Subscriber.status == SubscriberStatus.SUPPRESSED, Subscriber.suppressed_at < cutoff
    )
    return and_(or_(finished, unsubscribed, suppressed), _no_confirmation_since(cutoff))


def _erase_where(runtime: Runtime, condition: ColumnElement[bool], counter: str) -> int:
    """Erase every subscriber matching CONDITION, CHUNK per transaction; return how many."""
    erased = 0
    keys = runtime.settings.secret_keys
    while True:
        with runtime.session() as session:
            # Before the rows are locked (store.erasure_lock). The ingest and the drain of
            # hits wait for the chunk meanwhile; their input stays queued, nothing is lost.
            hold_for_erasure(session)
            chunk = _locked_chunk(session, condition)
            now = runtime.now()
            for subscriber in chunk:
                erase_subscriber(session, subscriber, now, runtime.mail, keys=keys)
            if chunk:
                counters.increment(session, counter, len(chunk))
        erased += len(chunk)
        if len(chunk) < CHUNK:
            return erased


def _locked_chunk(session: Session, condition: ColumnElement[bool]) -> list[Subscriber]:
    # Locked and checked again in the erasing transaction: someone confirming right now
    # either finishes first (and no longer matches) or waits for the erasure.
    query = (
        select(Subscriber)
        .where(condition)
        .order_by(Subscriber.id)
        .limit(CHUNK)
        .with_for_update(of=Subscriber, skip_locked=True)
    )
    return list(session.scalars(query))


def delete_processed_batches(runtime: Runtime, cutoff: datetime) -> int:
    """Delete webhook bodies processed before CUTOFF; pending ones always stay."""
    with runtime.session() as session:
        deleted = session.execute(
            delete(WebhookBatch)
            .where(WebhookBatch.processed_at.is_not(None), WebhookBatch.processed_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return int(deleted or 0)


def delete_old_comments(runtime: Runtime, cutoff: datetime) -> int:
    """Delete lesson comments written before CUTOFF; the ratings themselves stay."""
    with runtime.session() as session:
        deleted = session.execute(
            update(LessonRating)
            .where(LessonRating.commented_at < cutoff)
            .values(comment=None, commented_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return int(deleted or 0)


def apply_retention(runtime: Runtime) -> RetentionReport:
    """Erase and delete whatever has outlived its retention period; return the numbers."""
    settings = runtime.settings
    now = runtime.now()
    report = RetentionReport(
        unconfirmed_erased=_erase_where(
            runtime,
            unconfirmed_before(now - timedelta(days=settings.unconfirmed_retention_days)),
            RETENTION_UNCONFIRMED,
        ),
        inactive_anonymised=_erase_where(
            runtime,
            inactive_before(months_before(now, settings.inactive_retention_months)),
            RETENTION_INACTIVE,
        ),
        webhook_batches_deleted=delete_processed_batches(
            runtime, now - timedelta(days=settings.webhook_batch_retention_days)
        ),
        comments_deleted=delete_old_comments(
            runtime, months_before(now, settings.feedback_comment_retention_months)
        ),
    )
    with runtime.session() as session:
        report.hourly_windows_pruned = caps.prune_spent_windows(session, now)
    log.info("retention: %s", report.as_dict())
    return report
