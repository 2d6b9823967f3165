"""trust: consent events (append-only), hashed suppressions, admin audit log

Revision ID: c7d8e9f0a1b2
Revises: b3c1d2e4f5a6
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.base

revision: str = "c7d8e9f0a1b2"
down_revision: str | None = "b3c1d2e4f5a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = store.base.UtcDateTime

# On PostgreSQL the consent history refuses to be rewritten, whatever the code does. The one
# change let through is the foreign key's own ON DELETE SET NULL, when a subscriber row goes.
APPEND_ONLY = """
CREATE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.subscriber_id IS NULL
       AND (NEW.id, NEW.kind, NEW.source, NEW.occurred_at, NEW.consent_version,
            NEW.consent_text_sha256, NEW.ip_hash, NEW.detail)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.kind, OLD.source, OLD.occurred_at, OLD.consent_version,
            OLD.consent_text_sha256, OLD.ip_hash, OLD.detail) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("consent_version", sa.String(length=40), nullable=True),
        sa.Column("consent_text_sha256", sa.String(length=64), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_consent_events_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        op.f("ix_consent_events_subscriber_id_occurred_at"),
        "consent_events",
        ["subscriber_id", "occurred_at"],
    )
    op.create_table(
        "suppressions",
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("address_hash", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", BigId, nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index(op.f("ix_admin_audit_occurred_at"), "admin_audit", ["occurred_at"])
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("soft_bounce_streak", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_name", sa.String(length=100), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER consent_events_append_only ON consent_events")
        op.execute("DROP FUNCTION consent_events_append_only()")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("requested_name")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("soft_bounce_streak")
    op.drop_index(op.f("ix_admin_audit_occurred_at"), table_name="admin_audit")
    op.drop_table("admin_audit")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_consent_events_subscriber_id_occurred_at"), table_name="consent_events")
    op.drop_table("consent_events")
