"""Benchmark: lessons accepted per second through dispatcher, Redis, Celery and SendGrid's client.

Run: .venv/bin/python bench/bench_throughput.py [--due 10000] [--runs 3] [--workers 2]
     [--concurrency 8] [--batch-size 500] [--latency-ms 50]
Smallest run: --due 200 --runs 1 --workers 1 --concurrency 2

Each run enrolls DUE subscribers due now (PostgreSQL database `nurture_bench`, Redis db 6),
then times one dispatcher pass plus the worker processes (thread pool) sending every lesson
through the real `sendgrid` client to the fake SendGrid (its own process, LATENCY ms per
request), until every delivery row says sent. The dispatcher hands out batches of up to
BATCH_SIZE deliveries, one `send_batch` task each. Same run, same settings, two baselines:
- plain loop: the same batched sends (`Sender.deliver_many` per batch: claim, check, render,
  one request, record) from a thread pool in one process, no Celery;
- no-op tasks: DUE `celery.accumulate` tasks through the same Redis and workers.
Then one batch is taken apart, single-threaded, to show where its time goes: database
(claim and record), rendering, JSON (building and encoding the request body) and HTTP.
Medians over RUNS runs are reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from common import (
    PG_ADMIN_URL,
    ROOT,
    bench_database,
    bench_redis_url,
    build_bench_runtime,
    database_url,
    dispatch_pass,
    flush_redis,
    medians,
    ratio,
    recreate_database,
    results_table,
    set_nurture_env,
)
from rich.console import Console
from sqlalchemy import func, select
from throughput_procs import (
    drain_queue,
    fake_accepted,
    reset_fake,
    start_fake,
    start_workers,
    stop_fake,
    stop_workers,
    wait_for,
    worker_processes,
)
from throughput_steps import empty_tables, time_shares

if TYPE_CHECKING:
    from runtime import Runtime

# tests/ holds the enrollment helpers and the worker and fake SendGrid processes this reuses.
sys.path.insert(0, str(ROOT / "tests"))

ADMIN_URL = PG_ADMIN_URL
BENCH_DB = bench_database("nurture_bench")
REDIS_URL = bench_redis_url("redis://127.0.0.1:6379/6")
API_KEY = "bench-key"
T = TypeVar("T")


def configure(batch_size: int) -> None:
    """Point the settings at the benchmark's database, Redis and fake SendGrid's API key."""
    set_nurture_env(
        env="test",
        database_url=database_url(BENCH_DB, ADMIN_URL),
        redis_url=REDIS_URL,
        base_url="https://cursus.umoya.example",
        secret_key="benchmark-secret-key-0123456789abcdef",
        mail_backend="sendgrid",
        sendgrid_api_key=API_KEY,
        # Long enough that a 10,000 backlog isn't re-enqueued; short enough that beat would
        # settle a straggler (say a dropped connection) within the run.
        claim_timeout_seconds="60",
        evidence_grace_seconds="3",
        retry_backoff_base_seconds="0.5",
        retry_backoff_max_seconds="2",
        send_batch_size=str(batch_size),
    )


def sent_count(runtime: Runtime) -> int:
    """Return how many deliveries are sent."""
    from store.models import Delivery, DeliveryState

    with runtime.session() as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.state == DeliveryState.SENT)) or 0
        )


def celery_run(runtime: Runtime, due: int) -> tuple[float, float]:
    """Time dispatcher + workers for DUE lessons; return (emails/s, pass seconds)."""
    from lessons import enroll

    empty_tables(runtime)
    enroll(runtime, due, runtime.now())
    started = time.perf_counter()
    report = dispatch_pass(runtime, batch_size=due)
    stop = threading.Event()

    from config.celery import dispatch_interval

    interval = dispatch_interval(runtime.settings)

    def beat() -> None:
        # Later passes at beat's configured interval, as deployed (60 s by default): they only
        # matter if a send needs a retry. Running them every second instead, as this bench
        # once did, spent PostgreSQL CPU on passes that production never runs.
        while not stop.wait(interval):
            dispatch_pass(runtime, batch_size=due)

    beat_thread = threading.Thread(target=beat, daemon=True)
    beat_thread.start()
    try:
        wait_for(lambda: sent_count(runtime) >= due)
    finally:
        stop.set()
        beat_thread.join()
    return due / (time.perf_counter() - started), report.seconds


def plain_loop_run(runtime: Runtime, due: int, threads: int) -> float:
    """Time the same batched sends from a thread pool in this process, no Celery; emails/s."""
    from lessons import enroll

    from delivery.sender import Sender

    empty_tables(runtime)
    enroll(runtime, due, runtime.now())
    batches: list[list[int]] = []
    dispatch_pass(runtime, lambda published: batches.extend(list(b) for b in published))
    # What send_batch runs in a worker process: that process's Sender, shared by its threads.
    sender = Sender(runtime)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = [o for result in pool.map(sender.deliver_many, batches) for o in result.values()]
    elapsed = time.perf_counter() - started
    assert outcomes.count("sent") == due, set(outcomes)
    return due / elapsed


def noop_run(due: int) -> float:
    """Time DUE no-op Celery tasks through the same Redis and workers; return tasks/s."""
    from tasks.sending import send_batch

    celery_app = send_batch.app  # the app build_bench_runtime made: the benchmark's Redis
    started = time.perf_counter()
    with celery_app.producer_or_acquire() as producer, producer.batch(1000):
        for n in range(due):
            celery_app.send_task("celery.accumulate", args=(n,), producer=producer)
    drain_queue(REDIS_URL)
    return due / (time.perf_counter() - started)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", choices=("threads", "gevent"), default="threads")
    # Defaults are the service's own defaults; --batch-size 1 sends one request per email.
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()

    configure(args.batch_size)
    recreate_database(BENCH_DB, admin_url=ADMIN_URL)
    flush_redis(REDIS_URL)
    fake, fake_url = start_fake(args.latency_ms, API_KEY)
    os.environ["NURTURE_SENDGRID_HOST"] = fake_url
    runtime = build_bench_runtime()
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    env = dict(os.environ, NURTURE_WORKER_CONCURRENCY=str(args.concurrency))
    workers = worker_processes(args.workers, args.concurrency, env, log_dir, args.pool)
    console = Console()
    results: dict[str, list[float]] = {
        "celery": [],
        "pass": [],
        "plain": [],
        "noop": [],
        "per request": [],
    }
    try:
        start_workers(workers)
        time.sleep(5)  # let the workers connect before the clock starts
        for run in range(args.runs):
            reset_fake(fake_url)
            rate, pass_seconds = celery_run(runtime, args.due)
            drain_queue(REDIS_URL)
            emails, requests, duplicates = fake_accepted(fake_url)
            console.print(
                f"run {run + 1}: celery {rate:.0f}/s, pass {pass_seconds:.2f} s, "
                f"{requests} requests for {emails} emails"
            )
            assert (emails, duplicates) == (args.due, 0), (emails, duplicates)
            results["per request"].append(emails / requests)
            results["celery"].append(rate)
            results["pass"].append(pass_seconds)
            reset_fake(fake_url)
            results["plain"].append(
                plain_loop_run(runtime, args.due, args.workers * args.concurrency)
            )
            results["noop"].append(noop_run(args.due))
            console.print(
                f"run {run + 1}: plain {results['plain'][-1]:.0f}/s, "
                f"no-op {results['noop'][-1]:.0f}/s"
            )
        reset_fake(fake_url)
        shares = time_shares(runtime, min(args.batch_size, args.due))
        # The no-op rate above is Celery's on our workers (one message reserved per slot,
        # right for batches). The most no-op tasks Celery gave here: 64 threads, prefetch 4.
        stop_workers(workers)
        workers = worker_processes(
            args.workers, 64, env, log_dir, args.pool, ("--prefetch-multiplier=4",), "noop"
        )
        start_workers(workers)
        time.sleep(5)
        results["tuned no-op"] = [noop_run(args.due) for _ in range(args.runs)]
    finally:
        stop_workers(workers)
        stop_fake(fake)

    batch = runtime.settings
    runtime.close()
    median = medians(results)
    celery, plain, noop = median["celery"], median["plain"], median["noop"]
    table = results_table(
        f"Lesson throughput: {args.due:,} due, median of {args.runs} runs",
        "path",
        "per second",
        "vs Celery sends",
    )
    table.add_row(
        "dispatcher → Redis → Celery workers → sendgrid → fake",
        f"{celery:,.0f}",
        ratio(celery, celery, suffix="×"),
    )
    table.add_row(
        "baseline 1: the same batched sends in a plain thread pool, no Celery",
        f"{plain:,.0f}",
        ratio(plain, celery, suffix="×"),
    )
    table.add_row(
        "baseline 2: no-op Celery tasks, same Redis + workers",
        f"{noop:,.0f}",
        ratio(noop, celery, suffix="×"),
    )
    tuned = median["tuned no-op"]
    table.add_row(
        "baseline 3: no-op Celery tasks, workers tuned for them (64 threads, prefetch 4)",
        f"{tuned:,.0f}",
        ratio(tuned, celery, suffix="×"),
    )
    console.print(table)
    console.print(
        f"Emails/s vs no-op tasks/s: {ratio(celery, noop)} (goal ≥ 3×; "
        f"{ratio(celery, tuned)} vs the tuned no-op rate); "
        f"vs the plain loop: {ratio(celery, plain)} (goal ≥ 0.8×); "
        f"dispatcher pass for {args.due:,}: {median['pass']:.2f} s (median)"
    )
    whole = sum(shares.values())
    console.print(
        f"One batch of {min(args.batch_size, args.due)}, step by step, single-threaded: "
        + ", ".join(
            f"{step} {seconds * 1000:.0f} ms ({seconds / whole:.0%})"
            for step, seconds in sorted(shares.items(), key=lambda item: -item[1])
        )
    )
    console.print(
        f"Conditions: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, PostgreSQL + Redis local, {args.workers} worker "
        f"processes × {args.concurrency} threads, fake SendGrid {args.latency_ms:g} ms latency "
        f"in its own process, plain loop with {args.workers * args.concurrency} threads (as many "
        "batches in flight as all workers); batches of up to "
        f"{batch.send_batch_size} (median {median['per request']:.1f} emails per request)."
    )


if __name__ == "__main__":
    main()
