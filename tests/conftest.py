"""The fixtures every test shares: settings, runtime, app, client, runner, fake SendGrid,
a real Celery worker, a frozen clock, a webhook signer and Chromium, on SQLite and PostgreSQL
alike.

A test asks for what it needs; `runtime` is built from `settings` (and from `clock` when the
test asks for one), so no test clears a cache. Requesting `fake_sendgrid` switches the
settings to the SendGrid backend pointed at the fake.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_support import launch_chromium
from click.testing import Result
from helpers import REDIS_TEST_URL, T0, fresh_redis, run_cli, set_nurture_env
from sqlalchemy import create_engine, text

from config import Settings, load_settings
from runtime import Runtime, build_runtime
from store.clock import FrozenClock
from store.migrate import upgrade
from store.models import Base

POSTGRES_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"
SENDGRID_TEST_KEY = "test-sendgrid-key"


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
    """Give each test the test Redis database, emptied before and after."""
    yield from fresh_redis(REDIS_TEST_URL)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock standing at T0 until the test moves it; the runtime and the fake read it."""
    return FrozenClock(T0)


def _clock_of(request: pytest.FixtureRequest) -> FrozenClock | None:
    if "clock" in request.fixturenames:
        frozen: FrozenClock = request.getfixturevalue("clock")
        return frozen
    return None


@pytest.fixture
def fake_sendgrid(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Run the fake SendGrid server (tests/fake_sendgrid.py) for one test, on its clock."""
    from fake_sendgrid import FakeSendGrid

    frozen = _clock_of(request)
    now: Callable[[], float] = (lambda: frozen().timestamp()) if frozen else _wall_time
    server = FakeSendGrid(api_key=SENDGRID_TEST_KEY, timestamp=now).start()
    yield server
    server.stop()


def _wall_time() -> float:
    return datetime.now(UTC).timestamp()


@pytest.fixture
def signer() -> Any:
    """A SendGrid webhook signing key; requesting it puts its public key in the settings."""
    from tracking_support import SendGridSigner

    return SendGridSigner()


@pytest.fixture
def nurture_env(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Point every NURTURE_* variable at this test's database, Redis and folders.

    The environment, not only a Settings object: CLI runs and worker subprocesses read it.
    """
    values = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BASE_URL": "http://nurture.test",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "ADMIN_PASSWORD": "test-admin-password",
        "MAIL_BACKEND": "outbox",
    }
    if "signer" in request.fixturenames:
        values["SENDGRID_WEBHOOK_PUBLIC_KEY"] = request.getfixturevalue("signer").public_key
    if "fake_sendgrid" in request.fixturenames:
        fake = request.getfixturevalue("fake_sendgrid")
        values.update(
            MAIL_BACKEND="sendgrid", SENDGRID_API_KEY=SENDGRID_TEST_KEY, SENDGRID_HOST=fake.url
        )
    set_nurture_env(monkeypatch, tmp_path, values)
    return values


@pytest.fixture
def configure(nurture_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return configure(**values): set NURTURE_<NAME>=value on top and return new Settings."""

    def apply(**values: object) -> Settings:
        for name, value in values.items():
            monkeypatch.setenv(f"NURTURE_{name.upper()}", str(value))
        return load_settings()

    return apply


@pytest.fixture
def settings(nurture_env: dict[str, str]) -> Settings:
    """The settings of this test (see nurture_env)."""
    return load_settings()


@pytest.fixture
def make_runtime(request: pytest.FixtureRequest) -> Iterator[Callable[..., Runtime]]:
    """Return make_runtime(settings): a runtime on the test's clock, closed afterwards."""
    built: list[Runtime] = []

    def make(settings: Settings) -> Runtime:
        runtime = build_runtime(settings, clock=_clock_of(request))
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


@pytest.fixture
def runtime(settings: Settings, make_runtime: Callable[..., Runtime]) -> Runtime:
    """The runtime of this test: its settings, and its clock when it asked for one."""
    return make_runtime(settings)


@pytest.fixture
def app(runtime: Runtime) -> Any:
    """The Flask app on this test's runtime."""
    from web import create_app

    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(nurture_env: dict[str, str]) -> Callable[..., Result]:
    """Return run(*args, input=None): the `nurture` command, in process, on this test's env."""
    return run_cli


@pytest.fixture
def celery_worker(runtime: Runtime) -> Iterator[Any]:
    """A real Celery worker (a thread pool in this process) on this test's runtime and Redis."""
    from workers import thread_worker

    with thread_worker(runtime) as worker:
        yield worker


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Launch Debian's Chromium once for all browser tests (each makes its own contexts)."""
    yield from launch_chromium()
