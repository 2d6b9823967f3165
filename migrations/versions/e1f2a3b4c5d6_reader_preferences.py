"""reader preferences: own send time and zone, timed pauses, preference events

Revision ID: e1f2a3b4c5d6
Revises: c7d8e9f0a1b2
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.base

revision: str = "e1f2a3b4c5d6"
down_revision: str | None = "c7d8e9f0a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = store.base.UtcDateTime
PAUSE_ENDS = "status = 'paused' AND paused_until IS NOT NULL"

# On PostgreSQL preference events refuse to be rewritten. Let through: a forget erasing the
# free text (comment) and the foreign key's own ON DELETE SET NULL; nothing else changes.
APPEND_ONLY = """
CREATE FUNCTION preference_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.subscriber_id IS NULL OR NEW.subscriber_id = OLD.subscriber_id)
       AND (NEW.comment IS NULL OR NEW.comment = OLD.comment)
       AND (NEW.id, NEW.kind, NEW.source, NEW.occurred_at, NEW.course_slug, NEW.day, NEW.value)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.source, OLD.occurred_at, OLD.course_slug, OLD.day, OLD.value)
       THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'preference_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER preference_events_append_only BEFORE UPDATE OR DELETE ON preference_events
    FOR EACH ROW EXECUTE FUNCTION preference_events_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "preference_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("course_slug", sa.String(length=100), nullable=True),
        sa.Column("day", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=100), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_preference_events_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_events")),
    )
    op.create_index(
        op.f("ix_preference_events_subscriber_id_occurred_at"),
        "preference_events",
        ["subscriber_id", "occurred_at"],
    )
    op.create_index(
        op.f("ix_preference_events_kind_course_slug_day"),
        "preference_events",
        ["kind", "course_slug", "day"],
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_time", sa.String(length=5), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_enrollments_pause_ends",
            ["paused_until"],
            unique=False,
            postgresql_where=sa.text(PAUSE_ENDS),
            sqlite_where=sa.text(PAUSE_ENDS),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER preference_events_append_only ON preference_events")
        op.execute("DROP FUNCTION preference_events_append_only()")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_enrollments_pause_ends",
            postgresql_where=sa.text(PAUSE_ENDS),
            sqlite_where=sa.text(PAUSE_ENDS),
        )
        batch_op.drop_column("paused_until")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("requested_timezone")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("send_time")
    op.drop_index(op.f("ix_preference_events_kind_course_slug_day"), table_name="preference_events")
    op.drop_index(
        op.f("ix_preference_events_subscriber_id_occurred_at"), table_name="preference_events"
    )
    op.drop_table("preference_events")
