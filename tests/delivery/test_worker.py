"""Lessons through a real Celery worker, real Redis and the real sendgrid client to the fake."""
# ruff: noqa: F811  (pytest fixtures imported from tests/workers.py are used as arguments)

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from lessons import deliveries_of, emails_in, enroll, enrollment_of, state_of
from sqlalchemy import select, update
from workers import lesson_settings, sendgrid_fake, thread_worker, wait_until  # noqa: F401

from cli.main import cli
from store.clock import FrozenClock, set_clock
from store.db import session_scope
from store.models import Delivery, DeliveryState, EnrollmentStatus, Subscriber
from subscribers.service import confirm, pause, resume, subscribe, unsubscribe
from subscribers.validation import Signup
from tasks.dispatch import run_dispatch_pass
from tasks.sending import send_lesson

pytestmark = pytest.mark.usefixtures("lesson_settings")

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)  # 07:30 in Amsterdam, two days before DST


def accepted(fake, email: str) -> dict[str, int]:
    """Return how often the fake accepted each day for EMAIL."""
    return {key[2]: count for key, count in fake.counts.items() if key[0] == email and key[1]}


def settled(delivery_id: int) -> bool:
    return state_of(delivery_id).state != DeliveryState.QUEUED or bool(
        state_of(delivery_id).last_error
    )


def sign_up_and_confirm(email: str) -> int:
    with session_scope() as session:
        outcome = subscribe(session, Signup(email=email, first_name="Anna"))
    assert outcome.subscriber_id is not None
    with session_scope() as session:
        assert confirm(session, outcome.subscriber_id, "203.0.113.9").result == "confirmed"
    return outcome.subscriber_id


def test_whole_course_lands_one_lesson_a_day_across_dst(sendgrid_fake):
    clock = FrozenClock(START)
    set_clock(clock)
    subscriber_id = sign_up_and_confirm("anna@example.org")
    sent_local = []
    with thread_worker():
        for day in range(1, 6):
            report = run_dispatch_pass()
            assert (report.materialised, report.enqueued) == (1, 1), day
            assert wait_until(lambda d=day: emails_in(sendgrid_fake) == d, 20), day
            assert wait_until(
                lambda d=day: deliveries_of(subscriber_id)[d - 1].state == DeliveryState.SENT, 10
            )
            delivery = deliveries_of(subscriber_id)[day - 1]
            assert delivery.provider_message_id == sendgrid_fake.accepted[-1].message_id
            sent_local.append(delivery.sent_at.astimezone(AMS))
            # Nothing more is due until the next morning.
            clock.advance(hours=20)
            assert run_dispatch_pass().materialised == 0
            clock.advance(hours=4)
    assert accepted(sendgrid_fake, "anna@example.org") == {str(d): 1 for d in range(1, 6)}
    assert [moment.day for moment in sent_local] == [27, 28, 29, 30, 31]
    # Day 3 is the first after the change to summer time: still the morning, not an hour off.
    assert all(moment.hour in (7, 8) for moment in sent_local)
    enrollment = enrollment_of(subscriber_id)
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert enrollment.next_due_at is None
    custom = sendgrid_fake.accepted[0].messages[0]["custom_args"]
    assert custom["delivery_id"] == str(deliveries_of(subscriber_id)[0].id)


def test_unsubscribe_while_queued_sends_nothing(sendgrid_fake):
    set_clock(FrozenClock(START))
    [first, second] = enroll(2, START)
    held = []
    run_dispatch_pass(enqueue=held.extend)  # queued, message not yet in Redis
    with session_scope() as session:
        assert unsubscribe(session, first)
        # The second unsubscribes after its row was taken for sending: only the
        # worker's re-check just before the HTTP call can stop it.
        session.execute(
            update(Subscriber).where(Subscriber.id == second).values(status="unsubscribed")
        )
    with thread_worker():
        for delivery_id in held:
            send_lesson.delay(delivery_id)
        assert wait_until(lambda: all(state_of(i).state != DeliveryState.QUEUED for i in held), 15)
    assert [state_of(i).state for i in held] == [DeliveryState.SKIPPED] * 2
    assert sendgrid_fake.requests == 0


def test_duplicate_enqueues_and_parallel_dispatch_send_once(sendgrid_fake):
    set_clock(FrozenClock(START))
    ids = enroll(20, START)
    barrier = threading.Barrier(2)

    def dispatch():
        barrier.wait()
        run_dispatch_pass()

    with thread_worker(concurrency=8):
        passes = [threading.Thread(target=dispatch) for _ in range(2)]
        for thread in passes:
            thread.start()
        for thread in passes:
            thread.join(30)
        delivery_ids = [deliveries_of(s)[0].id for s in ids]
        for delivery_id in delivery_ids:
            send_lesson.delay(delivery_id)
            send_lesson.delay(delivery_id)
        assert wait_until(
            lambda: all(state_of(i).state == DeliveryState.SENT for i in delivery_ids), 20
        )
        # Give the duplicate messages time to run (they must find their rows claimed).
        wait_until(lambda: False, 1.0)
    assert emails_in(sendgrid_fake) == 20
    assert sendgrid_fake.duplicates == 0


def test_rate_limited_send_waits_for_reset_then_goes_out(sendgrid_fake):
    clock = FrozenClock(START)
    set_clock(clock)
    [subscriber_id] = enroll(1, START)
    sendgrid_fake.rate_limit_reset_seconds = 600
    sendgrid_fake.script(429)
    with thread_worker():
        run_dispatch_pass()
        [delivery] = deliveries_of(subscriber_id)
        assert wait_until(lambda: bool(state_of(delivery.id).last_error), 15)
        retried = state_of(delivery.id)
        assert retried.state == DeliveryState.QUEUED
        assert retried.not_before >= START + timedelta(seconds=600)
        assert "429" in (retried.last_error or "")
        clock.advance(seconds=599)
        assert run_dispatch_pass().enqueued == 0
        clock.advance(seconds=(retried.not_before - clock.current).total_seconds())
        assert run_dispatch_pass().enqueued == 1
        assert wait_until(lambda: state_of(delivery.id).state == DeliveryState.SENT, 15)
    assert state_of(delivery.id).attempts == 2
    assert sendgrid_fake.requests == 2
    assert emails_in(sendgrid_fake) == 1


def test_server_error_backs_off_with_jitter_within_cap(sendgrid_fake, settings):
    set_clock(FrozenClock(START))
    ids = enroll(6, START)
    sendgrid_fake.script(*[500] * 6)
    with thread_worker():
        run_dispatch_pass()
        delivery_ids = [deliveries_of(s)[0].id for s in ids]
        assert wait_until(lambda: all(state_of(i).last_error for i in delivery_ids), 15)
    waits = [(state_of(i).not_before - START).total_seconds() for i in delivery_ids]
    assert all(0 <= wait <= settings.retry_backoff_base_seconds for wait in waits)
    assert len(set(waits)) > 1  # full jitter spreads them out
    assert all(state_of(i).state == DeliveryState.QUEUED for i in delivery_ids)
    assert emails_in(sendgrid_fake) == 0


def test_bad_request_fails_at_once_with_sendgrid_message(sendgrid_fake):
    set_clock(FrozenClock(START))
    [subscriber_id] = enroll(1, START)
    sendgrid_fake.script(400)
    with thread_worker():
        run_dispatch_pass()
        [delivery] = deliveries_of(subscriber_id)
        assert wait_until(lambda: state_of(delivery.id).state == DeliveryState.FAILED, 15)
    failed = state_of(delivery.id)
    assert failed.attempts == 1
    assert failed.last_error and failed.last_error.startswith("400: SendGrid 400:")
    assert enrollment_of(subscriber_id).next_day == 1


def test_max_attempts_fail_then_deliveries_retry_requeues(sendgrid_fake, monkeypatch):
    monkeypatch.setenv("NURTURE_MAX_SEND_ATTEMPTS", "2")
    from config import reset_settings_cache

    reset_settings_cache()
    clock = FrozenClock(START)
    set_clock(clock)
    [subscriber_id] = enroll(1, START)
    sendgrid_fake.script(503, 503)
    runner = CliRunner()
    with thread_worker():
        run_dispatch_pass()
        [delivery] = deliveries_of(subscriber_id)
        assert wait_until(lambda: state_of(delivery.id).last_error is not None, 15)
        clock.advance(hours=2)
        run_dispatch_pass()
        assert wait_until(lambda: state_of(delivery.id).state == DeliveryState.FAILED, 15)
        failed = state_of(delivery.id)
        assert failed.attempts == 2
        assert "gave up after 2 attempts" in (failed.last_error or "")

        listing = runner.invoke(cli, ["deliveries", "list", "--state", "failed"])
        assert listing.exit_code == 0, listing.output
        assert "failed 1" in listing.output and "gave up after 2 attempts" in listing.output
        wrong = runner.invoke(cli, ["deliveries", "retry"])
        assert wrong.exit_code == 2 and "--id N or --all-failed" in wrong.output
        result = runner.invoke(cli, ["deliveries", "retry", "--id", str(delivery.id)])
        assert result.exit_code == 0, result.output
        assert "Re-queued 1" in result.output
        assert state_of(delivery.id).state == DeliveryState.QUEUED
        dispatched = runner.invoke(cli, ["dispatch", "--once"])
        assert dispatched.exit_code == 0 and "1 sends enqueued" in dispatched.output
        assert wait_until(lambda: state_of(delivery.id).state == DeliveryState.SENT, 15)
    assert emails_in(sendgrid_fake) == 1
    assert enrollment_of(subscriber_id).next_day == 2


def test_stale_claim_without_evidence_is_resent_once(sendgrid_fake, settings):
    clock = FrozenClock(START)
    set_clock(clock)
    [subscriber_id] = enroll(1, START)
    run_dispatch_pass(enqueue=lambda ids: None)
    [delivery] = deliveries_of(subscriber_id)
    # A worker claimed it and died before calling SendGrid.
    with session_scope() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id)
            .values(state=DeliveryState.SENDING, claimed_at=START, attempts=1)
        )
    with thread_worker():
        send_lesson.delay(delivery.id)  # the redelivered message finds the row claimed
        clock.advance(seconds=settings.claim_timeout_seconds + 1)
        assert run_dispatch_pass().requeued_stale == 0  # waits for evidence first
        clock.advance(seconds=settings.evidence_grace_seconds)
        report = run_dispatch_pass()
        assert (report.requeued_stale, report.enqueued) == (1, 1)
        assert wait_until(lambda: state_of(delivery.id).state == DeliveryState.SENT, 15)
    assert emails_in(sendgrid_fake) == 1
    assert state_of(delivery.id).attempts == 2


def test_pause_holds_the_lesson_and_resume_sends_it(sendgrid_fake):
    clock = FrozenClock(START)
    set_clock(clock)
    subscriber_id = sign_up_and_confirm("pauze@example.org")
    held = []
    run_dispatch_pass(enqueue=held.extend)
    with session_scope() as session:
        pause(session, "pauze@example.org")
    with thread_worker():
        send_lesson.delay(held[0])
        assert wait_until(lambda: state_of(held[0]).last_error == "paused", 15)
        assert state_of(held[0]).state == DeliveryState.QUEUED
        clock.advance(hours=3)
        assert run_dispatch_pass().enqueued == 0
        with session_scope() as session:
            resume(session, "pauze@example.org")
        clock.advance(hours=22)  # resume_due_at: the next 07:30
        report = run_dispatch_pass()
        assert (report.materialised, report.enqueued) == (1, 1)
        assert wait_until(lambda: state_of(held[0]).state == DeliveryState.SENT, 15)
    assert accepted(sendgrid_fake, "pauze@example.org") == {"1": 1}
    with session_scope() as session:
        days = session.scalars(select(Delivery.day).where(Delivery.subscriber_id == subscriber_id))
        assert list(days) == [1]
    assert enrollment_of(subscriber_id).next_day == 2


def test_beat_task_runs_the_pass_on_its_own_queue(sendgrid_fake):
    set_clock(FrozenClock(START))
    [subscriber_id] = enroll(1, START)
    from tasks.dispatch import dispatch_due

    with thread_worker():
        dispatch_due.delay()
        assert wait_until(lambda: len(deliveries_of(subscriber_id)) == 1, 15)
        delivery_id = deliveries_of(subscriber_id)[0].id
        assert wait_until(lambda: state_of(delivery_id).state == DeliveryState.SENT, 15)
    assert accepted(sendgrid_fake, "lezer0@example.org") == {"1": 1}
