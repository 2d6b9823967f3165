"""Benchmark: lessons accepted per second through dispatcher, Redis, Celery and SendGrid's client.

Run: .venv/bin/python bench/bench_throughput.py [--due 10000] [--runs 3] [--workers 2]
     [--concurrency 64] [--latency-ms 50]

Each run enrolls DUE subscribers due now (PostgreSQL database `nurture_bench`, Redis db 6),
then times one dispatcher pass plus the worker processes (thread pool) sending every lesson
through the real `sendgrid` client to the fake SendGrid (its own process, LATENCY ms per
request), until every delivery row says sent. Same run, same settings, two ceilings:
- plain loop: the same `deliver()` (claim, render, send, record) from a thread pool in one
  process, no Celery;
- no-op tasks: DUE `celery.accumulate` tasks through the same Redis and workers.
Medians over RUNS runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ADMIN_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BENCH_DB = "nurture_bench"
BENCH_URL = ADMIN_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
REDIS_URL = "redis://127.0.0.1:6379/6"
API_KEY = "bench-key"

os.environ.update(
    {
        "NURTURE_ENV": "test",
        "NURTURE_DATABASE_URL": BENCH_URL,
        "NURTURE_REDIS_URL": REDIS_URL,
        "NURTURE_BASE_URL": "https://cursus.umoya.example",
        "NURTURE_SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
        "NURTURE_MAIL_BACKEND": "sendgrid",
        "NURTURE_SENDGRID_API_KEY": API_KEY,
        # Long enough that a 10,000 backlog isn't re-enqueued; short enough that beat would
        # settle a straggler (say a dropped connection) within the run.
        "NURTURE_CLAIM_TIMEOUT_SECONDS": "60",
        "NURTURE_EVIDENCE_GRACE_SECONDS": "3",
        "NURTURE_RETRY_BACKOFF_BASE_SECONDS": "0.5",
        "NURTURE_RETRY_BACKOFF_MAX_SECONDS": "2",
    }
)

import redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402


def recreate_database() -> None:
    """Drop and create the benchmark database, then migrate it."""
    from store.migrate import upgrade

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    upgrade(BENCH_URL)


def empty_tables() -> None:
    """Remove every row (between runs)."""
    from store.db import get_engine
    from store.models import Base

    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def start_fake(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """Start the fake SendGrid process; return it and its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fake_sendgrid.py"),
            "--port=0",
            f"--api-key={API_KEY}",
            f"--latency-ms={latency_ms}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[1].strip()


def fake_accepted(url: str) -> int:
    """Return how many messages the fake accepted since its last reset."""
    with urllib.request.urlopen(f"{url}/_stats", timeout=30) as response:
        return int(json.loads(response.read())["accepted"])


def reset_fake(url: str) -> None:
    """Forget the fake's counts."""
    request = urllib.request.Request(f"{url}/_reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=30).close()


def sent_count() -> int:
    """Return how many deliveries are sent."""
    from store.db import session_scope
    from store.models import Delivery, DeliveryState

    with session_scope() as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.state == DeliveryState.SENT)) or 0
        )


def wait_for(predicate: Callable[[], bool], timeout: float = 300.0) -> None:
    """Poll PREDICATE every 100 ms until true.

    Each poll of sent_count() is a COUNT over the deliveries, which competes with the sends
    for the same two cores; 100 ms keeps that small and the timing error under 1% of a run.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(0.1)


def celery_run(due: int) -> tuple[float, float]:
    """Time dispatcher + workers for DUE lessons; return (emails/s, pass seconds)."""
    from lessons import enroll

    from store.clock import utcnow
    from tasks.dispatch import run_dispatch_pass

    empty_tables()
    enroll(due, utcnow())
    started = time.perf_counter()
    report = run_dispatch_pass(batch_size=due)
    stop = threading.Event()

    from config import get_settings
    from config.celery import dispatch_interval

    interval = dispatch_interval(get_settings())

    def beat() -> None:
        # Later passes at beat's configured interval, as deployed (60 s by default): they only
        # matter if a send needs a retry. Running them every second instead, as this bench
        # once did, spent PostgreSQL CPU on passes that production never runs.
        while not stop.wait(interval):
            run_dispatch_pass(batch_size=due)

    beat_thread = threading.Thread(target=beat, daemon=True)
    beat_thread.start()
    try:
        wait_for(lambda: sent_count() >= due)
    finally:
        stop.set()
        beat_thread.join()
    return due / (time.perf_counter() - started), report.seconds


def drain_queue() -> None:
    """Wait until no message waits in Redis or runs on a worker."""
    client = redis.Redis.from_url(REDIS_URL)
    wait_for(lambda: client.llen("celery") == 0 and client.hlen("unacked") == 0)


def plain_loop_run(due: int, threads: int) -> float:
    """Time the same deliver() calls from a thread pool in this process; return emails/s."""
    from lessons import enroll

    from store.clock import utcnow
    from tasks.dispatch import run_dispatch_pass
    from tasks.sending import deliver

    empty_tables()
    enroll(due, utcnow())
    ids: list[int] = []
    run_dispatch_pass(batch_size=due, enqueue=ids.extend)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(deliver, ids))
    elapsed = time.perf_counter() - started
    assert outcomes.count("sent") == due, set(outcomes)
    return due / elapsed


def noop_run(due: int) -> float:
    """Time DUE no-op Celery tasks through the same Redis and workers; return tasks/s."""
    from tasks.app import celery_app

    started = time.perf_counter()
    with celery_app.producer_or_acquire() as producer, producer.batch(1000):
        for n in range(due):
            celery_app.send_task("celery.accumulate", args=(n,), producer=producer)
    drain_queue()
    return due / (time.perf_counter() - started)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()

    recreate_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    fake, fake_url = start_fake(args.latency_ms)
    os.environ["NURTURE_SENDGRID_HOST"] = fake_url
    from workers import WorkerProcess, point_celery_at_settings

    from config import reset_settings_cache

    reset_settings_cache()
    point_celery_at_settings()
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    env = dict(os.environ, NURTURE_WORKER_CONCURRENCY=str(args.concurrency))
    workers = [
        WorkerProcess(f"bench{n}", env, log_dir, concurrency=args.concurrency)
        for n in range(args.workers)
    ]
    console = Console()
    results: dict[str, list[float]] = {"celery": [], "pass": [], "plain": [], "noop": []}
    try:
        for worker in workers:
            worker.start()
        time.sleep(5)  # let the workers connect before the clock starts
        for run in range(args.runs):
            reset_fake(fake_url)
            rate, pass_seconds = celery_run(args.due)
            console.print(f"run {run + 1}: celery {rate:.0f}/s, pass {pass_seconds:.2f} s")
            drain_queue()
            assert fake_accepted(fake_url) == args.due
            results["celery"].append(rate)
            results["pass"].append(pass_seconds)
            reset_fake(fake_url)
            results["plain"].append(plain_loop_run(args.due, args.concurrency))
            results["noop"].append(noop_run(args.due))
            console.print(
                f"run {run + 1}: plain {results['plain'][-1]:.0f}/s, "
                f"no-op {results['noop'][-1]:.0f}/s"
            )
    finally:
        for worker in workers:
            worker.stop()
        fake.terminate()
        fake.wait(10)

    celery = statistics.median(results["celery"])
    plain = statistics.median(results["plain"])
    noop = statistics.median(results["noop"])
    table = Table(title=f"Lesson throughput: {args.due:,} due, median of {args.runs} runs")
    table.add_column("path")
    table.add_column("per second", justify="right")
    table.add_column("vs Celery sends", justify="right")
    table.add_row(
        "dispatcher → Redis → Celery workers → sendgrid → fake", f"{celery:,.0f}", "1.00×"
    )
    table.add_row(
        "ceiling 1: plain thread-pool loop, no Celery", f"{plain:,.0f}", f"{plain / celery:.2f}×"
    )
    table.add_row(
        "ceiling 2: no-op Celery tasks, same Redis + workers",
        f"{noop:,.0f}",
        f"{noop / celery:.2f}×",
    )
    console.print(table)
    console.print(
        f"Celery sends / no-op rate: {celery / noop:.2f} (goal ≥ 0.5); "
        f"dispatcher pass for {args.due:,}: {statistics.median(results['pass']):.2f} s (median)"
    )
    console.print(
        f"Conditions: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, PostgreSQL + Redis local, {args.workers} worker "
        f"processes × {args.concurrency} threads, fake SendGrid {args.latency_ms:g} ms latency "
        f"in its own process, plain loop with {args.concurrency} threads."
    )


if __name__ == "__main__":
    main()
