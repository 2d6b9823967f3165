"""Benchmark the open pixel against a trivial endpoint on one gunicorn; check no open is lost.

Run: .venv/bin/python bench/bench_pixel.py   (needs wrk: apt-get install -y wrk)
(smallest sensible run: BENCH_RUNS=1 BENCH_SECONDS=2 .venv/bin/python bench/bench_pixel.py)

- PostgreSQL (database nurture_bench_pixel, created and migrated here) and Redis db 8;
  BENCH_PG_DATABASE and BENCH_REDIS_URL override them (see common.py).
- gunicorn with gthread workers (keep-alive, like behind a proxy), wrk on loopback. One
  worker by default (BENCH_GUNICORN_WORKERS): with two, wrk's keep-alive connections often
  all land on one worker, so runs of either endpoint came out bimodal (1,500 or 3,500 req/s)
  and the ratio of medians said more about that lottery than about the pixel.
- /ping and /o/<token>.gif alternate, several runs each; medians of requests/s and the ratio.
  Both go through the same wrk Lua script (cycling a path list), so client cost is equal.
- Afterwards the queued hits are drained and every open answered 200 must be in the database.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    bench_database,
    bench_redis_url,
    build_bench_runtime,
    flush_redis,
    free_port,
    medians,
    ratio,
    recreate_database,
    results_table,
    set_nurture_env,
)
from pixel_load import (
    CONNECTIONS,
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    SECONDS,
    WRK_THREADS,
    path_script,
    start_gunicorn,
    stop_gunicorn,
    wrk,
)
from rich.console import Console

if TYPE_CHECKING:
    from runtime import Runtime

PG_DB = bench_database("nurture_bench_pixel")
REDIS_URL = bench_redis_url("redis://127.0.0.1:6379/8")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
DELIVERIES = 500
EXACT_CHECK = 2000
GOAL = 0.8

console = Console()


def make_deliveries(runtime: Runtime) -> list[int]:
    """Insert DELIVERIES sent lessons, one per confirmed subscriber; return their ids."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from store.models import Delivery, Enrollment, Subscriber

    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    with runtime.session() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"b{n}@example.com",
                    "status": "confirmed",
                    "course_slug": "bench",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for n in range(DELIVERIES)
            ],
        )
        ids = list(session.scalars(select(Subscriber.id)))
        session.execute(
            insert(Enrollment),
            [{"subscriber_id": i, "course_slug": "bench", "started_at": now} for i in ids],
        )
        rows = session.execute(select(Enrollment.id, Enrollment.subscriber_id)).all()
        session.execute(
            insert(Delivery),
            [
                {
                    "enrollment_id": e,
                    "subscriber_id": s,
                    "course_slug": "bench",
                    "day": 1,
                    "state": "sent",
                    "created_at": now,
                    "not_before": now,
                    "sent_at": now,
                }
                for e, s in rows
            ],
        )
        return list(session.scalars(select(Delivery.id)))


def opens_recorded(runtime: Runtime) -> int:
    """Return the open events stored, after checking the deliveries' counters agree."""
    from sqlalchemy import func, select

    from store.models import Delivery, EmailEvent

    with runtime.session() as session:
        events = session.scalar(select(func.count()).where(EmailEvent.kind == "open"))
        counters = session.scalar(select(func.sum(Delivery.human_opens + Delivery.machine_opens)))
    assert events == (counters or 0), f"{events} open events but counters say {counters}"
    return int(events or 0)


def drain(runtime: Runtime) -> tuple[int, float]:
    """Store every queued and spooled hit; return (hits stored, seconds taken)."""
    from tracking.hits import drain_hits, queued_hits

    started = time.perf_counter()
    # Ships this host's spool files (sealed ones, and those of dead processes) into the
    # queue first.
    handled = drain_hits(runtime)
    while queued_hits(runtime):
        handled += drain_hits(runtime)
    return handled, time.perf_counter() - started


def exact_check(port: int, paths: list[str], tag: str) -> int:
    """Send EXACT_CHECK pixel requests one by one (each its own client); return the 200s."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = 0
    for n in range(EXACT_CHECK):
        agent = f"Firefox/128.0 {tag}-{n}"  # a client each: repeats within a minute count once
        connection.request("GET", paths[n % len(paths)], headers={"User-Agent": agent})
        response = connection.getresponse()
        response.read()
        ok += response.status == 200
    connection.close()
    return ok


def open_hit(runtime: Runtime, delivery_id: int) -> list[Any]:
    """Return an open hit of DELIVERY_ID as tracking.hits.HitIntake.record makes it."""
    return ["open", delivery_id, uuid.uuid4().hex, runtime.now().timestamp(), "Firefox/128.0", ""]


def micro_costs(runtime: Runtime, delivery_id: int) -> tuple[float, float, float]:
    """Median µs to record one hit: spool append, Redis RPUSH, direct database write."""
    from tracking.hits import HitIntake, drain_hits, store_hits

    intake = HitIntake(runtime)  # its spool: the one a web process appends to
    client = runtime.redis
    spool, push, write = [], [], []
    for _ in range(300):
        hit = open_hit(runtime, delivery_id)
        started = time.perf_counter()
        intake.spool.append(json.dumps(hit, separators=(",", ":")).encode() + b"\n")
        spool.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.rpush("nurture:bench:scratch", str(hit))
        push.append(time.perf_counter() - started)
        started = time.perf_counter()
        store_hits(runtime, [hit])
        write.append(time.perf_counter() - started)
    client.delete("nurture:bench:scratch")
    # The spooled copies are the same hits as the direct writes: stored once, not twice.
    intake.spool.stop()  # seal this process's file and ship it into the queue
    drain_hits(runtime)
    return (
        statistics.median(spool) * 1e6,
        statistics.median(push) * 1e6,
        statistics.median(write) * 1e6,
    )


def main() -> None:
    """Run the benchmark, print its tables, and fail if an open was lost."""
    load_at_start = " ".join(f"{value:.1f}" for value in os.getloadavg())
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: install it with `apt-get install -y wrk`")
    database_url = recreate_database(PG_DB)
    env = set_nurture_env(
        env="development",
        database_url=database_url,
        redis_url=REDIS_URL,
        secret_key="benchmark-secret-key-0123456789abcdef",
        base_url="http://127.0.0.1",
        mail_backend="outbox",
    )
    runtime = build_bench_runtime()
    flush_redis(REDIS_URL)
    from tracking.spool import SEAL_SECONDS, spool_dir

    shutil.rmtree(spool_dir(runtime.settings), ignore_errors=True)  # leftovers of an earlier run
    delivery_ids = make_deliveries(runtime)
    paths = [f"/o/{runtime.tokens.make_open(i)}.gif" for i in delivery_ids]
    port = free_port()
    server = start_gunicorn(port, env)
    rows: dict[str, list[float]] = {"ping": [], "pixel": []}
    answered_200 = 0
    try:
        with tempfile.TemporaryDirectory() as directory:
            script = path_script(paths, Path(directory), "pixels")
            ping_script = path_script(["/ping"] * len(paths), Path(directory), "ping")
            wrk(f"http://127.0.0.1:{port}/", ping_script)  # warm up both paths
            wrk(f"http://127.0.0.1:{port}/", script)
            # Let the workers' spool timers ship the warm-up hits, then store them all, so
            # the count below starts from everything the warm-up produced.
            time.sleep(3 * SEAL_SECONDS)
            drain(runtime)
            baseline_opens = opens_recorded(runtime)
            for run in range(RUNS):
                rate, _total, _bad = wrk(f"http://127.0.0.1:{port}/", ping_script)
                rows["ping"].append(rate)
                run_script = path_script(paths, Path(directory), f"pixels{run}")
                rate, total, bad = wrk(f"http://127.0.0.1:{port}/", run_script)
                rows["pixel"].append(rate)
                answered_200 += total - bad
            exact_ok = exact_check(port, paths, "exact1")
    finally:
        stop_gunicorn(server)
    handled, drain_seconds = drain(runtime)
    recorded = opens_recorded(runtime) - baseline_opens
    # The exact check again, on its own, after everything else is drained.
    server = start_gunicorn(port, env)
    try:
        before_exact = opens_recorded(runtime)
        exact_ok_2 = exact_check(port, paths, "exact2")
    finally:
        stop_gunicorn(server)
    drain(runtime)
    exact_recorded = opens_recorded(runtime) - before_exact
    spool_us, push_us, write_us = micro_costs(runtime, delivery_ids[0])
    runtime.close()

    median = medians(rows)
    ping, pixel = median["ping"], median["pixel"]
    table = results_table(
        "Open pixel vs trivial endpoint (gunicorn, loopback)",
        "endpoint",
        "median req/s",
        "runs (req/s)",
        "ratio to /ping",
    )
    for label, name in (("/ping (baseline)", "ping"), ("/o/<token>.gif", "pixel")):
        runs = " ".join(f"{r:,.0f}" for r in rows[name])
        table.add_row(label, f"{median[name]:,.0f}", runs, ratio(median[name], ping))
    console.print(table)
    checks = results_table("No open lost", "check", "value")
    checks.add_row("pixel responses 200 counted by wrk (load runs)", f"{answered_200:,}")
    checks.add_row("opens recorded after draining (load runs + exact run 1)", f"{recorded:,}")
    checks.add_row("  of which exact sequential run 1 (200s)", f"{exact_ok:,}")
    checks.add_row(
        "exact sequential run 2: 200s / recorded", f"{exact_ok_2:,} / {exact_recorded:,}"
    )
    checks.add_row(
        "drain: hits stored, seconds, hits/s",
        f"{handled:,}, {drain_seconds:.1f}, {handled / max(drain_seconds, 1e-9):,.0f}",
    )
    checks.add_row(
        "one hit: spool append / Redis RPUSH / direct DB write (median µs)",
        f"{spool_us:,.1f} / {push_us:,.0f} / {write_us:,.0f}",
    )
    console.print(checks)
    lost = answered_200 + exact_ok - recorded
    console.print(
        f"Conditions: {os.cpu_count()} cores, gunicorn -w {GUNICORN_WORKERS} -k gthread "
        f"--threads {GUNICORN_THREADS}, wrk -t{WRK_THREADS} -c{CONNECTIONS} -d{SECONDS}s "
        f"x {RUNS} runs each, load average at start {load_at_start}, "
        f"PostgreSQL + Redis on loopback, {DELIVERIES} distinct pixel tokens; hits spooled "
        "per worker process and shipped to Redis each second; no Celery worker during load "
        "(drained afterwards)."
    )
    # wrk counts only responses it read before stopping; a request in flight at the cut-off
    # may still be recorded, so recorded may exceed the count by up to the connection count.
    console.print(
        f"Ratio {ratio(pixel, ping)} (goal ≥ {GOAL}); lost opens: {max(lost, 0)} "
        f"(recorded beyond wrk's count, in flight at cut-off: {max(-lost, 0)}); "
        f"exact run: {exact_ok_2 - exact_recorded} lost."
    )
    if lost > 0 or exact_ok_2 != exact_recorded:
        raise SystemExit("opens were lost")


if __name__ == "__main__":
    main()
