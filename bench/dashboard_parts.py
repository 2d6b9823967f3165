"""The dashboard bench's measurements beside the page timings: CSV export memory, ingest rate.

- Export: a child process serves GET /admin/export/subscribers.csv through the Flask test
  client, unbuffered, reading the body chunk by chunk, and reports its peak RSS; run once
  on the database of 10,000 subscribers and once on the big one.
- Ingest: webhook batches of SendGrid events (opens, clicks, deliveries of sent lessons)
  are stored as the endpoint stores them, then tracking.ingest.ingest_pending turns them
  into events (dedupe, evidence, engagement counters, tallies, rollups). The baseline is a
  bare INSERT ... SELECT of the same rows into email_events, in one statement.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from runtime import Runtime

HERE = Path(__file__).resolve().parent
BATCH_EVENTS = 1000
BARE = ":bare"  # the event keys of the baseline's copies
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"
EVENT_COLUMNS = (
    "kind, source, event_key, delivery_id, subscriber_id, course_slug, day, machine, url, "
    "reason, user_agent, occurred_at, recorded_at"
)


def export_rss(env: dict[str, str]) -> tuple[int, float]:
    """Export the subscribers CSV in a child process on ENV's database: (rows, peak MiB)."""
    done = subprocess.run(
        [sys.executable, str(HERE / "dashboard_export.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows, peak_kib = done.stdout.split()
    return int(rows), int(peak_kib) / 1024


def _sent_deliveries(runtime: Runtime, count: int, recent: bool) -> list[tuple[int, int, str, int]]:
    """Return COUNT random sent lessons: (delivery id, subscriber id, course, day).

    RECENT: of the last week's signups (the loader numbers them in signup order), as
    SendGrid reports opens and clicks mostly in the days after a send; else of any age.
    """
    with runtime.session() as session:
        top = int(session.scalar(text("SELECT MAX(id) FROM deliveries")) or 0)
        first = max(1, top - max(top // 52, count * 3)) if recent else 1
        rng = random.Random(time.time_ns())  # fresh lessons each run: no warm pages
        ids = rng.sample(range(first, top + 1), min(top - first + 1, count * 2))
        rows = session.execute(
            text(
                "SELECT id, subscriber_id, course_slug, day FROM deliveries "
                "WHERE id = ANY(:ids) AND state = 'sent' LIMIT :count"
            ),
            {"ids": ids, "count": count},
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def store_batches(runtime: Runtime, events: int, prefix: str, recent: bool = True) -> int:
    """Store webhook batches holding EVENTS new events; return how many were stored."""
    deliveries = _sent_deliveries(runtime, events, recent)
    now = int(runtime.now().timestamp())
    bodies = []
    for start in range(0, len(deliveries), BATCH_EVENTS):
        body = []
        for n, (did, sid, course, day) in enumerate(deliveries[start : start + BATCH_EVENTS]):
            kind = ("open", "open", "click", "delivered", "open")[n % 5]
            event = {
                "email": f"sub{sid}@example{sid % 97}.nl",
                "timestamp": now - 30,
                "event": kind,
                "sg_event_id": f"{prefix}-{start + n}",
                "sg_message_id": f"m{did}.filterdrecv-1",
                "course": course,
                "day": str(day),
                "delivery_id": str(did),
                "subscriber_id": str(sid),
                "useragent": BROWSER,
            }
            if kind == "click":
                event["url"] = "https://umoya.example/afspraak"
            body.append(event)
        bodies.append(body)
    with runtime.session() as session:
        for body in bodies:
            session.execute(
                text("INSERT INTO webhook_batches (body, received_at) VALUES (:body, now())"),
                {"body": json.dumps(body)},
            )
    return sum(len(body) for body in bodies)


_CHILD: dict[str, Any] = {}  # a pool process's runtime (bench child processes only)


def _start_child() -> None:
    from common import build_bench_runtime

    _CHILD["runtime"] = build_bench_runtime()


def _ready(_n: int) -> bool:
    return "runtime" in _CHILD


def _ingest_ids(ids: list[int], threads: int) -> int:
    """Ingest batches IDS on THREADS threads of this process, as a worker's pool would."""
    from tracking.ingest import ingest_batch

    runtime = _CHILD["runtime"]
    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda batch_id: ingest_batch(runtime, batch_id), ids))


def _ingest(runtime: Runtime, processes: int, threads: int) -> float:
    """Ingest every pending batch; return the seconds it took (pool start-up not counted)."""
    from tracking.ingest import ingest_pending

    if processes == 1 and threads == 1:
        started = time.perf_counter()
        ingest_pending(runtime, limit=100, budget_seconds=3600)
        return time.perf_counter() - started
    with runtime.session() as session:
        ids = list(
            session.scalars(
                text("SELECT id FROM webhook_batches WHERE processed_at IS NULL ORDER BY id")
            )
        )
    spawn = multiprocessing.get_context("spawn")  # no connections inherited from this one
    with ProcessPoolExecutor(processes, mp_context=spawn, initializer=_start_child) as pool:
        assert all(pool.map(_ready, range(processes * 4)))
        started = time.perf_counter()
        parts = [ids[n::processes] for n in range(processes)]
        list(pool.map(_ingest_ids, parts, [threads] * processes))
        return time.perf_counter() - started


def measure_ingest(
    runtime: Runtime, events: int, processes: int = 1, threads: int = 1, recent: bool = True
) -> tuple[int, float, float]:
    """Ingest EVENTS stored events, then insert them bare: (events, ingest s, bare s).

    PROCESSES x THREADS > 1 ingests the batches as deployed workers do: one task per batch.
    RECENT: events of the last week's lessons; else of lessons of any age (cold pages).
    """
    prefix = f"bench{time.time_ns()}"
    with runtime.session() as session:
        before = int(session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM email_events")))
    stored = store_batches(runtime, events, prefix, recent)
    ingest_seconds = _ingest(runtime, processes, threads)
    with runtime.session() as session:
        made = int(
            session.scalar(text("SELECT COUNT(*) FROM email_events WHERE id > :id"), {"id": before})
        )
        session.execute(
            text(
                f"CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT {EVENT_COLUMNS} "
                "FROM email_events WHERE id > :id"
            ),
            {"id": before},
        )
        session.execute(
            text("UPDATE staged SET event_key = event_key || :suffix"), {"suffix": BARE}
        )
        started = time.perf_counter()
        session.execute(
            text(f"INSERT INTO email_events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM staged")
        )
        session.commit()
        bare_seconds = time.perf_counter() - started
    with runtime.session() as session:
        session.execute(text("DELETE FROM email_events WHERE event_key LIKE :k"), {"k": "%" + BARE})
    if made != stored:
        raise SystemExit(f"ingest stored {made} events of {stored}")
    return made, ingest_seconds, bare_seconds
