"""closing emails and alerts: the alerts table; indexes for the alerts' rates and failures

Revision ID: a3b4c5d6e7f8
Revises: c7d8e9f0a1b2
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.base

revision: str = "a3b4c5d6e7f8"
down_revision: str | None = "f2a3b4c5d6e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = store.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("condition", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("raised_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("condition", "day", name=op.f("uq_alerts_condition_day")),
    )
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["not_before"],
        postgresql_where=sa.text("state IN ('queued', 'sending')"),
        sqlite_where=sa.text("state IN ('queued', 'sending')"),
    )
    op.create_index(op.f("ix_deliveries_sent_at"), "deliveries", ["sent_at"])
    op.create_index(
        op.f("ix_email_events_kind_occurred_at"), "email_events", ["kind", "occurred_at"]
    )
    op.create_index(
        "ix_deliveries_failed",
        "deliveries",
        ["claimed_at"],
        postgresql_where=sa.text("state = 'failed'"),
        sqlite_where=sa.text("state = 'failed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_failed", table_name="deliveries")
    op.drop_index(op.f("ix_email_events_kind_occurred_at"), table_name="email_events")
    op.drop_index(op.f("ix_deliveries_sent_at"), table_name="deliveries")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
