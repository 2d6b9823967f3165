"""The retention task: beat starts it every hour; the rules are subscribers.retention's."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from subscribers.retention import apply_retention as run_retention
from tasks.app import worker_context


@shared_task(bind=True, name="tasks.retention.apply_retention", ignore_result=True)
def apply_retention(self: Any) -> dict[str, Any]:
    """Erase and delete what has outlived its retention period."""
    return run_retention(worker_context(self.app).runtime).as_dict()
