"""A signup never depends on Redis: the confirmation is a delivery row, sent once Redis is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import pytest
from helpers import wait_until
from services import PrivateRedis
from subscribers_support import ADDRESS, confirmations_of, signup_form, subscriber_by_email
from workers import thread_worker

from store.models import DeliveryState, SubscriberStatus
from tasks.dispatch import dispatch_once
from web import create_app


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_signup_with_redis_down_gets_its_confirmation_when_redis_is_back(
    private_redis, configure, make_runtime, tmp_path
):
    runtime = make_runtime(configure(redis_url=private_redis.url))
    client = create_app(runtime=runtime).test_client()
    private_redis.stop()

    started = time.monotonic()
    response = client.post("/subscribe", data=signup_form())
    assert response.status_code == 200
    assert "Check je inbox" in response.get_data(as_text=True)
    assert time.monotonic() - started < 5, "a signup must not wait long on a dead Redis"
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None and subscriber.status == SubscriberStatus.PENDING
    [confirmation] = confirmations_of(runtime, subscriber.id)
    assert confirmation.state == DeliveryState.QUEUED
    assert confirmation.enqueued_at is None, "not queued in Redis, so the dispatcher must"
    outbox = tmp_path / "outbox"
    assert not outbox.exists() or not list(outbox.glob("*.eml"))

    private_redis.start()
    with thread_worker(runtime):
        report = dispatch_once(runtime)
        assert report.enqueued == 1
        assert wait_until(lambda: len(list(outbox.glob("*.eml"))) == 1, timeout=20)

    [eml] = outbox.glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=default)
    assert mail["To"].addresses[0].addr_spec == ADDRESS
    assert mail["X-Nurture-Kind"] == "confirmation"
    body = mail.get_body(("plain",)).get_content()
    assert "http://nurture.test/confirm/" in body
    [confirmation] = confirmations_of(runtime, subscriber.id)
    assert confirmation.state == DeliveryState.SENT
