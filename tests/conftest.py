"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, Redis, and settings."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import launch_chromium
from helpers import fresh_redis, set_nurture_env
from sqlalchemy import create_engine, text

from config import Settings, get_settings, reset_settings_cache
from store import clock
from store.db import dispose_engines
from store.migrate import upgrade
from store.models import Base

POSTGRES_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("NURTURE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


POSTGRES_UP = _postgres_reachable()
if os.environ.get("CI") and not POSTGRES_UP:
    raise RuntimeError(f"CI must test PostgreSQL, but {POSTGRES_URL} is unreachable")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per run; each test copies it (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    """Reset the PostgreSQL test database and migrate it once per run."""
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(POSTGRES_URL)
    return POSTGRES_URL


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Give each test an empty, migrated database: SQLite, then PostgreSQL when reachable."""
    if request.param == "sqlite":
        path = tmp_path / "nurture.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    if not POSTGRES_UP:
        pytest.skip("PostgreSQL is not reachable")
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate_postgres(url)
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Give each test an empty Redis database of its own number."""
    yield from fresh_redis(REDIS_TEST_URL)


@pytest.fixture
def settings(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Point every NURTURE_* setting at this test's database, Redis and folders."""
    set_nurture_env(
        monkeypatch,
        tmp_path,
        {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "BASE_URL": "http://nurture.test",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "ADMIN_PASSWORD": "test-admin-password",
            "MAIL_BACKEND": "outbox",
        },
    )
    dispose_engines()
    yield get_settings()
    clock.set_clock(None)
    dispose_engines()
    reset_settings_cache()


@pytest.fixture
def fake_sendgrid() -> Iterator[object]:
    """Run the fake SendGrid server (tests/fake_sendgrid.py) for one test."""
    from fake_sendgrid import FakeSendGrid

    server = FakeSendGrid(api_key="test-sendgrid-key").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Launch Debian's Chromium once for all browser tests (each makes its own contexts)."""
    yield from launch_chromium()
