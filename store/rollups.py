"""The dashboard's running counts: rollups, their pending deltas, and the marks behind them.

Database triggers (tracking.rollup_sql, installed by a migration) keep these tables exact in
the same transaction as every change to subscribers, deliveries and email events; nothing in
the application writes them except the fold (tracking.rollups), which moves deltas into the
rollups, and a rebuild from the raw tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class Rollup(Base):
    """One running count: of METRIC for a course and day (0 for course-wide ones)."""

    __tablename__ = "rollups"

    course_slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_rollups_metric", "metric", "course_slug", "day"),)


class RollupDelta(Base):
    """A change to a rollup not folded in yet: append-only, so writers never wait on a row."""

    __tablename__ = "rollup_deltas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    course_slug: Mapped[str] = mapped_column(String(100))
    day: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(60))
    value: Mapped[int] = mapped_column(BigInteger)


class RollupEventMark(Base):
    """A subscriber counted once for a lesson's bounces, complaints or unsubscribes, by kind."""

    __tablename__ = "rollup_event_marks"

    course_slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class RollupUnsubscribeMark(Base):
    """A subscriber who left through our own link, and the lesson that unsubscribe counts on."""

    __tablename__ = "rollup_unsubscribe_marks"

    subscriber_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    course_slug: Mapped[str] = mapped_column(String(100))
    day: Mapped[int] = mapped_column(Integer)


class RollupCtaMark(Base):
    """A reader who clicked a lesson's call to action; IS_FIRST on their first click's lesson."""

    __tablename__ = "rollup_cta_marks"

    subscriber_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    course_slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_first: Mapped[bool] = mapped_column(Boolean)
