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

The circuit breaker (delivery.breaker) opens after a few failed requests in a row: from then
on the dispatcher holds everything and probes SendGrid with one small batch, at growing
intervals. So each row is tried a few times over the six hours, not a dozen or more, and the
outage costs a few dozen requests. Once a probe gets through, everything goes out, and the
alert watch (tasks.alerts, as beat runs it) mails the clinic, once, that SendGrid was down.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from faults_support import DAYS, assert_every_lesson_once
from helpers import wait_until
from lessons import delivery_states, enroll
from sqlalchemy import func, select
from workers import queue_length, thread_worker, unfinished_messages

from delivery import breaker
from runtime import Runtime
from store.models import Alert, AlertState, Delivery, DeliveryState, Enrollment, EnrollmentStatus
from tasks.alerts import watch_once
from tasks.dispatch import dispatch_once

pytestmark = [pytest.mark.slow]

SUBSCRIBERS = 300
OUTAGE = timedelta(hours=6)
# Simulated time between dispatcher passes (production runs one a minute).
STEP = timedelta(minutes=3)
ALERT_EMAIL = "praktijk@example.org"


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


def alert_rows(runtime: Runtime) -> list[Alert]:
    """Return the alerts raised so far."""
    with runtime.session() as session:
        return list(session.scalars(select(Alert)))


def test_six_hours_of_503_lose_nothing_and_send_nothing_twice(
    fake_sendgrid, clock, configure, make_runtime
):
    runtime = make_runtime(configure(send_batch_size=100, alert_email=ALERT_EMAIL))
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
            watch_once(runtime)  # beat runs it beside the dispatcher
            passes += 1
            # Between passes the lessons wait in the database, none in Redis.
            assert queue_length(settings.redis_url) == 0
            clock.advance(seconds=STEP.total_seconds())
        outage_requests = fake_sendgrid.requests - requests_before
        # The breaker is open: the dashboard's banner says so; no email could go out about it.
        # (The rig has no webhook, so "no SendGrid events for 24 h" is raised, and waits.)
        assert breaker.open_since(runtime) is not None
        assert {(a.condition, a.state) for a in alert_rows(runtime)} <= {
            ("webhook_silent", AlertState.QUEUED)
        }
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
        assert breaker.open_since(runtime) is None
        # The next watch pass tells the clinic, once; later passes add nothing.
        for _ in range(3):
            watch_once(runtime)
        alerts = {alert.condition: alert for alert in alert_rows(runtime)}
        assert {key: alert.state for key, alert in alerts.items()} == {
            "webhook_silent": AlertState.SENT,
            "sendgrid_outage": AlertState.SENT,
        }
        assert "SendGrid was onbereikbaar" in alerts["sendgrid_outage"].body

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
    # The lessons, without the clinic's two alert emails (one counting key: checked below).
    lessons_only = {
        **stats,
        "counts": [row for row in stats["counts"] if row["day"] != "alert"],
        "recipients": stats["recipients"] - len(alerts),
        "duplicates": stats["duplicates"] - (len(alerts) - 1),
    }
    assert_every_lesson_once(runtime, lessons_only, "outage", SUBSCRIBERS)
    assert stats["refused"] == {"503": outage_requests}
    # The breaker held the rows: each was tried a few times over six hours (13 to 25 tries
    # each without it), and the whole outage cost about one request per probe.
    assert max(attempts) <= 4, attempts
    assert outage_requests <= 40, outage_requests
    # The clinic's alert emails, one per condition, once SendGrid came back.
    assert fake_sendgrid.counts[(ALERT_EMAIL, "rugpijn-en-training", "alert")] == 2
