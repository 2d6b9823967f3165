"""dashboard rollups: exact counts kept by triggers; message id and address search indexes

Revision ID: d4e5f6a7b8c9
Revises: c7d8e9f0a1b2
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracking import rollup_triggers, rollups

revision: str = "d4e5f6a7b8c9"
down_revision: str | None = "c5d6e7f8a9b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SEARCH_INDEX = "ix_subscribers_email_search"


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("course_slug", sa.String(100), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("metric", sa.String(60), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    # Readers ask for a few metrics; the quarter-hour signup counts outnumber them all.
    op.create_index("ix_rollups_metric", "rollups", ["metric", "course_slug", "day"])
    op.create_table(
        "rollup_deltas",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("course_slug", sa.String(100), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "rollup_event_marks",
        sa.Column("course_slug", sa.String(100), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(30), primary_key=True),
        sa.Column("subscriber_id", BigId, primary_key=True),
    )
    op.create_table(
        "rollup_unsubscribe_marks",
        sa.Column("subscriber_id", BigId, primary_key=True),
        sa.Column("course_slug", sa.String(100), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
    )
    op.create_index("ix_deliveries_provider_message_id", "deliveries", ["provider_message_id"])
    waiting = sa.text("state = 'queued' AND kind = 'confirmation' AND attempts = 0")
    op.create_index(
        "ix_deliveries_waiting_confirmations",
        "deliveries",
        ["not_before"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    # The funnel's old GROUP BY was its only reader; every event insert paid for it.
    op.drop_index("ix_email_events_course_slug_day_kind", table_name="email_events")
    connection = op.get_bind()
    rollup_triggers.install(connection)
    rollups.rebuild(connection)
    if connection.dialect.name == "postgresql":
        _search_index(connection)


def _search_index(connection: sa.Connection) -> None:
    """Index addresses by trigrams, so "contains" needs no scan of every subscriber."""
    try:
        # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may add it.
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        using = "gin (lower(email) gin_trgm_ops)"
    except sa.exc.DBAPIError:
        using = "btree (lower(email))"  # search still works, by a scan
    connection.exec_driver_sql(f"CREATE INDEX {SEARCH_INDEX} ON subscribers USING {using}")


def downgrade() -> None:
    connection = op.get_bind()
    connection.exec_driver_sql(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
    rollup_triggers.uninstall(connection)
    op.drop_table("rollup_unsubscribe_marks")
    op.drop_table("rollup_event_marks")
    op.drop_table("rollup_deltas")
    op.drop_index("ix_rollups_metric", table_name="rollups")
    op.drop_table("rollups")
    op.drop_index("ix_deliveries_provider_message_id", table_name="deliveries")
    op.drop_index("ix_deliveries_waiting_confirmations", table_name="deliveries")
    op.create_index(
        "ix_email_events_course_slug_day_kind", "email_events", ["course_slug", "day", "kind"]
    )
