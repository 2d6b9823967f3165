"""The send task: one delivery id in, the delivery domain does the rest (delivery.sender)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.app import worker_context


@shared_task(bind=True, name="tasks.sending.send_delivery", ignore_result=True)
def send_delivery(self: Any, delivery_id: int) -> str:
    """Send one delivery once; return what happened (for logs and tests)."""
    return worker_context(self.app).sender.deliver_with_company(delivery_id)
