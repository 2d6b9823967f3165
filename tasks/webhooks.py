"""Celery tasks that apply SendGrid webhook batches and drain queued opens and clicks."""

from __future__ import annotations

from celery import shared_task

from tracking.hits import drain_hits
from tracking.ingest import process_batch


@shared_task(name="tasks.webhooks.process_webhook_batch")
def process_webhook_batch(batch_id: int) -> bool:
    """Apply one stored webhook batch; a duplicate run finds it claimed and does nothing."""
    return process_batch(batch_id)


@shared_task(name="tasks.webhooks.drain_tracking_hits")
def drain_tracking_hits() -> int:
    """Store the opens and clicks queued in Redis."""
    return drain_hits()
