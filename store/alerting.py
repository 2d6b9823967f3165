"""The clinic's alert emails: one row per condition and day, sent like any other mail.

An alert is written before it is sent, so an outage of the mail provider delays it instead
of losing it; the unique (condition, day) makes "at most once a day per condition" hold for
any number of processes raising it at once. The row keeps the exact Dutch text that went
out, so the table is also the record of what the clinic was told and when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class AlertState:
    """Alert states: queued -> sending -> sent, or failed (the provider refused it for good)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Alert(Base):
    """One alert email to NURTURE_ALERT_EMAIL about one condition on one day."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    condition: Mapped[str] = mapped_column(String(40))
    # The day (in the clinic's time zone) this alert speaks for, as YYYY-MM-DD.
    day: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default=AlertState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("condition", "day"),
        Index(
            "ix_alerts_open",
            "not_before",
            postgresql_where=text("state IN ('queued', 'sending')"),
            sqlite_where=text("state IN ('queued', 'sending')"),
        ),
    )
