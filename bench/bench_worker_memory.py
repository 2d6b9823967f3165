"""Benchmark: a worker's resident memory after many sends against after 1,000.

Run: .venv/bin/python bench/bench_worker_memory.py [--sends 100000] [--concurrency 8]
(smallest sensible run: --sends 1500 --concurrency 8)

One `nurture worker` process (Celery, thread pool) sends lessons through the real `sendgrid` client
to the fake SendGrid (its own process, no added latency; its record of accepted mail is
reset every few seconds so the fake's memory stays flat). RSS is read from /proc after the
first 1,000 sends and again after SENDS. PostgreSQL database `nurture_bench`, Redis db 6
(BENCH_PG_DATABASE and BENCH_REDIS_URL override them, see common.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import bench_throughput as shared  # noqa: E402  (its settings, database and fake helpers)
from common import (  # noqa: E402
    build_bench_runtime,
    dispatch_pass,
    flush_redis,
    recreate_database,
)
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

if TYPE_CHECKING:
    from runtime import Runtime

WARMUP = 1_000
CHECKPOINTS = 10


def rss_mib(pid: int) -> float:
    """Return the resident set size of PID in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def send_batch(runtime: Runtime, count: int, start: int, fake_url: str) -> float:
    """Enroll COUNT more subscribers, dispatch them, wait until all are sent; return seconds."""
    from lessons import enroll

    target = shared.sent_count(runtime) + count
    enroll(runtime, count, runtime.now(), start=start, prefix="mem")
    started = time.perf_counter()
    dispatch_pass(runtime, batch_size=count)
    last_reset = time.monotonic()
    while shared.sent_count(runtime) < target:
        time.sleep(0.2)
        if time.monotonic() - last_reset > 5:
            shared.reset_fake(fake_url)
            last_reset = time.monotonic()
    shared.drain_queue(shared.REDIS_URL)
    return time.perf_counter() - started


def main() -> None:
    """Measure RSS after WARMUP and after SENDS sends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.sends < WARMUP + CHECKPOINTS:
        parser.error(f"--sends must be at least {WARMUP + CHECKPOINTS:,}")

    shared.configure(batch_size=500)
    recreate_database(shared.BENCH_DB, admin_url=shared.ADMIN_URL)
    flush_redis(shared.REDIS_URL)
    fake, fake_url = shared.start_fake(0, shared.API_KEY)
    os.environ["NURTURE_SENDGRID_HOST"] = fake_url
    from workers import WorkerProcess

    runtime = build_bench_runtime()
    worker = WorkerProcess(
        "memory", dict(os.environ), Path(os.environ.get("TMPDIR", "/tmp")), args.concurrency
    )
    console = Console()
    try:
        worker.start()
        time.sleep(5)
        assert worker.process is not None
        pid = worker.process.pid
        idle = rss_mib(pid)
        warm_seconds = send_batch(runtime, WARMUP, 0, fake_url)
        after_warmup = rss_mib(pid)
        console.print(f"after {WARMUP:,}: {after_warmup:.1f} MiB ({warm_seconds:.1f} s)")
        # The rest in ten steps, so a leak (steady growth) shows apart from caches filling up
        # (growth that stops).
        rest_seconds, done, steps = 0.0, WARMUP, []
        for step in range(CHECKPOINTS):
            count = (args.sends - WARMUP) // CHECKPOINTS
            if step == CHECKPOINTS - 1:
                count = args.sends - done
            rest_seconds += send_batch(runtime, count, done, fake_url)
            done += count
            steps.append((done, rss_mib(pid)))
            console.print(f"after {done:,}: {steps[-1][1]:.1f} MiB")
    finally:
        worker.stop()
        fake.terminate()
        fake.wait(10)
        runtime.close()

    table = Table(title="Worker memory (RSS of one worker process)")
    table.add_column("after")
    table.add_column("RSS", justify="right")
    table.add_column("vs 1,000 sends", justify="right")
    table.add_row("start (idle)", f"{idle:.1f} MiB", f"{idle / after_warmup:.2f}×")
    table.add_row(f"{WARMUP:,} sends", f"{after_warmup:.1f} MiB", "1.00×")
    for done, rss in steps:
        table.add_row(f"{done:,} sends", f"{rss:.1f} MiB", f"{rss / after_warmup:.2f}×")
    console.print(table)
    rate = (args.sends - WARMUP) / rest_seconds
    console.print(
        f"Goal ≤ 1.2×. {args.sends - WARMUP:,} sends took {rest_seconds:.0f} s ({rate:.0f}/s). "
        f"Conditions: {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}, 1 worker process × {args.concurrency} threads, "
        "local PostgreSQL + Redis, fake SendGrid without latency in its own process."
    )


if __name__ == "__main__":
    main()
