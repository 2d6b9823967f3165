"""Redis lost mid-run: killed with sends queued, restarted empty; every lesson still goes once.

300 subscribers x 5 lessons through two `nurture worker` processes, a dispatcher loop and the
fake SendGrid (see tests/faults_support.py). The test's own redis-server is SIGKILLed while
batches are in flight (the fake holds its answers for that moment) and more wait in its
queue, stays down for two seconds, and comes back empty: every queued message, every
unacknowledged one and the webhook replay keys are gone. Time lives in the database, so the
dispatcher enqueues the lost rows again once their stamp is older than the claim timeout,
and the workers reconnect on their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from faults_support import (
    DAYS,
    DispatcherLoop,
    assert_every_lesson_once,
    fault_rig,
    sent_count,
    wait_all_sent,
)
from helpers import wait_until
from lessons import enroll
from services import PrivateRedis
from workers import queue_length, unfinished_messages

# PostgreSQL, as in production: the test's own database (nurture_env), and its own Redis.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

SUBSCRIBERS = 300
DOWN_SECONDS = 2.0


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(private_redis: PrivateRedis) -> str:
    """Point the test's settings (and so the workers') at the private Redis."""
    return private_redis.url


def test_every_lesson_exactly_once_when_redis_is_lost(
    private_redis, configure, make_runtime, tmp_path
):
    total = SUBSCRIBERS * DAYS
    with fault_rig(configure, make_runtime, tmp_path, send_batch_size=10) as rig:
        runtime = rig.runtime
        assert runtime.settings.redis_url == private_redis.url
        enroll(runtime, SUBSCRIBERS, runtime.now(), prefix="redislost")
        rig.start_workers(2, concurrency=2)
        started = time.monotonic()
        with DispatcherLoop(runtime) as loop:
            assert wait_until(lambda: sent_count(runtime) >= total * 0.3, timeout=90)
            # SendGrid holds its answers: every thread is stuck in a send, so the batches the
            # dispatcher enqueues next wait in Redis.
            rig.fake.hold()
            assert wait_until(
                lambda: rig.fake.in_flight() > 0 and queue_length(private_redis.url) > 0,
                timeout=10,
                interval=0.02,
            ), "never caught sends waiting in the queue"
            lost = unfinished_messages(private_redis.url)
            private_redis.kill()
            sent_at_kill = sent_count(runtime)
            rig.fake.hold(False)  # the sends in flight finish; their acks find no Redis
            time.sleep(DOWN_SECONDS)  # the outage itself: passes and acks fail meanwhile
            private_redis.start()
            restarted = time.monotonic()
            states = wait_all_sent(runtime, total, timeout=120)
        elapsed = time.monotonic() - started
        stats = rig.fake.stats()
        alive = [worker.alive() for worker in rig.workers]

    print(
        f"\nredis lost: {elapsed:.1f} s, {lost} messages lost at {sent_at_kill} sent, "
        f"states {states}, dispatcher errors {len(loop.errors)}, "
        f"fake requests {stats['requests']}"
    )
    assert lost > 0 and sent_at_kill < total, "the kill must hit a run with sends queued"
    assert states == {"sent": total}, states
    assert_every_lesson_once(runtime, stats, "redislost", SUBSCRIBERS)
    # The workers lived through it and reconnected by themselves: nobody restarted them, and
    # the lessons after the outage could only reach them through the new Redis.
    assert alive == [True, True]
    # Passes failed only while Redis was down or just back, never for good.
    assert loop.errors_since(restarted + 5) == [], loop.errors_since(restarted + 5)
    assert stats["webhook"]["delivered"] > 0 and stats["webhook"]["given_up"] == 0
