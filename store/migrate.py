"""Apply and create Alembic migrations without an alembic.ini: the URL comes from settings."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at our migrations and the database at URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is a ConfigParser: a literal % (percent-encoded passwords) must be %%.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database schema up to REVISION."""
    command.upgrade(alembic_config(url), revision)


def make_revision(message: str, url: str) -> None:
    """Autogenerate a migration by comparing the models with the database at URL."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def schema_revisions(engine: Engine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (the revisions ENGINE's database is at, the migration scripts' heads).

    Equal means the schema is current; an empty first tuple means it was never migrated.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return tuple(sorted(current)), tuple(sorted(heads))
