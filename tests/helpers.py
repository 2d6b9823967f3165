"""Small helpers shared by many tests: an emptied Redis database, NURTURE_* settings, the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result

from config import reset_settings_cache


def fresh_redis(url: str) -> Iterator[str]:
    """Yield URL's Redis database emptied, and empty it again afterwards (for fixtures)."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def redis_fixture(url: str) -> Any:
    """Return a `redis_url` fixture giving each test URL's Redis database, emptied.

    A test module assigns it to the name redis_url, overriding conftest's shared db 13.
    """

    @pytest.fixture
    def redis_url() -> Iterator[str]:
        yield from fresh_redis(url)

    return redis_url


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
    reset_settings_cache()


def run_cli(*args: str, input: str | None = None) -> Result:
    """Run `nurture ARGS` in process through click's CliRunner."""
    from cli.main import cli

    return CliRunner().invoke(cli, list(args), input=input)
