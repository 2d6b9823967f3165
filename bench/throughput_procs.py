"""Processes for bench_throughput.py: the fake SendGrid, the `nurture worker` processes
(Celery workers, run as `python -m cli.main worker`), and waiting on them.

Imported by bench_throughput.py as a sibling module (bench/ is on sys.path when it runs as a
script); that script also puts tests/ on sys.path, where `workers` and `fake_sendgrid` live.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from common import ROOT

if TYPE_CHECKING:
    from workers import WorkerProcess


def start_fake(latency_ms: float, api_key: str) -> tuple[subprocess.Popen[str], str]:
    """Start the fake SendGrid process; return it and its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fake_sendgrid.py"),
            "--port=0",
            f"--api-key={api_key}",
            f"--latency-ms={latency_ms}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    # Its first line names the URL, once it listens on the port it picked.
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[1].strip()


def stop_fake(process: subprocess.Popen[str]) -> None:
    """Stop the fake SendGrid process."""
    process.terminate()
    process.wait(10)


def fake_accepted(url: str) -> tuple[int, int, int]:
    """Return (emails, requests, duplicate emails) the fake accepted since its last reset."""
    with urllib.request.urlopen(f"{url}/_stats", timeout=30) as response:
        stats = json.loads(response.read())
    return int(stats["recipients"]), int(stats["accepted"]), int(stats["duplicates"])


def reset_fake(url: str) -> None:
    """Forget the fake's counts."""
    request = urllib.request.Request(f"{url}/_reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=30).close()


def worker_processes(
    count: int,
    concurrency: int,
    env: dict[str, str],
    log_dir: Path,
    pool: str = "threads",
    extra_args: Sequence[str] = (),
    name: str = "bench",
) -> list[WorkerProcess]:
    """Return COUNT `nurture worker` processes of CONCURRENCY slots in POOL, not started yet.

    Each takes its settings from ENV, as deployed (EXTRA_ARGS go to Celery's worker).
    """
    # Imported here: tests/ is on sys.path only once bench_throughput has put it there.
    from workers import WorkerProcess

    return [
        WorkerProcess(
            f"{name}{n}", env, log_dir, concurrency=concurrency, pool=pool, extra_args=extra_args
        )
        for n in range(count)
    ]


def start_workers(workers: list[WorkerProcess]) -> None:
    """Start every worker process in WORKERS."""
    for worker in workers:
        worker.start()


def stop_workers(workers: list[WorkerProcess]) -> None:
    """Stop every worker process in WORKERS."""
    for worker in workers:
        worker.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 300.0) -> None:
    """Poll PREDICATE every 100 ms until true.

    Each poll of bench_throughput.sent_count(runtime) is a COUNT over the deliveries, which competes
    with the sends for the same two cores; 100 ms keeps that small and the timing error under
    1% of a run.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(0.1)


def drain_queue(redis_url: str) -> None:
    """Wait until no message waits in Redis or runs on a worker."""
    client = redis.Redis.from_url(redis_url)
    wait_for(lambda: client.llen("celery") == 0 and client.hlen("unacked") == 0)
