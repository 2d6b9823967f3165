"""feedback: lesson ratings with comments, and bookings reported for the call to action

Revision ID: f2a3b4c5d6e7
Revises: c7d8e9f0a1b2
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.base

revision: str = "f2a3b4c5d6e7"
down_revision: str | None = "e1f2a3b4c5d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = store.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "lesson_ratings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("delivery_id", BigId, nullable=True),
        sa.Column("course_slug", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("useful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("commented_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_lesson_ratings_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_lesson_ratings_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_ratings")),
        sa.UniqueConstraint(
            "subscriber_id",
            "course_slug",
            "day",
            name=op.f("uq_lesson_ratings_subscriber_id_course_slug_day"),
        ),
    )
    op.create_index(
        op.f("ix_lesson_ratings_course_slug_day"), "lesson_ratings", ["course_slug", "day"]
    )
    op.create_table(
        "conversions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("delivery_id", BigId, nullable=True),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("course_slug", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_conversions_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_conversions_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_conversions_delivery_id")),
    )
    op.create_index(op.f("ix_conversions_course_slug_day"), "conversions", ["course_slug", "day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_conversions_course_slug_day"), table_name="conversions")
    op.drop_table("conversions")
    op.drop_index(op.f("ix_lesson_ratings_course_slug_day"), table_name="lesson_ratings")
    op.drop_table("lesson_ratings")
