"""Sends that a worker runs at once go out together, and each recipient still gets their own."""
# ruff: noqa: F811  (pytest fixtures imported from tests/workers.py are used as arguments)

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from lessons import deliveries_of, emails_in, enroll, state_of
from sqlalchemy.engine import make_url
from workers import lesson_settings, sendgrid_fake, thread_worker, wait_until  # noqa: F401

from config import get_settings, reset_settings_cache
from emails.tokens import read_unsubscribe_token
from store.clock import FrozenClock, set_clock
from store.models import DeliveryState
from tasks.dispatch import run_dispatch_pass
from tasks.sending import deliver

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


def test_a_connection_lost_while_sending_is_recovered_before_recording(sendgrid_fake):
    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs a server whose connections can be cut")
    set_clock(FrozenClock(START))
    [subscriber_id] = enroll(1, START)
    queued: list[int] = []
    run_dispatch_pass(enqueue=queued.extend)
    sendgrid_fake.latency = 0.8

    def cut_our_connections() -> None:
        # While SendGrid "thinks", the database drops every connection of ours (a restart).
        time.sleep(0.3)
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    cutter = threading.Thread(target=cut_our_connections)
    cutter.start()
    outcome = deliver(queued[0])
    cutter.join()
    assert outcome == "sent"
    delivery = deliveries_of(subscriber_id)[0]
    assert delivery.state == DeliveryState.SENT
    assert delivery.provider_message_id == sendgrid_fake.accepted[0].message_id
    assert emails_in(sendgrid_fake) == 1
