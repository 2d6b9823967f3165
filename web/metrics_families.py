"""The Prometheus metric families /metrics yields, built from one scrape's figures.

Counters are figures that only grow (sent rows, anonymous counters, Redis totals); gauges
are figures as they stand now. Rows failed now and rows that needed a retry are gauges, not
counters: `nurture deliveries retry` puts failed rows back in the queue with fresh attempts,
and a counter must never go down (Prometheus would read that as a restart).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from delivery.last_pass import ROW_FIELDS
from store.models import DeliveryState
from subscribers import counters
from tracking import batch_failures, poison, tallies
from tracking.metrics import DatabaseFigures, RedisFigures

# Anonymous counters exposed one to one: (metric name without _total, counter, help).
PLAIN_COUNTERS = (
    ("nurture_signups", counters.SIGNUPS, "New signups (pending until confirmed)."),
    (
        "nurture_repeat_signups",
        counters.REPEAT_SIGNUPS,
        "Signups for an address already on file.",
    ),
    ("nurture_confirmations", counters.CONFIRMATIONS, "Signups confirmed (double opt-in)."),
    ("nurture_unsubscribes", counters.UNSUBSCRIBES, "Unsubscribes."),
    ("nurture_subscribers_forgotten", counters.FORGOTTEN, "Subscribers erased on request."),
    (
        "nurture_webhook_batches_received",
        tallies.WEBHOOK_BATCHES,
        "Signed Event Webhook POSTs stored (replays not counted).",
    ),
    (
        "nurture_webhook_batches_set_aside",
        batch_failures.SET_ASIDE_COUNTER,
        "Webhook batches set aside after failing again and again.",
    ),
    (
        "nurture_tracking_hits_set_aside",
        poison.POISON_COUNTER,
        "Open and click hits the database refused, set aside.",
    ),
)


def _age(now: datetime, moment: datetime | None) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def _per_lesson(figures: DatabaseFigures) -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "nurture_emails_sent", "Emails sent, per course and lesson.", labels=["course", "lesson"]
    )
    failed = GaugeMetricFamily(
        "nurture_emails_failed",
        "Emails that failed for good and are not re-queued, per course and lesson.",
        labels=["course", "lesson"],
    )
    retried = GaugeMetricFamily(
        "nurture_emails_retried",
        "Emails that needed more than one attempt (any state), per course and lesson.",
        labels=["course", "lesson"],
    )
    states = GaugeMetricFamily(
        "nurture_deliveries",
        "Delivery rows per course, lesson and state (queued, sending, sent, failed, skipped).",
        labels=["course", "lesson", "state"],
    )
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for row in sorted(figures.deliveries, key=lambda r: (r.course, r.lesson, r.state)):
        states.add_metric([row.course, row.lesson, row.state], row.count)
        lesson = totals.setdefault((row.course, row.lesson), {"sent": 0, "failed": 0, "retried": 0})
        if row.state == DeliveryState.SENT:
            lesson["sent"] += row.count
        elif row.state == DeliveryState.FAILED:
            lesson["failed"] += row.count
        lesson["retried"] += row.retried
    for labels, lesson in totals.items():
        sent.add_metric(list(labels), lesson["sent"])
        failed.add_metric(list(labels), lesson["failed"])
        retried.add_metric(list(labels), lesson["retried"])
    yield from (sent, failed, retried, states)


def _webhook_lag(figures: DatabaseFigures) -> Metric:
    buckets: list[tuple[str, float]] = [
        (str(float(upper)), figures.counter(tallies.lag_bucket_counter(upper)))
        for upper in tallies.LAG_BUCKETS
    ]
    buckets.append(("+Inf", figures.counter(tallies.LAG_COUNT)))
    return HistogramMetricFamily(
        "nurture_webhook_ingest_lag_seconds",
        "Time from an event at SendGrid to its row in our events table.",
        buckets=buckets,
        sum_value=figures.counter(tallies.LAG_SUM_MS) / 1000,
    )


def database_families(figures: DatabaseFigures, now: datetime) -> Iterator[Metric]:
    """Yield the families read from the database, ages measured at NOW."""
    yield from _per_lesson(figures)
    due = GaugeMetricFamily(
        "nurture_oldest_due_age_seconds",
        "Age of the oldest mail that is due and not sent yet, per kind; 0 when none is due.",
        labels=["kind"],
    )
    for kind, moment in sorted(figures.oldest_due.items()):
        due.add_metric([kind], _age(now, moment))
    yield due
    yield GaugeMetricFamily(
        "nurture_webhook_batches_pending",
        "Stored webhook batches not ingested yet.",
        value=figures.pending_batches,
    )
    yield GaugeMetricFamily(
        "nurture_webhook_oldest_pending_batch_age_seconds",
        "Age of the oldest webhook batch not ingested yet; 0 when none waits.",
        value=_age(now, figures.oldest_pending_batch),
    )
    events = CounterMetricFamily(
        "nurture_webhook_events", "Webhook events stored (once each), per kind.", labels=["kind"]
    )
    for kind in tallies.EVENT_KINDS:
        events.add_metric([kind], figures.counter(tallies.event_counter(kind)))
    yield events
    yield _webhook_lag(figures)
    stored = CounterMetricFamily(
        "nurture_tracking_hits_stored",
        "Pixel opens and link clicks stored (once per client and window), per kind.",
        labels=["kind"],
    )
    for kind in tallies.HIT_KINDS:
        stored.add_metric([kind], figures.counter(tallies.HIT_PREFIX + kind))
    yield stored
    for name, counter, documentation in PLAIN_COUNTERS:
        yield CounterMetricFamily(name, documentation, value=figures.counter(counter))


def redis_families(figures: RedisFigures) -> Iterator[Metric]:
    """Yield the families read from Redis."""
    queues = GaugeMetricFamily(
        "nurture_queue_messages",
        "Celery messages waiting in each queue (a send message carries a batch).",
        labels=["queue"],
    )
    for queue, length in sorted(figures.queues.items()):
        queues.add_metric([queue], length)
    yield queues
    yield GaugeMetricFamily(
        "nurture_queue_unacked_messages",
        "Celery messages a worker has taken and not finished.",
        value=figures.unacked,
    )
    last = figures.last_pass
    yield GaugeMetricFamily(
        "nurture_dispatcher_last_pass_duration_seconds",
        "How long the last dispatcher pass took; 0 when none is recorded.",
        value=last.seconds if last else 0.0,
    )
    rows = GaugeMetricFamily(
        "nurture_dispatcher_last_pass_rows",
        "Rows the last dispatcher pass handled, per step.",
        labels=["step"],
    )
    totals = CounterMetricFamily(
        "nurture_dispatcher_rows", "Rows dispatcher passes handled, per step.", labels=["step"]
    )
    for step in ROW_FIELDS:
        rows.add_metric([step], last.rows[step] if last else 0)
        totals.add_metric([step], figures.pass_totals[step])
    yield from (rows, totals)
    yield CounterMetricFamily(
        "nurture_dispatcher_passes", "Dispatcher passes run.", value=figures.pass_totals["passes"]
    )
    yield CounterMetricFamily(
        "nurture_dispatcher_pass_seconds",
        "Time spent in dispatcher passes.",
        value=figures.pass_totals["seconds"],
    )
    yield CounterMetricFamily(
        "nurture_tracking_hits_shipped",
        "Open and click hits shipped from the web processes' spools to Redis.",
        value=figures.hits_shipped,
    )
    yield GaugeMetricFamily(
        "nurture_tracking_hits_waiting",
        "Open and click hits in Redis waiting to be stored.",
        value=figures.hits_waiting,
    )
