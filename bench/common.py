"""Shared benchmark plumbing: settings, runtime, a scratch PostgreSQL database, a free port,
timing, tables.

Imported by the bench_*.py scripts, which run as `python bench/NAME.py`: Python puts bench/ on
sys.path, so `import common` finds this module, and importing it puts the project root there.

Each script has its own scratch PostgreSQL database and Redis db. Two environment variables
point every script elsewhere instead (say, at resources no test run shares):
- BENCH_PG_DATABASE: the name of the scratch database (dropped and created by the script);
- BENCH_REDIS_URL: the Redis database (flushed by the script).
BENCH_PG_ADMIN is the URL a script connects to when it drops and creates its database.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from delivery.background import Enqueue
    from delivery.dispatcher import DispatchReport
    from runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def bench_database(default: str) -> str:
    """Return the scratch database name: BENCH_PG_DATABASE if set, else the script's DEFAULT."""
    return os.environ.get("BENCH_PG_DATABASE") or default


def bench_redis_url(default: str) -> str:
    """Return the Redis URL: BENCH_REDIS_URL if set, else the script's DEFAULT."""
    return os.environ.get("BENCH_REDIS_URL") or default


def set_nurture_env(**values: str) -> dict[str, str]:
    """Replace every NURTURE_* variable by VALUES (names without the prefix); return the env.

    The returned copy of the environment is what a server started in a subprocess should get.
    """
    for name in [name for name in os.environ if name.startswith("NURTURE_")]:
        del os.environ[name]
    os.environ.update({f"NURTURE_{name.upper()}": value for name, value in values.items()})
    return dict(os.environ)


def database_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Return the URL of database NAME on the server of ADMIN_URL."""
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def recreate_database(name: str, *, admin_url: str = PG_ADMIN_URL, migrate: bool = True) -> str:
    """Drop and create the scratch PostgreSQL database NAME, migrate it, and return its URL."""
    from sqlalchemy import create_engine, text

    # DROP and CREATE DATABASE refuse to run inside a transaction.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()
    url = database_url(name, admin_url)
    if migrate:
        from store.migrate import upgrade

        upgrade(url)
    return url


def build_bench_runtime(clock: Callable[[], datetime] | None = None) -> Runtime:
    """Build the runtime from the NURTURE_* environment, as a service process does.

    Also creates the Celery app for those settings (the default app of @shared_task), so
    tasks.publish.publish_sends and apply_async publish to the benchmark's Redis.
    """
    from config import load_settings
    from runtime import build_runtime
    from tasks.app import attach_runtime, create_celery

    settings = load_settings()
    runtime = build_runtime(settings, clock=clock)
    attach_runtime(create_celery(settings), runtime)
    return runtime


def dispatch_pass(
    runtime: Runtime, enqueue: Enqueue | None = None, *, batch_size: int | None = None
) -> DispatchReport:
    """Run one dispatcher pass as the beat's task does: webhook evidence first, then the pass.

    ENQUEUE publishes the delivery ids (default: tasks.publish.publish_sends, as deployed).
    """
    from delivery.dispatcher import run_dispatch_pass
    from tasks.publish import publish_sends
    from tracking.ingest import ingest_pending

    return run_dispatch_pass(
        runtime,
        enqueue or publish_sends,
        ingest_evidence=lambda: ingest_pending(runtime),
        batch_size=batch_size,
    )


def flush_redis(url: str) -> None:
    """Empty the Redis database at URL."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(work: Callable[[], object]) -> float:
    """Return the seconds WORK took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_time(work: Callable[[int], object], runs: int) -> float:
    """Return the median seconds of WORK(run) over RUNS runs, numbered from 0."""
    return statistics.median(timed(partial(work, run)) for run in range(runs))


def interleaved_times(
    works: Mapping[str, Callable[[], object]], runs: int
) -> dict[str, list[float]]:
    """Time each of WORKS once per round for RUNS rounds; return the seconds of each run.

    Interleaving spreads background load over the baseline and the candidates alike.
    """
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            times[name].append(timed(work))
    return times


def medians(samples: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Return the median of each named series of samples."""
    return {name: statistics.median(values) for name, values in samples.items()}


def results_table(title: str, *columns: str, labels: int = 1) -> Table:
    """Return a table with COLUMNS: the first LABELS left-aligned, the numbers right-aligned."""
    table = Table(title=title)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < labels else "right")
    return table


def ratio(value: float, baseline: float, digits: int = 2, suffix: str = "") -> str:
    """Format VALUE / BASELINE for a table's ratio column."""
    return f"{value / baseline:.{digits}f}{suffix}"
