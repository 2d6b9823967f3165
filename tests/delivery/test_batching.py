"""Sends that a worker runs at once go out together, and each recipient still gets their own."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from helpers import wait_until
from lessons import collect_ids, deliveries_of, dispatch_pass, emails_in, enroll, state_of
from sqlalchemy.engine import make_url
from workers import thread_worker

from delivery.sender import Sender
from store.models import DeliveryState
from tasks.dispatch import dispatch_once

START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)


def _sent(runtime, delivery_ids) -> bool:
    return all(state_of(runtime, i).state == DeliveryState.SENT for i in delivery_ids)


def test_a_due_lesson_goes_out_as_one_batch_and_each_recipient_gets_their_own_email(
    fake_sendgrid, runtime, clock
):
    clock.set(START)
    subscriber_ids = enroll(runtime, 30, START)
    with thread_worker(runtime, concurrency=4):
        assert dispatch_once(runtime).enqueued == 30
        delivery_ids = [deliveries_of(runtime, s)[0].id for s in subscriber_ids]
        assert wait_until(lambda: _sent(runtime, delivery_ids), 20)
    assert emails_in(fake_sendgrid) == 30 and fake_sendgrid.duplicates == 0
    # The dispatcher had all 30 in hand: one task, one request (nothing waited for company).
    [request] = fake_sendgrid.accepted
    for message in request.messages:
        delivery = state_of(runtime, int(message["custom_args"]["delivery_id"]))
        assert delivery.provider_message_id == request.message_id
        # Each recipient got their own unsubscribe link and greeting, not a neighbour's.
        subscriber_id = int(message["custom_args"]["subscriber_id"])
        assert delivery.subscriber_id == subscriber_id
        token = message["headers"]["List-Unsubscribe"].split("/unsubscribe/")[1].rstrip(">")
        assert f"/unsubscribe/{token}" in message["html"]
        assert runtime.tokens.read_unsubscribe(token) == subscriber_id


def test_batches_hold_one_lesson_and_at_most_the_batch_size(
    fake_sendgrid, configure, make_runtime, clock
):
    runtime = make_runtime(configure(send_batch_size=10))
    clock.set(START)
    day_one = enroll(runtime, 25, START)
    day_two = enroll(runtime, 5, START, prefix="verder")
    with runtime.session() as session:
        from sqlalchemy import update

        from store.models import Enrollment

        session.execute(
            update(Enrollment).where(Enrollment.subscriber_id.in_(day_two)).values(next_day=2)
        )
    batches: list[list[int]] = []
    dispatch_pass(runtime, lambda published: batches.extend(list(b) for b in published))
    days = {
        delivery.id: delivery.day
        for subscriber_id in day_one + day_two
        for delivery in deliveries_of(runtime, subscriber_id)
    }
    assert sorted(len(batch) for batch in batches) == [5, 5, 10, 10]
    assert all(len({days[i] for i in batch}) == 1 for batch in batches)
    assert sorted(i for batch in batches for i in batch) == sorted(days)


def test_a_subscriber_due_alone_goes_out_in_a_batch_of_one_without_waiting(
    fake_sendgrid, runtime, clock
):
    clock.set(START)
    [subscriber_id] = enroll(runtime, 1, START)
    with thread_worker(runtime, concurrency=2):
        started = time.monotonic()
        assert dispatch_once(runtime).enqueued == 1
        [delivery] = deliveries_of(runtime, subscriber_id)
        assert wait_until(lambda: _sent(runtime, [delivery.id]), 10)
        assert time.monotonic() - started < 5
    [request] = fake_sendgrid.accepted
    assert len(request.recipients) == 1


def test_a_connection_lost_while_sending_is_recovered_before_recording(
    runtime, fake_sendgrid, clock
):
    url = make_url(runtime.settings.database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs a server whose connections can be cut")
    clock.set(START)
    [subscriber_id] = enroll(runtime, 1, START)
    queued: list[int] = []
    dispatch_pass(runtime, collect_ids(queued))
    fake_sendgrid.latency = 0.8

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
    outcome = Sender(runtime).deliver(queued[0])
    cutter.join()
    assert outcome == "sent"
    delivery = deliveries_of(runtime, subscriber_id)[0]
    assert delivery.state == DeliveryState.SENT
    assert delivery.provider_message_id == fake_sendgrid.accepted[0].message_id
    assert emails_in(fake_sendgrid) == 1
