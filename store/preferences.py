"""The reader's own choices: append-only preference events (pause, resume, restart, hour, zone).

Like consent events, rows are only ever inserted. The one change allowed afterwards is the
erasure a forget makes: the free text a reader typed (`comment`) and the link to the
subscriber row go; the kind, the lesson day and the chosen reason stay, so the per-lesson
numbers on the dashboard stay right.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class PreferenceEventKind:
    """What a preference event records."""

    PAUSE = "pause"  # value: the end of the pause (ISO time) or "" for until resumed
    RESUME = "resume"  # value: "auto" when a timed pause ended by itself
    RESTART = "restart"  # the course again from day 1
    SEND_TIME = "send_time"  # value: "HH:MM"
    TIMEZONE = "timezone"  # value: an IANA zone name
    UNSUBSCRIBE_REASON = "unsubscribe_reason"  # value: a reason code; comment: free text


class PreferenceEvent(Base):
    """One change a reader made on their preferences page (or the clinic from the CLI)."""

    __tablename__ = "preference_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(30))
    # page, cli, dispatcher
    source: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    course_slug: Mapped[str | None] = mapped_column(String(100))
    # The last lesson the reader had been sent when they made the change (0: none yet).
    day: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(None, "subscriber_id", "occurred_at"),
        # The dashboard's reasons per lesson, counted from the index alone.
        Index(None, "kind", "course_slug", "day", "value"),
        # The dashboard's newest comments on leaving, read from the top of this index.
        Index(
            "ix_preference_events_comments",
            "kind",
            "course_slug",
            "occurred_at",
            postgresql_where=text("comment IS NOT NULL"),
            sqlite_where=text("comment IS NOT NULL"),
        ),
    )
