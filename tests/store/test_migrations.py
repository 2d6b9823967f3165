"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from store.migrate import alembic_config
from store.models import Base, EmailEvent

INITIAL_REVISION = "ae6976f5e9ad"


def test_migrated_schema_matches_the_models(runtime):
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_go_down_to_the_first_revision_and_back_up(runtime):
    url = runtime.settings.database_url
    runtime.engine.dispose()
    config = alembic_config(url)
    command.downgrade(config, INITIAL_REVISION)
    assert _current_revision(runtime) == INITIAL_REVISION
    command.upgrade(config, "head")
    assert _current_revision(runtime) == ScriptDirectory.from_config(config).get_current_head()

    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
    now = runtime.now()
    row = {
        "kind": "open",
        "source": "pixel",
        "event_key": "same-key",
        "occurred_at": now,
        "recorded_at": now,
    }
    with runtime.transaction() as connection:
        connection.execute(insert(EmailEvent), [row])
    with pytest.raises(IntegrityError), runtime.transaction() as connection:
        connection.execute(insert(EmailEvent), [row])
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(EmailEvent)) == 1


def _current_revision(runtime):
    with runtime.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_alembic_config_keeps_a_percent_encoded_url():
    url = "postgresql+psycopg://postgres:p%40ss@127.0.0.1:5432/test"
    config = alembic_config(url)
    assert config.get_main_option("sqlalchemy.url") == url
