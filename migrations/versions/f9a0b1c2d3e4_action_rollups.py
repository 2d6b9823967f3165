"""action rollups: the call to action and lesson ratings kept by triggers; dashboard indexes

Revision ID: f9a0b1c2d3e4
Revises: d4e5f6a7b8c9
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracking import rollup_triggers, rollups

revision: str = "f9a0b1c2d3e4"
down_revision: str | None = "d7e8f9a0b1c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COMMENTED = sa.text("comment IS NOT NULL")


def _reinstall(connection: sa.Connection) -> None:
    """Install the triggers the schema now calls for, and recount every rollup."""
    rollup_triggers.install(connection)
    rollups.rebuild(connection)


def upgrade() -> None:
    connection = op.get_bind()
    rollup_triggers.uninstall(connection)
    op.create_table(
        "rollup_cta_marks",
        sa.Column("subscriber_id", BigId, primary_key=True),
        sa.Column("course_slug", sa.String(100), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("is_first", sa.Boolean(), nullable=False),
    )
    # The alerts' reporters of the last 7 days, counted from the index alone.
    op.drop_index("ix_email_events_kind_occurred_at", table_name="email_events")
    op.create_index(
        "ix_email_events_kind_occurred_at_subscriber_id",
        "email_events",
        ["kind", "occurred_at", "subscriber_id"],
    )
    # The dashboard's reasons for leaving per lesson, counted from the index alone.
    op.drop_index("ix_preference_events_kind_course_slug_day", table_name="preference_events")
    op.create_index(
        "ix_preference_events_kind_course_slug_day_value",
        "preference_events",
        ["kind", "course_slug", "day", "value"],
    )
    # The dashboard's newest comments: read from the top of an index, not sorted.
    op.create_index(
        "ix_lesson_ratings_comments",
        "lesson_ratings",
        ["course_slug", "commented_at"],
        postgresql_where=COMMENTED,
        sqlite_where=COMMENTED,
    )
    op.create_index(
        "ix_preference_events_comments",
        "preference_events",
        ["kind", "course_slug", "occurred_at"],
        postgresql_where=COMMENTED,
        sqlite_where=COMMENTED,
    )
    _reinstall(connection)


def downgrade() -> None:
    connection = op.get_bind()
    rollup_triggers.uninstall(connection)
    op.drop_index("ix_preference_events_comments", table_name="preference_events")
    op.drop_index("ix_lesson_ratings_comments", table_name="lesson_ratings")
    op.drop_index("ix_preference_events_kind_course_slug_day_value", table_name="preference_events")
    op.create_index(
        "ix_preference_events_kind_course_slug_day",
        "preference_events",
        ["kind", "course_slug", "day"],
    )
    op.drop_index("ix_email_events_kind_occurred_at_subscriber_id", table_name="email_events")
    op.create_index("ix_email_events_kind_occurred_at", "email_events", ["kind", "occurred_at"])
    op.drop_table("rollup_cta_marks")
    _reinstall(connection)
