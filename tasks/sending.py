"""The send task: a batch of delivery ids in; the delivery domain does the rest."""

from __future__ import annotations

from collections import Counter
from typing import Any

from celery import shared_task

from tasks.app import worker_context


@shared_task(bind=True, name="tasks.sending.send_batch", ignore_result=True)
def send_batch(self: Any, delivery_ids: list[int]) -> dict[str, int]:
    """Send each delivery of one batch once; return how many ended how (for logs and tests)."""
    outcomes = worker_context(self.app).sender.deliver_many(delivery_ids)
    return dict(Counter(outcomes.values()))
