"""Benchmark: one dispatcher pass with 10,000 due among 1,000,000 enrollments vs among 10,000.

Run: .venv/bin/python bench/bench_dispatcher.py [--due 10000] [--total 1000000] [--runs 5]

Rows are bulk-loaded with PostgreSQL COPY into the database `nurture_bench_dispatch`. Of the
large set, DUE are active and due now; the rest are a realistic mix: active and due later,
completed, cancelled. Each run resets the due rows and times one `run_dispatch_pass()`:
materialise (one indexed query, bulk insert, bulk update) and enqueue (stamp + publish of
DUE real Celery messages to Redis db 6, pipelined). The DB part alone is reported too.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ADMIN_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BENCH_DB = "nurture_bench_dispatch"
BENCH_URL = ADMIN_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
REDIS_URL = "redis://127.0.0.1:6379/6"

os.environ.update(
    {
        "NURTURE_ENV": "test",
        "NURTURE_DATABASE_URL": BENCH_URL,
        "NURTURE_REDIS_URL": REDIS_URL,
        "NURTURE_SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
        "NURTURE_MAIL_BACKEND": "outbox",
    }
)

import redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

NOW = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)
COURSE = "rugpijn-en-training"


def recreate_database() -> None:
    """Drop, create and migrate the benchmark database."""
    from store.migrate import upgrade

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    upgrade(BENCH_URL)


def load(total: int, due: int) -> None:
    """COPY TOTAL subscribers and enrollments; the first DUE enrollments are due at NOW."""
    from store.db import get_engine

    stamp = NOW.isoformat()
    later = (NOW + timedelta(days=1)).isoformat()
    subscribers = io.StringIO()
    enrollments = io.StringIO()
    for n in range(1, total + 1):
        subscribers.write(f"{n}\tlezer{n}@example.org\tconfirmed\t{COURSE}\t{stamp}\n")
        if n <= due:
            status, next_due = "active", stamp
        elif n % 3 == 0:
            status, next_due = "active", later
        elif n % 3 == 1:
            status, next_due = "completed", "\\N"
        else:
            status, next_due = "cancelled", "\\N"
        enrollments.write(f"{n}\t{n}\t{COURSE}\t{status}\t6\t{next_due}\t{stamp}\n")
    raw = get_engine().raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(  # type: ignore[attr-defined]
            "COPY subscribers (id, email, status, course_slug, created_at) FROM STDIN"
        ) as copy:
            copy.write(subscribers.getvalue())
        with cursor.copy(  # type: ignore[attr-defined]
            "COPY enrollments (id, subscriber_id, course_slug, status, next_day, next_due_at,"
            " started_at) FROM STDIN"
        ) as copy:
            copy.write(enrollments.getvalue())
        cursor.execute(f"UPDATE enrollments SET next_day = 1 WHERE id <= {due}")
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def reset_due(due: int) -> None:
    """Make the first DUE enrollments due again and forget their deliveries."""
    from store.db import get_engine

    with get_engine().begin() as connection:
        connection.execute(text("TRUNCATE deliveries CASCADE"))
        connection.execute(
            text("UPDATE enrollments SET next_due_at = :now WHERE id <= :due"),
            {"now": NOW, "due": due},
        )
    redis.Redis.from_url(REDIS_URL).flushdb()


def time_passes(due: int, runs: int) -> tuple[list[float], list[float]]:
    """Return pass times with real publishing, and with publishing left out."""
    from store.clock import FrozenClock, set_clock
    from tasks.dispatch import run_dispatch_pass

    set_clock(FrozenClock(NOW))
    full, database_only = [], []
    for _ in range(runs):
        reset_due(due)
        started = time.perf_counter()
        report = run_dispatch_pass(batch_size=due)
        full.append(time.perf_counter() - started)
        assert report.materialised == due and report.enqueued == due, report
        reset_due(due)
        started = time.perf_counter()
        report = run_dispatch_pass(batch_size=due, enqueue=lambda ids: None)
        database_only.append(time.perf_counter() - started)
        assert report.materialised == due
    return full, database_only


def main() -> None:
    """Load both sizes, time the passes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from workers import point_celery_at_settings

    from config import reset_settings_cache
    from store.db import dispose_engines

    console = Console()
    results = {}
    for total in (args.due, args.total):
        dispose_engines()
        recreate_database()
        reset_settings_cache()
        point_celery_at_settings()
        started = time.perf_counter()
        load(total, args.due)
        console.print(f"loaded {total:,} enrollments in {time.perf_counter() - started:.1f} s")
        results[total] = time_passes(args.due, args.runs)
    dispose_engines()

    small_full = statistics.median(results[args.due][0])
    small_db = statistics.median(results[args.due][1])
    table = Table(title=f"Dispatcher pass, {args.due:,} due; median of {args.runs} runs")
    table.add_column("enrollments")
    table.add_column("pass incl. enqueue", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("DB part (no publish)", justify="right")
    table.add_column("ratio", justify="right")
    for total, (full, database_only) in results.items():
        full_median = statistics.median(full)
        db_median = statistics.median(database_only)
        table.add_row(
            f"{total:,}",
            f"{full_median * 1000:,.0f} ms",
            f"{full_median / small_full:.2f}×",
            f"{db_median * 1000:,.0f} ms",
            f"{db_median / small_db:.2f}×",
        )
    console.print(table)
    console.print(
        f"Goal: < 1 s and ≤ 1.5× the {args.due:,} case. Conditions: {os.cpu_count()} CPUs "
        f"({platform.machine()}), Python {platform.python_version()}, local PostgreSQL "
        "(COPY-loaded, ANALYZEd), local Redis; publish = one Celery message per delivery, "
        "pipelined 1,000 per round trip (kombu Producer.batch)."
    )


if __name__ == "__main__":
    main()
