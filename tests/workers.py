"""Helpers for tests that run real Celery workers: in a thread, or as killable subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from config import get_settings, reset_settings_cache
from config.celery import celery_settings
from tasks.app import celery_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def point_celery_at_settings() -> None:
    """Reconfigure the shared Celery app for the current settings (the test's Redis db)."""
    celery_app.conf.update(celery_settings(get_settings()))
    # Forget pooled broker connections made for an earlier test's Redis database.
    celery_app._after_fork()


def flush_redis(url: str) -> None:
    """Empty one Redis database."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def queue_length(url: str, queue: str = "celery") -> int:
    """Return how many messages wait in a Celery queue on Redis."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


@contextmanager
def thread_worker(concurrency: int = 4, pool: str = "threads") -> Iterator[Any]:
    """Run a real Celery worker for tasks.app.celery_app in a thread of this process."""
    point_celery_at_settings()
    with start_worker(
        celery_app,
        pool=pool,
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    ) as worker:
        yield worker


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll PREDICATE until it is true or TIMEOUT seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class WorkerProcess:
    """A `celery worker` subprocess that a test can SIGKILL and start again."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        concurrency: int = 16,
        pool: str = "threads",
    ) -> None:
        """Remember how to start the worker; call start() to run it."""
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.concurrency = concurrency
        self.pool = pool
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start the worker process (appending to its log)."""
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.app:celery_app",
            "worker",
            f"--pool={self.pool}",
            f"--concurrency={self.concurrency}",
            f"--hostname={self.name}@%h",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL the worker: no shutdown, no acks, in-flight sends cut wherever they are."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        """Stop the worker if it runs (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def alive(self) -> bool:
        """Tell whether the process is running."""
        return self.process is not None and self.process.poll() is None


# Redis databases reserved for the lesson pipeline's tests and benchmarks (others use 13).
LESSON_REDIS_URL = os.environ.get("NURTURE_TEST_LESSON_REDIS_URL", "redis://127.0.0.1:6379/4")


@pytest.fixture
def lesson_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The conftest settings, with Celery on this suite's own Redis database (flushed)."""
    monkeypatch.setenv("NURTURE_REDIS_URL", LESSON_REDIS_URL)
    reset_settings_cache()
    flush_redis(LESSON_REDIS_URL)
    point_celery_at_settings()
    yield get_settings()
    flush_redis(LESSON_REDIS_URL)
    reset_settings_cache()


@pytest.fixture
def sendgrid_fake(lesson_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real HTTP fake SendGrid in this process, living on the injectable clock.

    Its X-RateLimit-Reset is computed from store.clock, so a test on a frozen clock sees the
    same "now" in the fake and in the backend that reads the header.
    """
    from fake_sendgrid import FakeSendGrid

    from emails.backends import reset_backend_cache
    from store.clock import utcnow

    fake = FakeSendGrid(api_key="test-key", timestamp=lambda: utcnow().timestamp()).start()
    monkeypatch.setenv("NURTURE_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", "test-key")
    monkeypatch.setenv("NURTURE_SENDGRID_HOST", fake.url)
    reset_settings_cache()
    reset_backend_cache()
    yield fake
    fake.stop()
    reset_backend_cache()
    reset_settings_cache()
