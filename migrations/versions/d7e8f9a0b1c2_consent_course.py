"""consent events name their course: one person can follow several courses

Revision ID: d7e8f9a0b1c2
Revises: e1f2a3b4c5d6
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7e8f9a0b1c2"
down_revision: str | None = "d4e5f6a7b8c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and not backfilled: consent events are append-only (a trigger refuses UPDATE
    # on PostgreSQL); an older event without a course is one of the subscriber's first course.
    op.add_column("consent_events", sa.Column("course_slug", sa.String(length=100)))


def downgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_column("course_slug")
