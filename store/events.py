"""What happened to sent mail (email events), the webhook inbox, and anonymous counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class EmailEvent(Base):
    """Something that happened to a sent email: a SendGrid event, an open or a click."""

    __tablename__ = "email_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    # The provider's event id, or our own key for an open or click: a replay stores nothing.
    event_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    course_slug: Mapped[str | None] = mapped_column(String(100))
    day: Mapped[int | None] = mapped_column(Integer)
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]

    __table_args__ = (
        Index(None, "delivery_id", "kind"),
        Index(None, "subscriber_id"),
        # No (course_slug, day, kind) index: the per-lesson counts come from the rollups.
        Index(None, "occurred_at"),
        # The alerts' complaints and bounces of the last 7 days: rare kinds, a short range,
        # and the reporters counted from the index alone.
        Index(None, "kind", "occurred_at", "subscriber_id"),
    )


class WebhookBatch(Base):
    """A verified webhook body, kept until processed so no event is lost while workers are down."""

    __tablename__ = "webhook_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    body: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_webhook_batches_pending",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )


class Counter(Base):
    """Anonymous counts that outlive erased subscribers (GDPR forget keeps the numbers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
