"""Tracking tasks: ingest one stored webhook batch, and drain queued opens and clicks."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.app import worker_context
from tracking.hits import drain_hits
from tracking.ingest import ingest_batch


@shared_task(bind=True, name="tasks.tracking.ingest_webhook_batch", ignore_result=True)
def ingest_webhook_batch(self: Any, batch_id: int) -> bool:
    """Ingest one stored webhook batch; a duplicate run finds it claimed and does nothing."""
    return ingest_batch(worker_context(self.app).runtime, batch_id)


@shared_task(bind=True, name="tasks.tracking.drain_tracking_hits", ignore_result=True)
def drain_tracking_hits(self: Any) -> int:
    """Store the opens and clicks queued in Redis."""
    return drain_hits(worker_context(self.app).runtime)
