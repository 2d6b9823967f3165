"""confirmation emails are deliveries too; event keys named for what they are

Revision ID: b3c1d2e4f5a6
Revises: ae6976f5e9ad
Create Date: 2026-11-30 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3c1d2e4f5a6"
down_revision: str | None = "ae6976f5e9ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="lesson", nullable=False)
        )
        batch_op.alter_column(
            "enrollment_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        )
    # Two steps: SQLite's batch mode rebuilds the table, and a constraint on the new column
    # name added in the same rebuild is silently lost (the uniqueness replays rely on).
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_email_events_sg_event_id", type_="unique")
        batch_op.alter_column("sg_event_id", new_column_name="event_key")
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_email_events_event_key", ["event_key"])


def downgrade() -> None:
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_email_events_event_key", type_="unique")
        batch_op.alter_column("event_key", new_column_name="sg_event_id")
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_email_events_sg_event_id", ["sg_event_id"])
    op.execute("DELETE FROM deliveries WHERE kind = 'confirmation'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "enrollment_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        )
        batch_op.drop_column("kind")
