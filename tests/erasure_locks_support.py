"""Helpers of the PostgreSQL erasure-lock tests: pause a transaction, run `forget` beside it.

A test holds one counter row locked from a third connection, so the transaction that adds
to it stops just before its commit, with all its other work done. The other side then
starts on its own connection (`nurture subscribers forget` as a process, or work in a
thread), and the lock is let go.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from erasure_support import ERASED
from helpers import wait_until
from sqlalchemy import text

from runtime import Runtime
from subscribers import counters

NURTURE = str(Path(sys.executable).parent / "nurture")
WAIT_SECONDS = 15


@contextmanager
def counter_held(runtime: Runtime, name: str) -> Iterator[Callable[[], None]]:
    """Lock counter NAME's row from a third connection; yield the function that lets go."""
    with runtime.session() as session:
        counters.increment(session, name, 0)
    connection = runtime.engine.connect()
    transaction = connection.begin()
    connection.execute(text("SELECT 1 FROM counters WHERE name = :n FOR UPDATE"), {"n": name})

    def release() -> None:
        if transaction.is_active:
            transaction.rollback()

    try:
        yield release
    finally:
        release()
        connection.close()


def lock_waits(runtime: Runtime) -> int:
    """Return how many connections to the test database wait for a lock right now."""
    with runtime.engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(connection.execute(text(query)).scalar_one())


class Running(threading.Thread):
    """Run WORK(runtime) in a thread of this process; join() returns its result."""

    def __init__(self, work: Callable[[Runtime], Any], runtime: Runtime) -> None:
        super().__init__(daemon=True)
        self.work, self.runtime = work, runtime
        self.result: Any = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.work(self.runtime)
        except BaseException as exc:  # handed to the test in join()
            self.error = exc

    def join(self, timeout: float | None = WAIT_SECONDS) -> Any:
        super().join(timeout)
        assert not self.is_alive(), "still waiting"
        if self.error is not None:
            raise self.error
        return self.result


def start_forget(email: str = ERASED) -> subprocess.Popen[bytes]:
    """Start `nurture subscribers forget --yes EMAIL` in a process of its own (test env)."""
    command = [NURTURE, "subscribers", "forget", "--yes", email]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for PROCESS; return its exit code and its output."""
    out, err = process.communicate(timeout=WAIT_SECONDS)
    return process.returncode, (out + err).decode()


def during_forget(runtime: Runtime, work: Callable[[Runtime], Any]) -> Any:
    """Run WORK while a forget of the erased address is under way; return WORK's result.

    The forget stops at its count with all its erasing done (and its locks held); WORK
    starts then, in a thread, and may wait for the forget or not: either way the forget is
    let go next, and both finish.
    """
    with counter_held(runtime, counters.FORGOTTEN) as release:
        erasing = start_forget()
        assert wait_for_locks(runtime, 1)
        running = Running(work, runtime)
        # A recorder that takes the erasure lock waits here; one that doesn't may not.
        wait_for_locks(runtime, 2, unless=lambda: not running.is_alive())
        release()
        code, output = finished(erasing)
        assert code == 0, output
        return running.join()


def wait_for_locks(
    runtime: Runtime, count: int, unless: Callable[[], bool] = lambda: False
) -> bool:
    """Wait until COUNT connections wait for a lock (or UNLESS is true); True if they do."""
    wait_until(lambda: lock_waits(runtime) == count or unless(), WAIT_SECONDS)
    return lock_waits(runtime) == count
