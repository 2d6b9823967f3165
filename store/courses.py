"""The course tables: each course, its immutable published versions, and its one draft.

A version is a course's settings plus its lessons as JSON, with the SHA-256 of that JSON
(`content_hash`): workers load and cache a version by hash, and every delivery records the
hash it was rendered from. Versions are only ever added; publishing moves `live_hash`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class CourseRow(Base):
    """A course: its slug and the version new sends use (none until first published)."""

    __tablename__ = "courses"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    live_hash: Mapped[str | None] = mapped_column(String(64))
    live_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CourseVersion(Base):
    """One published state of a course; never changed after it is written."""

    __tablename__ = "course_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(ForeignKey("courses.slug", ondelete="CASCADE"))
    # 1, 2, 3… per course, in publishing order; a revert is a new number with old content.
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[Any] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("slug", "number"), Index(None, "content_hash"))


class CourseDraft(Base):
    """The course as an editor is changing it, before it is published (one per course)."""

    __tablename__ = "course_drafts"

    slug: Mapped[str] = mapped_column(
        ForeignKey("courses.slug", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[Any] = mapped_column(JSON)
    # The version the draft started from: publishing compares against the live one anyway.
    base_number: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
