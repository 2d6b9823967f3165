"""Sends that a worker runs at once go out together, and each recipient still gets their own."""
# ruff: noqa: F811  (pytest fixtures imported from tests/workers.py are used as arguments)

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lessons import deliveries_of, emails_in, enroll, state_of
from workers import lesson_settings, sendgrid_fake, thread_worker, wait_until  # noqa: F401

from config import reset_settings_cache
from emails.tokens import read_unsubscribe_token
from store.clock import FrozenClock, set_clock
from store.models import DeliveryState
from tasks.dispatch import run_dispatch_pass

pytestmark = pytest.mark.usefixtures("lesson_settings")

START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)


def test_concurrent_sends_share_requests_and_each_recipient_gets_one_email(
    sendgrid_fake, monkeypatch
):
    # A generous window, so the 30 tasks the worker runs at once surely meet.
    monkeypatch.setenv("NURTURE_SEND_BATCH_WINDOW_SECONDS", "0.3")
    reset_settings_cache()
    set_clock(FrozenClock(START))
    subscriber_ids = enroll(30, START)
    with thread_worker(concurrency=30):
        assert run_dispatch_pass().enqueued == 30
        delivery_ids = [deliveries_of(s)[0].id for s in subscriber_ids]
        assert wait_until(
            lambda: all(state_of(i).state == DeliveryState.SENT for i in delivery_ids), 20
        )
    assert emails_in(sendgrid_fake) == 30 and sendgrid_fake.duplicates == 0
    assert len(sendgrid_fake.accepted) < 10  # batched: a few requests, not one per email
    for request in sendgrid_fake.accepted:
        for message in request.messages:
            delivery = state_of(int(message["custom_args"]["delivery_id"]))
            assert delivery.provider_message_id == request.message_id
            # Each recipient got their own unsubscribe link and greeting, not a neighbour's.
            subscriber_id = int(message["custom_args"]["subscriber_id"])
            assert delivery.subscriber_id == subscriber_id
            token = message["headers"]["List-Unsubscribe"].split("/unsubscribe/")[1].rstrip(">")
            assert f"/unsubscribe/{token}" in message["html"]
            assert read_unsubscribe_token(token) == subscriber_id
