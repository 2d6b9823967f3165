"""What readers told us about lessons (ratings and comments), and bookings after a CTA click.

A rating counts once per reader per lesson (the last answer wins): one row per subscriber,
course and day. Comments are free text a reader typed, so they are personal data: `forget`
deletes them and unlinks the rating; retention deletes them after a while (subscribers.privacy,
subscribers.retention).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class LessonRating(Base):
    """A reader's answer to "Was deze les nuttig?" for one lesson, and their comment."""

    __tablename__ = "lesson_ratings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # NULL once the person is forgotten: the anonymous answer still counts for the lesson.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    course_slug: Mapped[str] = mapped_column(String(100))
    day: Mapped[int] = mapped_column(Integer)
    useful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime]
    commented_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("subscriber_id", "course_slug", "day"),
        Index(None, "course_slug", "day"),
        # The dashboard's newest comments, read from the top of this index.
        Index(
            "ix_lesson_ratings_comments",
            "course_slug",
            "commented_at",
            postgresql_where=text("comment IS NOT NULL"),
            sqlite_where=text("comment IS NOT NULL"),
        ),
    )


class Conversion(Base):
    """A booking the clinic's booking page reported for one lesson's call to action."""

    __tablename__ = "conversions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # One booking per lesson email: the booking page may report it again on a reload.
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), unique=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    course_slug: Mapped[str] = mapped_column(String(100))
    day: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]

    __table_args__ = (Index(None, "course_slug", "day"),)
