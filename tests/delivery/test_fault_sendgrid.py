"""SendGrid down for six hours: every send answers 503, then it recovers; each lesson goes once.

Simulated time: the runtime's FrozenClock, moved by the test, drives the dispatcher passes
and the real Celery worker's claims (a thread worker on the same runtime). 300 subscribers
get lesson 1; when lesson 2 falls due the fake SendGrid answers every request with 503 for
six hours, then takes mail again. The production retry settings apply: waits from 30 s,
doubling, capped at an hour, fully jittered; a row fails only after MAX_SEND_ATTEMPTS tries
and RETRY_WINDOW_HOURS (counting tries alone, every row had failed about 2.5 hours in). The
rows wait in the database with their own backoff, Redis holds nothing between passes, none
fails, and once SendGrid is back every lesson goes out exactly once and the course carries on
to lesson 5.

The clock moves only between passes, once every send a pass started has finished: a claim
never sees hours pass under it (which real time never does either).

Not covered: "the clinic is alerted" during the outage; there is no alerting yet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from faults_support import DAYS, assert_every_lesson_once
from helpers import wait_until
from lessons import delivery_states, enroll
from sqlalchemy import func, select
from workers import queue_length, thread_worker, unfinished_messages

from runtime import Runtime
from store.models import Delivery, DeliveryState, Enrollment, EnrollmentStatus
from tasks.dispatch import dispatch_once

pytestmark = [pytest.mark.slow]

SUBSCRIBERS = 300
OUTAGE = timedelta(hours=6)
# Simulated time between dispatcher passes (production runs one a minute).
STEP = timedelta(minutes=3)


def _in_flight(runtime: Runtime) -> int:
    """Return deliveries claimed, or stamped for a send task that has not claimed them yet."""
    with runtime.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    (Delivery.state == DeliveryState.SENDING)
                    | ((Delivery.state == DeliveryState.QUEUED) & Delivery.enqueued_at.is_not(None))
                )
            )
            or 0
        )


def settle(runtime: Runtime) -> None:
    """Run a dispatcher pass, then wait until every send task it started has finished."""
    dispatch_once(runtime)
    url = runtime.settings.redis_url
    assert wait_until(
        lambda: _in_flight(runtime) == 0 and unfinished_messages(url) == 0,
        timeout=60,
        interval=0.01,
    ), f"sends still in flight: {delivery_states(runtime)}"


def next_due(runtime: Runtime) -> datetime | None:
    """Return when the earliest active enrollment is due."""
    with runtime.session() as session:
        return session.scalar(
            select(func.min(Enrollment.next_due_at)).where(
                Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )


def attempts_of_day(runtime: Runtime, day: int) -> list[int]:
    """Return the attempts of each delivery of lesson DAY."""
    with runtime.session() as session:
        return list(session.scalars(select(Delivery.attempts).where(Delivery.day == day)))


def test_six_hours_of_503_lose_nothing_and_send_nothing_twice(
    fake_sendgrid, clock, configure, make_runtime
):
    runtime = make_runtime(configure(send_batch_size=100))
    settings = runtime.settings
    enroll(runtime, SUBSCRIBERS, clock(), prefix="outage")
    with thread_worker(runtime, concurrency=4):
        settle(runtime)
        assert delivery_states(runtime) == {"sent": SUBSCRIBERS}

        due = next_due(runtime)
        assert due is not None and due > clock()
        clock.set(due)
        fake_sendgrid.go_down(503)
        down_since, requests_before = clock(), fake_sendgrid.requests
        passes = 0
        while clock() < down_since + OUTAGE:
            settle(runtime)
            passes += 1
            # Between passes the lessons wait in the database, none in Redis.
            assert queue_length(settings.redis_url) == 0
            clock.advance(seconds=STEP.total_seconds())
        outage_requests = fake_sendgrid.requests - requests_before
        states = delivery_states(runtime)
        attempts = attempts_of_day(runtime, 2)
        # Six hours on: nothing of lesson 2 went, nothing failed, every row is still queued.
        assert states == {"sent": SUBSCRIBERS, "queued": SUBSCRIBERS}, states
        assert sum(fake_sendgrid.counts.values()) == SUBSCRIBERS

        fake_sendgrid.recover()
        recovered = clock()
        longest_wait = timedelta(seconds=settings.retry_backoff_max_seconds)
        while delivery_states(runtime) != {"sent": 2 * SUBSCRIBERS}:
            assert clock() - recovered <= longest_wait + STEP, delivery_states(runtime)
            clock.advance(seconds=STEP.total_seconds())
            settle(runtime)
        caught_up = clock() - recovered

        # The rest of the course, a day at a time.
        for _ in range(3 * DAYS):
            due = next_due(runtime)
            if due is None:
                break
            clock.set(max(due, clock()))
            settle(runtime)
    stats = fake_sendgrid.stats()

    print(
        f"\nsendgrid down: {passes} passes over {OUTAGE}, {outage_requests} requests refused, "
        f"attempts per lesson-2 delivery {min(attempts)}..{max(attempts)}, "
        f"caught up {caught_up} after recovery"
    )
    assert delivery_states(runtime) == {"sent": SUBSCRIBERS * DAYS}
    assert_every_lesson_once(runtime, stats, "outage", SUBSCRIBERS)
    assert stats["refused"] == {"503": outage_requests}
    # Retries backed off: each row was tried again and again, but far less than once a pass,
    # and together, many rows to a request.
    assert min(attempts) >= 5
    assert max(attempts) <= passes // 3, (max(attempts), passes)
    assert outage_requests * 10 < sum(attempts), (outage_requests, sum(attempts))
