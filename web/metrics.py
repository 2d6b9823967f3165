"""GET /metrics: Prometheus figures, read from the database and Redis when Prometheus asks.

Why not prometheus-client's counters in each process: the web app runs as several gunicorn
processes, the senders as several Celery processes on several machines, and each would
count only its own part. The library's multiprocess mode adds up the processes of one
machine through files, but not across machines, and it loses what a restarted process
counted. The truth is in the database anyway (a delivery row says sent, failed or retried;
counters count signups, events and hits in the transaction that stores them), with the
queues and the dispatcher's last pass in Redis. So a custom Collector reads them at
scrape time (tracking.metrics: a few grouped queries and one Redis round trip) and yields
metric families: every process, and every machine, answers with the same numbers.

The endpoint exists only when NURTURE_METRICS_TOKEN is set (404 otherwise), and answers
only `Authorization: Bearer <token>`. A source that is down leaves its figures out and
says so in nurture_metrics_source_up{source="database"|"redis"}.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from runtime import Runtime
from tasks.heartbeat import last_dispatch_pass
from tracking.metrics import DatabaseFigures, RedisFigures, read_or_none
from web.context import runtime
from web.metrics_families import database_families, redis_families

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

REGISTRY_KEY = "nurture_metrics"


class NurtureCollector(Collector):
    """Read the service's figures from the database and Redis on every scrape."""

    def __init__(self, runtime: Runtime) -> None:
        """Collect for RUNTIME (its database, Redis and clock)."""
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family, reading both sources once."""
        started = time.perf_counter()
        now = self.runtime.now()
        database, broker = read_or_none(self.runtime)
        if database is not None:
            yield from database_families(database, now)
        if broker is not None:
            yield from redis_families(broker)
            yield self._last_pass_time()
        yield _sources_up(database, broker)
        yield GaugeMetricFamily(
            "nurture_metrics_scrape_duration_seconds",
            "How long reading the figures for this scrape took.",
            value=time.perf_counter() - started,
        )

    def _last_pass_time(self) -> Metric:
        """Return when the dispatcher last finished a pass (tasks.heartbeat's stamp)."""
        try:
            last: datetime | None = last_dispatch_pass(self.runtime)
        except Exception as exc:
            log.warning("metrics: no dispatcher stamp (%s)", type(exc).__name__)
            last = None
        return GaugeMetricFamily(
            "nurture_dispatcher_last_pass_timestamp_seconds",
            "Unix time the dispatcher last finished a pass; 0 when none is recorded.",
            value=last.timestamp() if last is not None else 0.0,
        )


def _sources_up(database: DatabaseFigures | None, broker: RedisFigures | None) -> Metric:
    family = GaugeMetricFamily(
        "nurture_metrics_source_up",
        "1 when the source answered this scrape; 0 when its figures are left out.",
        labels=["source"],
    )
    family.add_metric(["database"], float(database is not None))
    family.add_metric(["redis"], float(broker is not None))
    return family


def init_app(app: Flask, nurture: Runtime) -> None:
    """Give APP its registry with the collector; nothing is read until a scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NurtureCollector(nurture))
    app.extensions[REGISTRY_KEY] = registry


def _authorised(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Answer Prometheus with the current figures; 404 without a token set, 401 without it."""
    token = runtime().settings.metrics_token
    if not token:
        abort(404)
    if not _authorised(token):
        return Response(
            "metrics need Authorization: Bearer <NURTURE_METRICS_TOKEN>\n",
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    registry: CollectorRegistry = current_app.extensions[REGISTRY_KEY]
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(
        encode(registry),
        headers={"Content-Type": content_type, "Cache-Control": "no-store"},
    )
