"""Benchmark: one dispatcher pass with 10,000 due among 1,000,000 enrollments vs among 10,000.

Run: flock /tmp/nurture-bench.lock .venv/bin/python bench/bench_dispatcher.py
     [--due 10000] [--total 1000000] [--runs 5] [--batch 2000]
(smallest sensible run: --due 200 --total 2000 --runs 1 --batch 100)

Rows are bulk-loaded with PostgreSQL COPY into database `nurture_bench_dispatch`, one schema
per size, `size_<TOTAL>` (each runtime's connections set search_path to theirs). Of the large
set, DUE are active and due now; the rest are a realistic mix: active and due later,
completed, cancelled. The sizes take turns run by run (so outside load falls on both alike).
Each run resets the due rows, empties Redis db 6 and times one dispatcher pass
(`delivery.dispatcher.run_dispatch_pass` with webhook evidence ingested first, batch_size=BATCH,
publishing with tasks.publish.publish_sends), the body of the beat's dispatch task:
- pass: what the beat's task costs, start to return. It ingests webhook evidence, settles
  stale claims, materialises and stamps due deliveries (one statement per BATCH rows) and
  publishes one real send_batch message per batch of send_batch_size deliveries of a lesson
  to Redis; it returns only after the last message is in Redis;
- all in Redis: from the pass's start until its last publish returned (LLEN is then checked
  to be the number of batches, holding DUE ids); "first in Redis" is when workers could
  start on the first batch;
- DB part: the same pass with publishing left out.
A second table times publishing alone, DUE batches of one (the worst case: retries scattered
over time): `send_batch.apply_async` in a kombu Producer.batch against
tasks.publish.publish_sends, interleaved.
BENCH_PG_DATABASE and BENCH_REDIS_URL override the database and Redis (see common.py).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import common  # puts the project root on sys.path
from dispatcher_publish import time_publishing

sys.path.insert(0, str(common.ROOT / "tests"))

BENCH_DB = common.bench_database("nurture_bench_dispatch")
REDIS_URL = common.bench_redis_url("redis://127.0.0.1:6379/6")
NOW = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)
COURSE = "rugpijn-en-training"

common.set_nurture_env(
    env="test",
    database_url=common.database_url(BENCH_DB),  # runtime_for() picks a schema per size
    redis_url=REDIS_URL,
    secret_key="benchmark-secret-key-0123456789abcdef",
    mail_backend="outbox",
)

import redis  # noqa: E402
from rich.console import Console  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

if TYPE_CHECKING:
    from runtime import Runtime


def schema(total: int) -> str:
    """Return the schema holding the set of TOTAL enrollments."""
    return f"size_{total}"


def size_url(total: int) -> str:
    """Return the URL of BENCH_DB whose connections see only the schema of TOTAL."""
    # psycopg passes `options` to the server; %3D is the = of search_path=... in a URL.
    return f"{common.database_url(BENCH_DB)}?options=-csearch_path%3D{schema(total)}"


def create_size(total: int) -> None:
    """Create the (empty, migrated) schema for the set of TOTAL enrollments."""
    from store.migrate import upgrade

    engine = create_engine(common.database_url(BENCH_DB))
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema(total)}"))
    finally:
        engine.dispose()
    upgrade(size_url(total))


def runtime_for(total: int) -> Runtime:
    """Build a runtime on the set of TOTAL enrollments, its clock frozen at NOW."""
    from store.clock import FrozenClock

    os.environ["NURTURE_DATABASE_URL"] = size_url(total)
    return common.build_bench_runtime(clock=FrozenClock(NOW))


def load(runtime: Runtime, total: int, due: int) -> None:
    """COPY TOTAL subscribers and enrollments; the first DUE enrollments are due at NOW."""
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
    raw = runtime.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            "COPY subscribers (id, email, status, course_slug, created_at) FROM STDIN"
        ) as copy:
            copy.write(subscribers.getvalue())
        with cursor.copy(
            "COPY enrollments (id, subscriber_id, course_slug, status, next_day, next_due_at,"
            " started_at) FROM STDIN"
        ) as copy:
            copy.write(enrollments.getvalue())
        cursor.execute(f"UPDATE enrollments SET next_day = 1 WHERE id <= {due}")
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def reset_due(runtime: Runtime, due: int) -> None:
    """Make the first DUE enrollments due again, forget their deliveries, empty Redis."""
    with runtime.transaction() as connection:
        connection.execute(text("TRUNCATE deliveries CASCADE"))
        connection.execute(
            text("UPDATE enrollments SET next_due_at = :now WHERE id <= :due"),
            {"now": NOW, "due": due},
        )
    common.flush_redis(REDIS_URL)


class TimedPublish:
    """publish_sends, noting when each publish is in Redis (it runs on the pass's publisher)."""

    def __init__(self) -> None:
        """Start with nothing published."""
        self.done: list[float] = []
        self.messages = 0
        self.ids = 0
        self.lock = threading.Lock()

    def __call__(self, batches: Sequence[Sequence[int]]) -> None:
        """Publish BATCHES (a message each) and note the time."""
        from tasks.publish import publish_sends

        publish_sends(batches)
        with self.lock:
            self.done.append(time.perf_counter())
            self.messages += len(batches)
            self.ids += sum(len(batch) for batch in batches)


def time_passes(
    due: int, runtimes: dict[int, Runtime], runs: int, batch: int
) -> dict[int, dict[str, list[float]]]:
    """Return, per size and run: pass seconds, first and all in Redis, and the DB part.

    The sizes take turns run by run, so load from outside the benchmark falls on both alike.
    """
    client = redis.Redis.from_url(REDIS_URL)
    times: dict[int, dict[str, list[float]]] = {
        total: {"pass": [], "first": [], "all": [], "db": []} for total in runtimes
    }
    for _ in range(runs):
        for total, runtime in runtimes.items():
            reset_due(runtime, due)
            publish = TimedPublish()
            started = time.perf_counter()
            report = common.dispatch_pass(runtime, publish, batch_size=batch)
            times[total]["pass"].append(time.perf_counter() - started)
            times[total]["first"].append(min(publish.done) - started)
            times[total]["all"].append(max(publish.done) - started)
            assert report.materialised == due and report.enqueued == due, report
            assert publish.ids == due and client.llen("celery") == publish.messages
            reset_due(runtime, due)
            started = time.perf_counter()
            report = common.dispatch_pass(runtime, lambda batches: None, batch_size=batch)
            times[total]["db"].append(time.perf_counter() - started)
            assert report.materialised == due
    client.close()
    return times


def ms(seconds: float) -> str:
    """Format SECONDS as whole milliseconds."""
    return f"{seconds * 1000:,.0f} ms"


def main() -> None:
    """Load both sizes, time the passes and publishing, print the tables and conditions."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2_000, help="rows per dispatcher statement")
    args = parser.parse_args()
    console = Console(width=120)
    load_before = os.getloadavg()
    totals = tuple(dict.fromkeys((args.due, args.total)))  # one set when they are equal
    common.recreate_database(BENCH_DB, migrate=False)
    runtimes: dict[int, Runtime] = {}
    for total in totals:
        create_size(total)
        runtimes[total] = runtime_for(total)
        started = time.perf_counter()
        load(runtimes[total], total, args.due)
        console.print(f"loaded {total:,} enrollments in {time.perf_counter() - started:.1f} s")
    results = time_passes(args.due, runtimes, args.runs, args.batch)
    publishing = time_publishing(args.due, args.runs, REDIS_URL)
    with runtimes[args.total].engine.connect() as connection:
        postgres = connection.execute(text("SHOW server_version")).scalar()
    for runtime in runtimes.values():
        runtime.close()
    redis_version = redis.Redis.from_url(REDIS_URL).info()["redis_version"]
    load_after = os.getloadavg()

    median = {total: common.medians(samples) for total, samples in results.items()}
    small = median[args.due]
    table = common.results_table(
        f"Dispatcher pass, {args.due:,} due, {args.batch:,} rows per statement; "
        f"median of {args.runs} runs",
        "enrollments",
        "pass (beat's task)",
        "ratio",
        "first in Redis",
        "all in Redis",
        "DB part (no publish)",
        "ratio",
    )
    for total, row in median.items():
        table.add_row(
            f"{total:,}",
            ms(row["pass"]),
            common.ratio(row["pass"], small["pass"], suffix="×"),
            ms(row["first"]),
            ms(row["all"]),
            ms(row["db"]),
            common.ratio(row["db"], small["db"], suffix="×"),
        )
    console.print(table)
    publish_table = common.results_table(
        f"Publishing {args.due:,} one-delivery batches alone; median of {args.runs}, interleaved",
        "how",
        "time",
        "messages/s",
    )
    for name, label in (
        ("apply_async", "send_batch.apply_async in Producer.batch"),
        ("publish_sends", "tasks.publish.publish_sends (now)"),
    ):
        seconds = statistics.median(publishing[name])
        publish_table.add_row(label, ms(seconds), f"{args.due / seconds:,.0f}")
    console.print(publish_table)
    console.print(
        f"Goal: pass < 1 s and ≤ 1.5× the {args.due:,} case. Conditions: {os.cpu_count()} CPUs "
        f"({platform.machine()}) shared with whatever else runs (load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after), Python "
        f"{platform.python_version()}, local PostgreSQL {postgres} (COPY-loaded, ANALYZEd), "
        f"local Redis {redis_version}; one real send_batch message per batch, pipelined "
        "1,000 per round trip, each batch published on a background thread while the next "
        "statement runs. The pass returns once every message is in Redis."
    )


if __name__ == "__main__":
    main()
