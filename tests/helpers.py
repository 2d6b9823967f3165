"""Small helpers shared by many tests: the test Redis database, NURTURE_* variables, the CLI."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

# The one Redis database the tests use; every test that touches it starts and ends empty.
REDIS_TEST_URL = os.environ.get("NURTURE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# Where a frozen clock starts: a Monday morning in Amsterdam's winter time.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def flush_redis(url: str) -> None:
    """Empty one Redis database."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def fresh_redis(url: str) -> Iterator[str]:
    """Yield URL's Redis database emptied, and empty it again afterwards (for fixtures)."""
    flush_redis(url)
    yield url
    flush_redis(url)


def set_nurture_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, values: dict[str, str]
) -> None:
    """Replace every NURTURE_* setting by VALUES (names without the prefix), run in TMP_PATH."""
    for name in list(os.environ):
        if name.startswith("NURTURE_") and not name.startswith("NURTURE_TEST_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(f"NURTURE_{name}", value)
    monkeypatch.chdir(tmp_path)  # keep a developer's .env out of the tests


def run_cli(*args: str, input: str | None = None) -> Result:
    """Run `nurture ARGS` in process through click's CliRunner."""
    from cli.main import cli

    return CliRunner().invoke(cli, list(args), input=input)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll PREDICATE until it is true or TIMEOUT seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def admin_headers(password: str = "test-admin-password") -> dict[str, str]:
    """Return the dashboard's HTTP Basic header for PASSWORD (the tests' admin password)."""
    token = base64.b64encode(f"beheer:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
