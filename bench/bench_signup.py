"""Benchmark the public subscriber endpoints in process, against rendering the signup page.

Run: .venv/bin/python bench/bench_signup.py
(smallest sensible run: BENCH_ROUNDS=1 BENCH_REQUESTS=20 .venv/bin/python bench/bench_signup.py)

- Flask's test client in one thread (no network, no gunicorn): what one request costs the app.
- SQLite (a temp file, WAL) and PostgreSQL (database nurture_bench_signup, created here) when
  reachable; Redis db 15 as limiter storage and Celery broker (confirmations are queued, not
  sent). BENCH_PG_DATABASE and BENCH_REDIS_URL override both (see common.py).
- Baseline: GET / (render the signup page). Each row: median microseconds per request over
  ROUNDS rounds of REQUESTS requests, and the ratio to the baseline of the same database.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import (
    bench_database,
    bench_redis_url,
    build_bench_runtime,
    flush_redis,
    median_time,
    ratio,
    recreate_database,
    results_table,
    set_nurture_env,
)
from rich.console import Console

PG_DB = bench_database("nurture_bench_signup")
REDIS_URL = bench_redis_url("redis://127.0.0.1:6379/15")  # own db: tests flush theirs
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
ONE_CLICK = "List-Unsubscribe=One-Click"


def _postgres_url() -> str | None:
    """Return a fresh, empty benchmark database on PostgreSQL, or None when unreachable."""
    try:
        return recreate_database(PG_DB, migrate=False)  # measure() migrates every database
    except Exception:
        return None


def _configure(database_url: str, outbox: Path) -> None:
    set_nurture_env(
        database_url=database_url,
        redis_url=REDIS_URL,
        base_url="http://bench.example",
        secret_key="benchmark-secret-key-0123456789abcdef",
        outbox_dir=str(outbox),
        mail_backend="outbox",
    )
    flush_redis(REDIS_URL)


def _median_us(action: Callable[[int], object], start: int) -> float:
    """Return the median µs per request of ROUNDS rounds of REQUESTS calls of ACTION(n)."""

    def one_round(round_number: int) -> None:
        for n in range(REQUESTS):
            action(start + round_number * REQUESTS + n)

    return median_time(one_round, ROUNDS) / REQUESTS * 1e6


def measure(database_url: str) -> list[tuple[str, float]]:
    """Return (label, median µs per request) for each endpoint on DATABASE_URL."""
    from store.migrate import upgrade
    from web import create_app

    upgrade(database_url)
    # One runtime for both apps, as in one web process; its Celery app publishes to REDIS_URL.
    runtime = build_bench_runtime()
    tokens = runtime.tokens
    client = create_app(runtime=runtime, RATELIMIT_ENABLED=False).test_client()
    limited = create_app(runtime=runtime).test_client()

    def signup(n: int) -> object:
        form = {"email": f"p{n}@example.com", "name": "Anna", "consent": "on"}
        response = client.post("/subscribe", data=form)
        assert response.status_code == 200
        return response

    # Warm caches (course, templates, engine) before timing anything.
    client.get("/")
    signup(0)
    base = 1_000_000
    results = [
        ("GET / (baseline: render the page)", _median_us(lambda n: client.get("/"), 0)),
        (
            "POST /subscribe, invalid (re-render 400)",
            _median_us(lambda n: client.post("/subscribe", data={"email": "x"}), 0),
        ),
        ("POST /subscribe, new address (insert + enqueue)", _median_us(signup, base)),
        ("POST /subscribe, same addresses again (throttled)", _median_us(signup, base)),
        (
            "POST /subscribe, new address, limiter on (Redis)",
            _median_us(
                lambda n: limited.post(
                    "/subscribe",
                    data={"email": f"q{n}@example.com", "consent": "on"},
                    environ_base={"REMOTE_ADDR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"},
                ),
                2 * base,
            ),
        ),
        (
            "POST /confirm/<token> (confirm + enroll)",
            _median_us(lambda n: client.post(f"/confirm/{tokens.make_confirm(n + 2)}"), 0),
        ),
        (
            "POST /unsubscribe/<token> (RFC 8058 one-click)",
            _median_us(
                lambda n: client.post(
                    f"/unsubscribe/{tokens.make_unsubscribe(n + 2)}",
                    data=ONE_CLICK,
                    content_type="application/x-www-form-urlencoded",
                ),
                0,
            ),
        ),
    ]
    runtime.close()
    return results


def main() -> None:
    """Run the benchmark on SQLite and PostgreSQL and print one table."""
    console = Console(width=130)
    table = results_table(
        "Subscriber endpoints, in process (Flask test client, one thread)",
        "database",
        "request",
        "median µs/request",
        "requests/s",
        "× baseline",
        labels=2,
    )
    with tempfile.TemporaryDirectory() as folder:
        targets = [("SQLite", f"sqlite:///{folder}/bench.db")]
        postgres = _postgres_url()
        if postgres:
            targets.append(("PostgreSQL", postgres))
        for label, url in targets:
            _configure(url, Path(folder) / "outbox")
            results = measure(url)
            baseline = results[0][1]
            for name, micros in results:
                table.add_row(
                    label,
                    name,
                    f"{micros:,.0f}",
                    f"{1e6 / micros:,.0f}",
                    ratio(micros, baseline),
                )
    console.print(table)
    load = os.getloadavg()
    console.print(
        f"Conditions: {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, "
        f"{ROUNDS} rounds × {REQUESTS} requests per row, median of rounds; Python "
        f"{sys.version.split()[0]}; other processes share the machine."
    )


if __name__ == "__main__":
    main()
