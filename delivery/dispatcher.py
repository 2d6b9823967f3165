"""The periodic dispatcher: turn due enrollments into deliveries and enqueue their sends.

Beat runs `dispatch_due` every dispatch_interval_seconds. One pass:
1. ingests pending webhook batches (the caller hands in tracking's ingest step), so the
   provider's latest evidence is in the event table;
2. settles stale 'sending' claims by that evidence (delivery.evidence), and resumes the
   enrollments whose timed pause has ended (delivery.enrollments);
3. materialises due enrollments: one indexed query on ix_enrollments_due, one bulk insert of
   queued deliveries (unique per enrollment and day, so a repeat is a no-op), and the
   enrollments' next_due_at cleared, all in one transaction (one statement on PostgreSQL),
   so they aren't due again until their lesson is sent. The new rows are stamped enqueued_at
   in the same insert; grouped by lesson into batches of up to send_batch_size, they are
   published right after the commit as one send task per batch (by the `enqueue` the
   caller hands in: tasks.publish);
4. enqueues sends, batched the same way, for the other queued deliveries whose not_before
   has passed and that weren't enqueued recently: confirmations, retries, held lessons, and
   messages lost between our commit and Redis (or a flushed Redis). The claim makes an
   extra message harmless.

While the provider is down (delivery.breaker), steps 3 and 4 hold: one small probe batch
is enqueued now and then instead. No lesson is ever an ETA/countdown task (Redis redelivers
those after the visibility timeout); time lives in the database. Two beats, or `nurture
dispatch --once` beside beat, are harmless: PostgreSQL skips rows another pass has locked,
SQLite serialises writers, and every write is guarded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from delivery import breaker
from delivery.background import BackgroundEnqueue, Enqueue
from delivery.enrollments import resume_ended_pauses
from delivery.evidence import resolve_stale_claims
from delivery.materialise import batches_of, claim_for_enqueue, materialise_due
from runtime import Runtime

log = logging.getLogger(__name__)

# Rows in the first materialise step of a pass; later steps take the full batch size.
FIRST_STEP = 500


@dataclass
class DispatchReport:
    """What one dispatcher pass did, and how long it took."""

    evidence_batches: int = 0
    sent_by_evidence: int = 0
    requeued_stale: int = 0
    materialised: int = 0
    enqueued: int = 0
    seconds: float = 0.0
    breaker: str = "closed"

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data (the task's log line, the CLI's output)."""
        return asdict(self)


def _probe(runtime: Runtime, publisher: BackgroundEnqueue, now: datetime) -> int:
    """Enqueue one small batch to ask the failing provider again; return its size."""
    with runtime.session() as session:
        ready = claim_for_enqueue(session, now, breaker.PROBE_SIZE, runtime.settings)
        if not ready:
            ready = materialise_due(session, now, breaker.PROBE_SIZE).queued
    publisher.submit(batches_of(ready, breaker.PROBE_SIZE))
    return len(ready)


def run_dispatch_pass(
    runtime: Runtime,
    enqueue: Enqueue,
    *,
    ingest_evidence: Callable[[], int] | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> DispatchReport:
    """Run one dispatcher pass (see the module docstring) and report what it did.

    ENQUEUE publishes batches of delivery ids (one send task each); INGEST_EVIDENCE stores
    pending webhook events first and returns how many batches it handled.
    """
    started = time.perf_counter()
    settings = runtime.settings
    now = now or runtime.now()
    limit = batch_size or settings.dispatch_batch_size
    send_size = settings.send_batch_size
    report = DispatchReport()
    if ingest_evidence is not None:
        try:
            report.evidence_batches = ingest_evidence()
        except Exception:
            # Evidence only settles stale claims; sending due lessons must not wait on it.
            log.exception("ingesting webhook batches failed; stale claims wait for the next pass")
    resolution = resolve_stale_claims(runtime, now)
    report.sent_by_evidence = resolution.sent_by_evidence
    report.requeued_stale = resolution.requeued
    with runtime.session() as session:
        resume_ended_pauses(session, now, settings, runtime.courses)
    # Keep going while batches come back full, within half an interval, so a morning burst
    # larger than one batch doesn't wait for the next beat.
    budget = settings.dispatch_interval_seconds / 2
    # Stamped first, published second, in both loops: if publishing fails, the stamp ages out
    # and the next passes enqueue these again (the reverse would enqueue twice on every pass
    # while the commit kept failing). Each batch is published in the background while the
    # next database step runs; the pass returns once every message is in Redis.
    with BackgroundEnqueue(enqueue) as publisher:
        report.breaker = breaker.gate(runtime)
        if report.breaker == breaker.PROBE:
            report.enqueued = _probe(runtime, publisher, now)
        # While the provider is down (delivery.breaker), due mail stays in the database.
        if report.breaker == breaker.CLOSED:
            # A small first step gets the publisher (and so the workers) going sooner.
            step_limit = min(limit, FIRST_STEP)
            while True:
                with runtime.session() as session:
                    step = materialise_due(session, now, step_limit)
                if step.queued:
                    publisher.submit(batches_of(step.queued, send_size))
                report.materialised += step.due
                report.enqueued += len(step.queued)
                if step.due < step_limit or time.perf_counter() - started > budget:
                    break
                step_limit = limit
            while True:
                with runtime.session() as session:
                    ready = claim_for_enqueue(session, now, limit, settings)
                if ready:
                    publisher.submit(batches_of(ready, send_size))
                report.enqueued += len(ready)
                if len(ready) < limit or time.perf_counter() - started > budget:
                    break
    report.seconds = time.perf_counter() - started
    if report.materialised or report.enqueued or report.sent_by_evidence or report.requeued_stale:
        log.info("dispatch pass: %s", report.as_dict())
    return report
