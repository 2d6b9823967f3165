"""Benchmark the clinic's dashboard at 1,000,000 subscribers against the same at 10,000.

Run: .venv/bin/python bench/bench_dashboard.py [--scale 1.0] [--reload] [--rounds 15]
(smallest sensible run: --scale 0.05 --rounds 5)

- PostgreSQL only. The big database (`bench_dashboard`, or BENCH_PG_DATABASE) holds SCALE
  x (1,000,000 subscribers, 5,000,000 deliveries, 20,000,000 events), loaded with COPY by
  dashboard_load.py; a load takes minutes here, so it is kept: the next run reuses it
  unless --reload (or another scale) is asked. The baseline database
  (`nurture_bench_dashboard_small`) holds 10,000 subscribers, loaded every run (seconds).
- Interleaved over ROUNDS rounds, both databases in each round, p50 of: the dashboard page
  (GET /admin through the Flask app, with the admin password), the per-lesson funnel
  (`nurture stats`' numbers), the subscriber search (GET /admin/subscribers?q=...), one
  subscriber's timeline (GET /admin/subscribers/ID) and the database half of a /metrics
  scrape.
- CSV export: peak RSS of a process streaming the subscribers export, 1,000,000 rows
  against 10,000 (dashboard_parts.export_rss).
- At the end, every rollup is compared with a recount of the raw tables.
- Webhook ingest: events per second from stored batches into email_events, against a bare
  INSERT ... SELECT of the same rows (dashboard_parts.measure_ingest): events of the last
  week's lessons by one process, and as deployed here (2 worker processes, one task per
  batch, 4 threads each); then events of lessons of any age (pages not in memory).
Redis db 1 (BENCH_REDIS_URL overrides it): the app's rate limits and the status panel.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from common import (
    PG_ADMIN_URL,
    bench_database,
    bench_redis_url,
    build_bench_runtime,
    database_url,
    flush_redis,
    interleaved_times,
    ratio,
    recreate_database,
    results_table,
    set_nurture_env,
)
from dashboard_load import expected, is_loaded, load, reset_schema
from dashboard_parts import export_rss, measure_ingest
from rich.console import Console

from tracking import rollups

BIG_DB = bench_database("bench_dashboard")
SMALL_DB = "nurture_bench_dashboard_small"
SMALL_SCALE = 0.01  # 10,000 subscribers
REDIS_URL = bench_redis_url("redis://127.0.0.1:6379/1")
PASSWORD = "benchmark-admin-password"
COURSE = "rugpijn-en-training"
# Ingest as deployed on this machine: 2 worker processes, a task per batch (threads each).
INGEST_WORKERS = (2, 4)
console = Console()


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _prepare(name: str, scale: float, reload: bool) -> str:
    """Return the URL of database NAME holding the data of SCALE, loading it if needed."""
    url = database_url(name)
    if not reload and is_loaded(_conninfo(url), scale):
        console.print(f"{name}: data of scale {scale} already loaded, reused")
        return url
    subscribers, deliveries, events = expected(scale)
    console.print(
        f"{name}: loading {subscribers:,} subscribers, {deliveries:,} deliveries, "
        f"{events:,} events (COPY)"
    )
    if name == "bench_dashboard":
        reset_schema(_conninfo(url), url)  # created for us: emptied, not dropped
    else:
        recreate_database(name, admin_url=PG_ADMIN_URL)
    load(_conninfo(url), scale, COURSE, log=console.print)
    return url


def _env(url: str, outbox: str) -> dict[str, str]:
    return set_nurture_env(
        database_url=url,
        redis_url=REDIS_URL,
        base_url="http://127.0.0.1:8000",
        secret_key="benchmark-secret-key-0123456789abcdef",
        admin_password=PASSWORD,
        outbox_dir=outbox,
        mail_backend="outbox",
        course=COURSE,
    )


def _works(runtime: Any) -> dict[str, Callable[[], object]]:
    """Return the timed operations on RUNTIME's database."""
    from tracking.metrics import read_database
    from tracking.stats import funnel
    from web import create_app

    client = create_app(runtime=runtime).test_client()
    token = base64.b64encode(f"beheer:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    with runtime.session() as session:
        from sqlalchemy import text

        middle = int(session.scalar(text("SELECT MAX(id) FROM subscribers")) or 1) // 2

    def get(path: str) -> Callable[[], object]:
        def fetch() -> object:
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
            return response.get_data()

        return fetch

    def lesson_funnel() -> object:
        with runtime.session() as session:
            return funnel(session, runtime.courses, COURSE)

    return {
        "dashboard page (GET /admin)": get("/admin"),
        "per-lesson funnel (nurture stats)": lesson_funnel,
        "subscriber search (?q=sub4242@)": get("/admin/subscribers?q=sub4242%40"),
        "one subscriber's timeline": get(f"/admin/subscribers/{middle}"),
        "/metrics database figures": lambda: read_database(runtime),
    }


def _time_pages(urls: dict[str, str], rounds: int, outbox: str) -> dict[str, dict[str, float]]:
    """Return the p50 seconds of each operation on each database of URLS, by label.

    Both databases' operations run in the same rounds, one after the other, so whatever
    else the machine does weighs on the baseline and the big database alike.
    """
    flush_redis(REDIS_URL)
    runtimes = {}
    works: dict[str, Callable[[], object]] = {}
    for label, url in urls.items():
        _env(url, outbox)  # each runtime reads its settings from the environment when built
        runtimes[label] = build_bench_runtime()
        for name, work in _works(runtimes[label]).items():
            work()  # warm: caches, prepared statements, the course files
            works[f"{label}\t{name}"] = work
    samples = interleaved_times(works, rounds)
    for runtime in runtimes.values():
        runtime.engine.dispose()
    result: dict[str, dict[str, float]] = {label: {} for label in urls}
    for key, times in samples.items():
        label, name = key.split("\t")
        result[label][name] = statistics.median(times)
    return result


def main() -> None:
    """Load (or reuse) both databases, then time, export and ingest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 subscribers")
    parser.add_argument("--reload", action="store_true", help="load the big database again")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ingest-events", type=int, default=20_000)
    args = parser.parse_args()
    big_url = _prepare(BIG_DB, args.scale, args.reload)
    small_url = _prepare(SMALL_DB, SMALL_SCALE, True)  # seconds: always today's schema
    big_n, small_n = expected(args.scale)[0], expected(SMALL_SCALE)[0]
    outbox = tempfile.mkdtemp(prefix="bench-dashboard-")

    pages = _time_pages({"small": small_url, "big": big_url}, args.rounds, outbox)
    small, big = pages["small"], pages["big"]
    table = results_table(
        f"Dashboard, p50 of {args.rounds} rounds (ms)",
        "operation",
        f"{small_n:,} subscribers",
        f"{big_n:,} subscribers",
        "ratio",
    )
    for name in small:
        table.add_row(
            name,
            f"{small[name] * 1000:.1f}",
            f"{big[name] * 1000:.1f}",
            ratio(big[name], small[name]),
        )
    console.print(table)
    page = "dashboard page (GET /admin)"
    met = big[page] < 0.3 and big[page] <= 3 * small[page]
    console.print(
        f"dashboard goal (p50 < 300 ms and <= 3x): {big[page] * 1000:.1f} ms, "
        f"{ratio(big[page], small[page])}x: {'met' if met else 'NOT met'}"
    )

    small_rows, small_rss = export_rss(_env(small_url, outbox))
    big_rows, big_rss = export_rss(_env(big_url, outbox))
    console.print(
        f"CSV export peak RSS: {big_rows:,} rows {big_rss:.1f} MiB against {small_rows:,} rows "
        f"{small_rss:.1f} MiB: {ratio(big_rss, small_rss)}x "
        f"({'met' if big_rss <= 1.2 * small_rss else 'NOT met'}, goal <= 1.2x)"
    )

    _env(big_url, outbox)
    runtime = build_bench_runtime()
    for processes, threads, recent in ((1, 1, True), (*INGEST_WORKERS, True), (1, 1, False)):
        events, ingest_s, bare_s = measure_ingest(
            runtime, args.ingest_events, processes, threads, recent
        )
        rate, bare_rate = events / ingest_s, events / bare_s
        how = "one process" if processes == 1 else f"{processes} processes x {threads} threads"
        lessons = "last week's lessons" if recent else "lessons of any age"
        console.print(
            f"webhook ingest ({how}, {lessons}): {events:,} events in {ingest_s:.2f} s = "
            f"{rate:,.0f} events/s; bare INSERT ... SELECT of the same rows: "
            f"{bare_rate:,.0f} events/s (ingest {ratio(ingest_s, bare_s, 1)}x its time); "
            f"goal >= 10,000/s: {'met' if rate >= 10_000 else 'NOT met'}"
        )
    with runtime.session() as session:
        # After the ingests and the bare inserts (and their deletion): still exact?
        recounted = rollups.recount(session)
        metrics = {metric for _course, _day, metric in recounted}
        kept = rollups.read(session, metrics | {"signups"})
    console.print(
        f"rollups equal a recount of the raw tables ({len(recounted):,} counts): "
        f"{'yes' if kept == recounted else 'NO'}"
    )
    runtime.engine.dispose()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    console.print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"PostgreSQL; load average at the end {load} (other work on the machine counts)"
    )


if __name__ == "__main__":
    sys.exit(main())
