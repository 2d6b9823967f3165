"""course versions: courses, their immutable versions and drafts; the version per delivery

Revision ID: b4c5d6e7f8a9
Revises: c7d8e9f0a1b2
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.base

revision: str = "b4c5d6e7f8a9"
down_revision: str | None = "a3b4c5d6e7f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = store.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("live_hash", sa.String(length=64), nullable=True),
        sa.Column("live_number", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_courses")),
    )
    op.create_table(
        "course_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["slug"],
            ["courses.slug"],
            name=op.f("fk_course_versions_slug_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_versions")),
        sa.UniqueConstraint("slug", "number", name=op.f("uq_course_versions_slug_number")),
    )
    op.create_index(op.f("ix_course_versions_content_hash"), "course_versions", ["content_hash"])
    op.create_table(
        "course_drafts",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("base_number", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["slug"],
            ["courses.slug"],
            name=op.f("fk_course_drafts_slug_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_course_drafts")),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_version", sa.String(length=64), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("course_version")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("course_version")
    op.drop_table("course_drafts")
    op.drop_index(op.f("ix_course_versions_content_hash"), table_name="course_versions")
    op.drop_table("course_versions")
    op.drop_table("courses")
