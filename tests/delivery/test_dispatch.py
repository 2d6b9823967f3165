"""The dispatcher pass on both databases: materialise once, enqueue once, publish to Redis."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from helpers import wait_until
from lessons import Recorder, deliveries_of, delivery_states, dispatch_pass, enroll, enrollment_of
from sqlalchemy import update
from workers import publishing_app, queue_length, thread_worker

from config import load_settings
from store.models import Delivery

START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)


@pytest.fixture
def celery_app(runtime):
    """The Celery app the pass publishes with, on this test's Redis database."""
    with publishing_app(runtime) as app:
        yield app


@pytest.fixture
def at_start(clock):
    clock.set(START)
    return clock


def test_due_enrollments_become_queued_deliveries_once(runtime, at_start):
    due = enroll(runtime, 3, START - timedelta(minutes=5))
    later = enroll(runtime, 1, START + timedelta(hours=1), prefix="later")
    recorder = Recorder()

    report = dispatch_pass(runtime, recorder)

    assert report.materialised == 3
    assert report.enqueued == 3
    assert delivery_states(runtime) == {"queued": 3}
    assert sorted(recorder.ids) == sorted(d.id for s in due for d in deliveries_of(runtime, s))
    for subscriber_id in due:
        [delivery] = deliveries_of(runtime, subscriber_id)
        assert (delivery.day, delivery.not_before, delivery.enqueued_at) == (1, START, START)
        assert enrollment_of(runtime, subscriber_id).next_due_at is None
    assert deliveries_of(runtime, later[0]) == []

    again = dispatch_pass(runtime, recorder)
    assert (again.materialised, again.enqueued) == (0, 0)
    assert len(recorder.ids) == 3


def test_pass_publishes_send_tasks_to_redis(runtime, at_start, celery_app, redis_url):
    from tasks.dispatch import dispatch_due, dispatch_once

    subscribers = enroll(runtime, 25, START)
    report = dispatch_once(runtime)
    assert report.enqueued == 25
    # One lesson, 25 due: one send task carries them all.
    assert queue_length(redis_url) == 1
    ids = [deliveries_of(runtime, s)[0].id for s in subscribers]
    assert sorted(_published_ids(redis_url)) == sorted(ids)
    assert queue_length(redis_url, "dispatch") == 0

    dispatch_due.delay()
    assert queue_length(redis_url, "dispatch") == 1
    assert queue_length(redis_url) == 1


def test_unclaimed_queued_delivery_is_enqueued_again_after_timeout(runtime, settings, at_start):
    clock = at_start
    enroll(runtime, 2, START)
    recorder = Recorder()
    dispatch_pass(runtime, recorder)
    clock.advance(seconds=settings.claim_timeout_seconds - 1)
    assert dispatch_pass(runtime, recorder).enqueued == 0
    clock.advance(seconds=2)
    assert dispatch_pass(runtime, recorder).enqueued == 2
    assert len(set(recorder.ids)) == 2


def test_retry_waits_for_not_before(runtime, at_start):
    clock = at_start
    [subscriber_id] = enroll(runtime, 1, START)
    recorder = Recorder()
    dispatch_pass(runtime, recorder)
    with runtime.session() as session:
        session.execute(
            update(Delivery).values(not_before=START + timedelta(minutes=10), enqueued_at=None)
        )
    clock.advance(minutes=9)
    assert dispatch_pass(runtime, recorder).enqueued == 0
    clock.advance(minutes=1)
    assert dispatch_pass(runtime, recorder).enqueued == 1
    assert recorder.ids == [deliveries_of(runtime, subscriber_id)[0].id] * 2


def test_concurrent_passes_materialise_and_enqueue_each_delivery_once(runtime, at_start):
    enroll(runtime, 400, START)
    recorder = Recorder()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def one_pass():
        try:
            barrier.wait()
            dispatch_pass(runtime, recorder, batch_size=50)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_pass) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert delivery_states(runtime) == {"queued": 400}
    assert len(recorder.ids) == 400
    assert len(set(recorder.ids)) == 400


def _messages(url: str, queue: str = "celery") -> list[dict]:
    """Return the Celery messages waiting in QUEUE, oldest first, with their bodies decoded."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = [json.loads(item) for item in reversed(raw)]  # LPUSH: newest first
    for message in messages:
        message["body"] = json.loads(base64.b64decode(message["body"]))
    return messages


def _published_ids(url: str) -> list[int]:
    """Return the delivery ids of every send task waiting in the queue."""
    return [delivery_id for message in _messages(url) for delivery_id in message["body"][0][0]]


def test_published_message_is_the_one_apply_async_sends(celery_app, redis_url):
    from tasks.publish import publish_sends
    from tasks.sending import send_batch

    send_batch.apply_async(([41],))
    publish_sends([[42]])
    before, now = _messages(redis_url)
    assert before["body"] == [
        [[41]],
        {},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
    assert now["body"][0] == [[42]] and now["body"][1:] == before["body"][1:]
    for message in (before, now):
        message["headers"].pop("id"), message["headers"].pop("root_id")
        message["headers"].pop("argsrepr"), message["headers"].pop("origin")
        for key in ("correlation_id", "reply_to", "delivery_tag"):
            message["properties"].pop(key)
    assert now["headers"] == before["headers"]
    assert now["properties"] == before["properties"]
    assert {k: now[k] for k in ("content-type", "content-encoding")} == {
        k: before[k] for k in ("content-type", "content-encoding")
    }


def test_real_worker_runs_every_published_send_once(runtime, at_start, celery_app, redis_url):
    """Messages from the pass's own publisher are consumed and sent by a real worker."""
    subscribers = enroll(runtime, 30, START)
    report = dispatch_pass(runtime, batch_size=7)  # five statements, five background publishes
    assert (report.materialised, report.enqueued) == (30, 30)
    assert queue_length(redis_url) == 5  # a send task per step, all in Redis at the return
    ids = [deliveries_of(runtime, s)[0].id for s in subscribers]
    assert sorted(_published_ids(redis_url)) == sorted(ids)
    with thread_worker(runtime, concurrency=4):
        assert wait_until(lambda: delivery_states(runtime) == {"sent": 30}, 30)
    assert queue_length(redis_url) == 0
    for subscriber_id in subscribers:
        assert enrollment_of(runtime, subscriber_id).next_day == 2


def test_failed_publish_is_enqueued_again_after_claim_timeout(
    runtime, settings, at_start, celery_app, redis_url
):
    """Rows are stamped before publishing, so a lost batch comes back; nothing is lost."""
    clock = at_start
    enroll(runtime, 12, START)

    def broken(ids):
        raise ConnectionError("Redis went away mid-publish")

    with pytest.raises(ConnectionError):
        dispatch_pass(runtime, broken, batch_size=5)
    # Every batch was committed (stamped) though none reached Redis.
    assert delivery_states(runtime) == {"queued": 12}
    assert queue_length(redis_url) == 0
    clock.advance(seconds=settings.claim_timeout_seconds - 1)
    assert dispatch_pass(runtime).enqueued == 0
    clock.advance(seconds=2)
    report = dispatch_pass(runtime, batch_size=5)
    assert (report.materialised, report.enqueued) == (0, 12)
    assert queue_length(redis_url) == 3  # steps of 5, 5 and 2
    published = _published_ids(redis_url)
    assert len(published) == len(set(published)) == 12


def test_beat_interval_follows_compressed_days(settings):
    from config.celery import celery_settings

    normal = celery_settings(load_settings(mail_backend="outbox"))
    assert normal["beat_schedule"]["dispatch-due-lessons"]["schedule"] == 60.0
    demo = celery_settings(load_settings(mail_backend="outbox", day_seconds=20))
    assert demo["beat_schedule"]["dispatch-due-lessons"]["schedule"] == 5.0
    assert demo["task_routes"]["tasks.dispatch.dispatch_due"] == {"queue": "dispatch"}
    assert demo["task_routes"]["tasks.alerts.watch"] == {"queue": "dispatch"}
    assert demo["task_acks_late"] and demo["task_reject_on_worker_lost"]
    # Every pool slot can ack on a broker connection of its own.
    transport = demo["broker_transport_options"]
    assert transport["max_connections"] > load_settings(mail_backend="outbox").worker_concurrency
