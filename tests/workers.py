"""Helpers for tests that run real Celery workers: in a thread, or as killable subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery.contrib.testing.worker import start_worker

from runtime import Runtime
from tasks.app import attach_runtime, create_celery

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def queue_length(url: str, queue: str = "celery") -> int:
    """Return how many messages wait in a Celery queue on Redis."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def unfinished_messages(url: str, queue: str = "celery") -> int:
    """Return how many messages wait in QUEUE, plus those any worker holds unacknowledged.

    Tasks ack late, so a message leaves Redis's `unacked` hash only when its task returned.
    """
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(queue)) + int(client.hlen("unacked"))
    finally:
        client.close()


@contextmanager
def publishing_app(runtime: Runtime) -> Iterator[Any]:
    """Make the Celery app this process publishes sends with (as `nurture dispatch` does)."""
    celery_app = create_celery(runtime.settings)
    attach_runtime(celery_app, runtime)
    try:
        yield celery_app
    finally:
        celery_app.close()


@contextmanager
def thread_worker(runtime: Runtime, concurrency: int = 4, pool: str = "threads") -> Iterator[Any]:
    """Run a real Celery worker in a thread of this process, on RUNTIME (and its clock)."""
    import tasks.dispatch
    import tasks.sending
    import tasks.tracking  # noqa: F401  (the worker runs their tasks)

    celery_app = create_celery(runtime.settings)
    attach_runtime(celery_app, runtime)
    with start_worker(
        celery_app,
        pool=pool,
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    ) as worker:
        yield worker


class WorkerProcess:
    """A `celery worker` subprocess that a test can SIGKILL and start again."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        concurrency: int = 16,
        pool: str = "threads",
        extra_args: Sequence[str] = (),
    ) -> None:
        """Remember how to start the worker; call start() to run it."""
        self.extra_args = list(extra_args)
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.concurrency = concurrency
        self.pool = pool
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start the worker process (appending to its log)."""
        # `nurture worker`, as deployed: its settings come from ENV.
        command = [
            sys.executable,
            "-m",
            "cli.main",
            "worker",
            f"--pool={self.pool}",
            f"--concurrency={self.concurrency}",
            f"--hostname={self.name}@%h",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *self.extra_args,
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
