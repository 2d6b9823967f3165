"""The core tables: subscribers, enrollments and deliveries, and the names of their states.

The other tables live in modules of their own: email events, the webhook inbox and counters
in store.events; consent, suppression, audit and admin accounts in store.trust; course
versions in store.courses; ratings and bookings in store.feedback; preference events, alerts
and the dashboard's rollups likewise. They are re-exported here, so `store.models` names
every table (and Alembic sees them all through Base.metadata).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from store.alerting import Alert, AlertState
from store.base import Base, BigId, UtcDateTime
from store.courses import CourseDraft, CourseRow, CourseVersion
from store.events import Counter, EmailEvent, WebhookBatch
from store.feedback import Conversion, LessonRating
from store.preferences import PreferenceEvent, PreferenceEventKind
from store.rollups import (
    Rollup,
    RollupCtaMark,
    RollupDelta,
    RollupEventMark,
    RollupUnsubscribeMark,
)
from store.trust import AdminAccount, AdminAuditEntry, ConsentEvent, ConsentEventKind, Suppression


class SubscriberStatus:
    """Subscriber states: pending until confirmed; the last three stop all mail."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    FORGOTTEN = "forgotten"


class EnrollmentStatus:
    """Enrollment states; only active ones are ever due."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DeliveryKind:
    """What a delivery sends: a lesson, a signup's confirmation, or a course's closing email."""

    LESSON = "lesson"
    CONFIRMATION = "confirmation"
    CLOSING = "closing"


# The day number a confirmation delivery carries: lessons run from day 1.
CONFIRMATION_DAY = 0
# The day number of a closing email: below every lesson, and unique per enrollment with the
# lessons' (enrollment_id, day), so an enrollment can never get two.
CLOSING_DAY = -1


class DeliveryState:
    """Delivery states: queued -> sending -> sent, or failed / skipped."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Subscriber(Base):
    """A person who signed up; personal data lives only here and is erased on forget."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.PENDING)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The reader's own hour for lessons ("HH:MM", local to timezone); None: the course's.
    send_time: Mapped[str | None] = mapped_column(String(5))
    course_slug: Mapped[str] = mapped_column(String(100))
    signup_source: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    confirmation_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(40))
    consent_ip_hash: Mapped[str | None] = mapped_column(String(64))
    unsubscribed_at: Mapped[datetime | None]
    suppressed_at: Mapped[datetime | None]
    suppression_reason: Mapped[str | None] = mapped_column(String(40))
    forgotten_at: Mapped[datetime | None]
    # Soft and "blocked" bounces in a row; N of them suppress (a delivered mail resets it).
    soft_bounce_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="subscriber")

    __table_args__ = (
        Index(None, "created_at"),
        # The dashboard's "address contains" search: trigrams on PostgreSQL (pg_trgm, made
        # by migration d4e5f6a7b8c9); SQLite has no such index and scans.
        Index(
            "ix_subscribers_email_search",
            func.lower(text("email")).label("email_lower"),
            postgresql_using="gin",
            postgresql_ops={"email_lower": "gin_trgm_ops"},
        ),
    )


class Enrollment(Base):
    """One run of a course for a subscriber; next_due_at says when the next lesson is due."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    course_slug: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=EnrollmentStatus.ACTIVE)
    next_day: Mapped[int] = mapped_column(Integer, default=1)
    next_due_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    # A pause for a set time ends here (the dispatcher resumes it); None: until resumed.
    paused_until: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Set when a publish left this enrollment on an older version: the hash it finishes on.
    course_version: Mapped[str | None] = mapped_column(String(64))

    subscriber: Mapped[Subscriber] = relationship(back_populates="enrollments")
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="enrollment")

    __table_args__ = (
        # The dispatcher's one query: active enrollments by due time. Partial, so its size
        # follows what can become due, not every enrollment ever made.
        Index(
            "ix_enrollments_due",
            "next_due_at",
            postgresql_where=text("status = 'active' AND next_due_at IS NOT NULL"),
            sqlite_where=text("status = 'active' AND next_due_at IS NOT NULL"),
        ),
        Index(None, "subscriber_id"),
        Index(
            "ix_enrollments_pause_ends",
            "paused_until",
            postgresql_where=text("status = 'paused' AND paused_until IS NOT NULL"),
            sqlite_where=text("status = 'paused' AND paused_until IS NOT NULL"),
        ),
    )


class Delivery(Base):
    """One outgoing email and the truth of its send: a lesson, or a confirmation email.

    A lesson belongs to an enrollment and is unique per (enrollment, day). A confirmation
    has no enrollment and day CONFIRMATION_DAY; it is written in the signup transaction, so
    it is sent through the same claim, retry and evidence path even if Redis was down then.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(20), default=DeliveryKind.LESSON, server_default=DeliveryKind.LESSON
    )
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    course_slug: Mapped[str] = mapped_column(String(100))
    day: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    not_before: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    # A confirmation's: the first name typed with that signup, applied when it is confirmed.
    requested_name: Mapped[str | None] = mapped_column(String(100))
    # The time zone the signup's browser gave, applied when this confirmation is confirmed.
    requested_timezone: Mapped[str | None] = mapped_column(String(64))
    # The content hash of the course version this email was rendered from (set at claim).
    course_version: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    first_opened_at: Mapped[datetime | None]
    human_opens: Mapped[int] = mapped_column(Integer, default=0)
    machine_opens: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)

    enrollment: Mapped[Enrollment | None] = relationship(back_populates="deliveries")

    __table_args__ = (
        UniqueConstraint("enrollment_id", "day"),
        # Work the dispatcher (re)enqueues: queued rows by time, and claims that may be stale.
        Index(
            "ix_deliveries_queued",
            "not_before",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        Index(
            "ix_deliveries_sending",
            "claimed_at",
            postgresql_where=text("state = 'sending'"),
            sqlite_where=text("state = 'sending'"),
        ),
        Index(None, "subscriber_id"),
        Index(None, "course_slug", "day", "state"),
        # The alerts' 7-day rates (mail sent lately) and failures of the last day.
        Index(None, "sent_at"),
        Index(
            "ix_deliveries_failed",
            "claimed_at",
            postgresql_where=text("state = 'failed'"),
            sqlite_where=text("state = 'failed'"),
        ),
        # Webhook events without our delivery id tag are placed by the provider's message id.
        Index(None, "provider_message_id"),
        # Confirmations held back by the hourly ceiling, counted on every dashboard view.
        Index(
            "ix_deliveries_waiting_confirmations",
            "not_before",
            postgresql_where=text("state = 'queued' AND kind = 'confirmation' AND attempts = 0"),
            sqlite_where=text("state = 'queued' AND kind = 'confirmation' AND attempts = 0"),
        ),
    )


__all__ = [
    "AdminAccount",
    "AdminAuditEntry",
    "Alert",
    "AlertState",
    "Base",
    "BigId",
    "ConsentEvent",
    "ConsentEventKind",
    "Conversion",
    "Counter",
    "CourseDraft",
    "CourseRow",
    "CourseVersion",
    "EmailEvent",
    "LessonRating",
    "PreferenceEvent",
    "PreferenceEventKind",
    "Rollup",
    "RollupCtaMark",
    "RollupDelta",
    "RollupEventMark",
    "RollupUnsubscribeMark",
    "Suppression",
    "UtcDateTime",
    "WebhookBatch",
]


# Core tables, for statements on hot paths: plain SQL, no ORM identity map or unit of work.
subscribers_table: Table = Subscriber.__table__  # type: ignore[assignment]
enrollments_table: Table = Enrollment.__table__  # type: ignore[assignment]
deliveries_table: Table = Delivery.__table__  # type: ignore[assignment]
email_events_table: Table = EmailEvent.__table__  # type: ignore[assignment]
# What a Core statement runs on: a Connection, or the connection of an ORM Session.
Executor = Session | Connection
