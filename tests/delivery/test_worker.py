"""Lessons through a real Celery worker, real Redis and the real sendgrid client to the fake."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import wait_until
from lessons import (
    collect_ids,
    deliveries_of,
    dispatch_pass,
    emails_in,
    enroll,
    enrollment_of,
    state_of,
)
from sqlalchemy import select, update
from workers import thread_worker, unfinished_messages

from delivery.sender import Sender
from store.models import Delivery, DeliveryKind, DeliveryState, EnrollmentStatus, Subscriber
from subscribers.service import confirm, pause, resume, subscribe, unsubscribe
from subscribers.validation import Signup
from tasks.dispatch import dispatch_due, dispatch_once
from tasks.sending import send_batch

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)  # 07:30 in Amsterdam, two days before DST


@pytest.fixture
def at_start(clock):
    clock.set(START)
    return clock


def accepted(fake, email: str) -> dict[str, int]:
    """Return how often the fake accepted each day for EMAIL."""
    return {key[2]: count for key, count in fake.counts.items() if key[0] == email and key[1]}


def sign_up_and_confirm(runtime, fake, email: str) -> int:
    """Sign up (the confirmation mail goes out, as the web has it sent) and confirm.

    The fake then forgets the confirmation, so what it counts below are lessons only.
    """
    with runtime.session() as session:
        outcome = subscribe(runtime, session, Signup(email=email, first_name="Anna"))
    assert outcome.subscriber_id is not None and outcome.confirmation_id is not None
    assert Sender(runtime).deliver(outcome.confirmation_id) == "sent"
    assert accepted(fake, email) == {"confirmation": 1} and emails_in(fake) == 1
    fake.reset()
    with runtime.session() as session:
        confirmed = confirm(runtime, session, outcome.confirmation_id, "203.0.113.9")
        assert confirmed.result == "confirmed"
    return outcome.subscriber_id


def test_whole_course_lands_one_lesson_a_day_across_dst(runtime, fake_sendgrid, at_start):
    clock = at_start
    subscriber_id = sign_up_and_confirm(runtime, fake_sendgrid, "anna@example.org")
    sent_local = []
    with thread_worker(runtime):
        for day in range(1, 6):
            report = dispatch_once(runtime)
            assert (report.materialised, report.enqueued) == (1, 1), day
            assert wait_until(lambda d=day: emails_in(fake_sendgrid) == d, 20), day
            assert wait_until(
                lambda d=day: (
                    deliveries_of(runtime, subscriber_id)[d - 1].state == DeliveryState.SENT
                ),
                10,
            )
            delivery = deliveries_of(runtime, subscriber_id)[day - 1]
            assert delivery.provider_message_id == fake_sendgrid.accepted[-1].message_id
            sent_local.append(delivery.sent_at.astimezone(AMS))
            # Nothing more is due until the next morning.
            clock.advance(hours=20)
            assert dispatch_once(runtime).materialised == 0
            clock.advance(hours=4)
    assert accepted(fake_sendgrid, "anna@example.org") == {str(d): 1 for d in range(1, 6)}
    assert [moment.day for moment in sent_local] == [27, 28, 29, 30, 31]
    # Day 3 is the first after the change to summer time: still the morning, not an hour off.
    assert all(moment.hour in (7, 8) for moment in sent_local)
    enrollment = enrollment_of(runtime, subscriber_id)
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert enrollment.next_due_at is None
    custom = fake_sendgrid.accepted[0].messages[0]["custom_args"]
    assert custom["delivery_id"] == str(deliveries_of(runtime, subscriber_id)[0].id)


def test_unsubscribe_while_queued_sends_nothing(runtime, fake_sendgrid, at_start):
    [first, second] = enroll(runtime, 2, START)
    held = []
    dispatch_pass(runtime, collect_ids(held))  # queued, message not yet in Redis
    with runtime.session() as session:
        assert unsubscribe(runtime, session, first)
        # The second unsubscribes after its row was taken for sending: only the
        # worker's re-check just before the HTTP call can stop it.
        session.execute(
            update(Subscriber).where(Subscriber.id == second).values(status="unsubscribed")
        )
    with thread_worker(runtime):
        for delivery_id in held:
            send_batch.delay([delivery_id])
        assert wait_until(
            lambda: all(state_of(runtime, i).state != DeliveryState.QUEUED for i in held), 15
        )
    assert [state_of(runtime, i).state for i in held] == [DeliveryState.SKIPPED] * 2
    assert fake_sendgrid.requests == 0


def test_duplicate_enqueues_and_parallel_dispatch_send_once(runtime, fake_sendgrid, at_start):
    ids = enroll(runtime, 20, START)
    barrier = threading.Barrier(2)

    def dispatch():
        barrier.wait()
        dispatch_once(runtime)

    with thread_worker(runtime, concurrency=8):
        passes = [threading.Thread(target=dispatch) for _ in range(2)]
        for thread in passes:
            thread.start()
        for thread in passes:
            thread.join(30)
        delivery_ids = [deliveries_of(runtime, s)[0].id for s in ids]
        for delivery_id in delivery_ids:
            send_batch.delay([delivery_id])
            send_batch.delay([delivery_id])
        assert wait_until(
            lambda: all(state_of(runtime, i).state == DeliveryState.SENT for i in delivery_ids),
            20,
        )
        # Give the duplicate messages time to run (they must find their rows claimed).
        wait_until(lambda: False, 1.0)
    assert emails_in(fake_sendgrid) == 20
    assert fake_sendgrid.duplicates == 0


def test_rate_limited_send_waits_for_reset_then_goes_out(runtime, fake_sendgrid, at_start):
    clock = at_start
    [subscriber_id] = enroll(runtime, 1, START)
    fake_sendgrid.rate_limit_reset_seconds = 600
    fake_sendgrid.script(429)
    with thread_worker(runtime):
        dispatch_once(runtime)
        [delivery] = deliveries_of(runtime, subscriber_id)
        assert wait_until(lambda: bool(state_of(runtime, delivery.id).last_error), 15)
        retried = state_of(runtime, delivery.id)
        assert retried.state == DeliveryState.QUEUED
        assert retried.not_before >= START + timedelta(seconds=600)
        assert "429" in (retried.last_error or "")
        clock.advance(seconds=599)
        assert dispatch_once(runtime).enqueued == 0
        clock.advance(seconds=(retried.not_before - clock.current).total_seconds())
        assert dispatch_once(runtime).enqueued == 1
        assert wait_until(lambda: state_of(runtime, delivery.id).state == DeliveryState.SENT, 15)
    assert state_of(runtime, delivery.id).attempts == 2
    assert fake_sendgrid.requests == 2
    assert emails_in(fake_sendgrid) == 1


def test_server_error_backs_off_with_jitter_within_cap(runtime, settings, fake_sendgrid, at_start):
    ids = enroll(runtime, 6, START)
    fake_sendgrid.script(*[500] * 6)
    with thread_worker(runtime):
        dispatch_once(runtime)
        delivery_ids = [deliveries_of(runtime, s)[0].id for s in ids]
        assert wait_until(lambda: all(state_of(runtime, i).last_error for i in delivery_ids), 15)
    waits = [(state_of(runtime, i).not_before - START).total_seconds() for i in delivery_ids]
    assert all(0 <= wait <= settings.retry_backoff_base_seconds for wait in waits)
    assert len(set(waits)) > 1  # full jitter spreads them out
    assert all(state_of(runtime, i).state == DeliveryState.QUEUED for i in delivery_ids)
    assert emails_in(fake_sendgrid) == 0


def test_bad_request_fails_at_once_with_sendgrid_message(runtime, fake_sendgrid, at_start):
    [subscriber_id] = enroll(runtime, 1, START)
    fake_sendgrid.script(400)
    with thread_worker(runtime):
        dispatch_once(runtime)
        [delivery] = deliveries_of(runtime, subscriber_id)
        assert wait_until(lambda: state_of(runtime, delivery.id).state == DeliveryState.FAILED, 15)
    failed = state_of(runtime, delivery.id)
    assert failed.attempts == 1
    assert failed.last_error and failed.last_error.startswith("400: SendGrid 400:")
    assert enrollment_of(runtime, subscriber_id).next_day == 1


def test_max_attempts_fail_then_deliveries_retry_requeues(
    fake_sendgrid, configure, make_runtime, runner, at_start
):
    runtime = make_runtime(configure(max_send_attempts=2, retry_window_hours=1))
    clock = at_start
    [subscriber_id] = enroll(runtime, 1, START)
    fake_sendgrid.script(503, 503)
    with thread_worker(runtime):
        dispatch_once(runtime)
        [delivery] = deliveries_of(runtime, subscriber_id)
        assert wait_until(lambda: state_of(runtime, delivery.id).last_error is not None, 15)
        clock.advance(hours=2)
        dispatch_once(runtime)
        assert wait_until(lambda: state_of(runtime, delivery.id).state == DeliveryState.FAILED, 15)
        failed = state_of(runtime, delivery.id)
        assert failed.attempts == 2
        assert "gave up after 2 attempts" in (failed.last_error or "")

        # The commands build their own runtime from the environment, on the system clock.
        listing = runner("deliveries", "list", "--state", "failed")
        assert listing.exit_code == 0, listing.output
        assert "failed 1" in listing.output and "gave up after 2 attempts" in listing.output
        wrong = runner("deliveries", "retry")
        assert wrong.exit_code == 2 and "--id N or --all-failed" in wrong.output
        result = runner("deliveries", "retry", "--id", str(delivery.id))
        assert result.exit_code == 0, result.output
        assert "Re-queued 1" in result.output
        assert state_of(runtime, delivery.id).state == DeliveryState.QUEUED
        # The retry is due from the system clock's now: the worker's clock catches up.
        clock.set(datetime.now(UTC))
        dispatched = runner("dispatch", "--once")
        assert dispatched.exit_code == 0 and "1 sends enqueued" in dispatched.output
        assert wait_until(lambda: state_of(runtime, delivery.id).state == DeliveryState.SENT, 15)
    assert emails_in(fake_sendgrid) == 1
    assert enrollment_of(runtime, subscriber_id).next_day == 2


def test_stale_claim_without_evidence_is_resent_once(
    runtime, settings, fake_sendgrid, at_start, redis_url
):
    clock = at_start
    [subscriber_id] = enroll(runtime, 1, START)
    dispatch_pass(runtime, lambda ids: None)
    [delivery] = deliveries_of(runtime, subscriber_id)
    # A worker claimed it and died before calling SendGrid.
    with runtime.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id)
            .values(state=DeliveryState.SENDING, claimed_at=START, attempts=1)
        )
    with thread_worker(runtime):
        send_batch.delay([delivery.id])  # the redelivered message finds the row claimed
        assert wait_until(lambda: unfinished_messages(redis_url) == 0, 15)
        assert state_of(runtime, delivery.id).state == DeliveryState.SENDING
        clock.advance(seconds=settings.claim_timeout_seconds + 1)
        assert dispatch_once(runtime).requeued_stale == 0  # waits for evidence first
        clock.advance(seconds=settings.evidence_grace_seconds)
        report = dispatch_once(runtime)
        assert (report.requeued_stale, report.enqueued) == (1, 1)
        assert wait_until(lambda: state_of(runtime, delivery.id).state == DeliveryState.SENT, 15)
    assert emails_in(fake_sendgrid) == 1
    assert state_of(runtime, delivery.id).attempts == 2


def test_pause_holds_the_lesson_and_resume_sends_it(runtime, fake_sendgrid, at_start):
    clock = at_start
    subscriber_id = sign_up_and_confirm(runtime, fake_sendgrid, "pauze@example.org")
    held = []
    dispatch_pass(runtime, collect_ids(held))
    with runtime.session() as session:
        pause(runtime, session, "pauze@example.org")
    with thread_worker(runtime):
        send_batch.delay([held[0]])
        assert wait_until(lambda: state_of(runtime, held[0]).last_error == "paused", 15)
        assert state_of(runtime, held[0]).state == DeliveryState.QUEUED
        clock.advance(hours=3)
        assert dispatch_once(runtime).enqueued == 0
        with runtime.session() as session:
            resume(runtime, session, "pauze@example.org")
        clock.advance(hours=22)  # resume_due_at: the next 07:30
        report = dispatch_once(runtime)
        assert (report.materialised, report.enqueued) == (1, 1)
        assert wait_until(lambda: state_of(runtime, held[0]).state == DeliveryState.SENT, 15)
    assert accepted(fake_sendgrid, "pauze@example.org") == {"1": 1}
    with runtime.session() as session:
        days = session.scalars(
            select(Delivery.day).where(
                Delivery.subscriber_id == subscriber_id, Delivery.kind == DeliveryKind.LESSON
            )
        )
        assert list(days) == [1]
    assert enrollment_of(runtime, subscriber_id).next_day == 2


def test_beat_task_runs_the_pass_on_its_own_queue(runtime, fake_sendgrid, at_start):
    [subscriber_id] = enroll(runtime, 1, START)

    with thread_worker(runtime):
        dispatch_due.delay()
        assert wait_until(lambda: len(deliveries_of(runtime, subscriber_id)) == 1, 15)
        delivery_id = deliveries_of(runtime, subscriber_id)[0].id
        assert wait_until(lambda: state_of(runtime, delivery_id).state == DeliveryState.SENT, 15)
    assert accepted(fake_sendgrid, "lezer0@example.org") == {"1": 1}
