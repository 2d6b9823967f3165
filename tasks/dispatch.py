"""The periodic dispatcher task: beat starts it every dispatch interval (delivery.dispatcher)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from delivery.dispatcher import DispatchReport, run_dispatch_pass
from delivery.last_pass import record_pass
from runtime import Runtime
from tasks.app import worker_context
from tasks.heartbeat import record_dispatch_pass
from tasks.publish import publish_sends
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending
from tracking.rollups import fold_rollups

log = logging.getLogger(__name__)


def dispatch_once(runtime: Runtime) -> DispatchReport:
    """Ingest webhook evidence, store queued opens and clicks, then run a dispatcher pass."""
    report = run_dispatch_pass(
        runtime, publish_sends, ingest_evidence=lambda: ingest_pending(runtime)
    )
    try:
        # Opens and clicks queued in Redis land here too, even when no worker drained them.
        drain_hits(runtime)
    except Exception:
        log.exception("draining opens and clicks failed; they wait")
    try:
        # The dashboard's pending counts join their rollups (reads are exact either way).
        fold_rollups(runtime)
    except Exception:
        log.exception("folding the dashboard's rollups failed; the deltas wait")
    try:
        # `nurture doctor` and /admin tell from this stamp whether beat and workers run.
        record_dispatch_pass(runtime)
    except Exception:
        log.warning("could not record the dispatcher pass in Redis", exc_info=True)
    # Its duration and rows, for /metrics (web.metrics); never raises.
    record_pass(runtime, report)
    return report


@shared_task(bind=True, name="tasks.dispatch.dispatch_due", ignore_result=True)
def dispatch_due(self: Any) -> dict[str, Any]:
    """Run one dispatcher pass."""
    return dispatch_once(worker_context(self.app).runtime).as_dict()
