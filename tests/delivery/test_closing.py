"""After day 5: the enrollment completes with a `completed` event, then the closing email.

Through the real Celery worker, real Redis and the real sendgrid client to the fake, on the
frozen clock: the closing email is a queued delivery that the dispatcher enqueues when it is
due (never an ETA task), and after it the reader gets nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from closing_support import SECOND, content_with_closing
from feedback_support import BROWSER_UA, admin_headers, links_in, row_cells, visit
from helpers import wait_until
from lessons import emails_in, enroll, enrollment_of
from sqlalchemy import select
from workers import thread_worker

from delivery.enrollments import enroll as start_again
from store.models import (
    CLOSING_DAY,
    ConsentEvent,
    Delivery,
    DeliveryKind,
    DeliveryState,
    EnrollmentStatus,
    LessonRating,
    Subscriber,
)
from subscribers.service import unsubscribe
from tasks.dispatch import dispatch_once
from tracking.timeline import timeline
from web.app import create_app

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # a Monday, 07:30 in Amsterdam


def run_course(runtime, clock, fake, days: int = 5) -> None:
    """Send the five lessons, one dispatcher pass each morning, through the worker."""
    for day in range(1, days + 1):
        report = dispatch_once(runtime)
        assert report.enqueued == 1, day
        assert wait_until(lambda d=day: emails_in(fake) == d, 20), day
        assert wait_until(lambda d=day: enrollment_of_day(runtime) > d, 10), day
        due = enrollment_of(runtime, subscriber_of(runtime)).next_due_at
        if due is not None:
            clock.set(due)


def subscriber_of(runtime) -> int:
    with runtime.session() as session:
        return session.scalars(select(Delivery.subscriber_id)).first()


def enrollment_of_day(runtime) -> int:
    return enrollment_of(runtime, subscriber_of(runtime)).next_day


def closing_rows(runtime) -> list[Delivery]:
    with runtime.session() as session:
        return list(session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.CLOSING)))


def completed_events(runtime) -> list[ConsentEvent]:
    with runtime.session() as session:
        return list(session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "completed")))


@pytest.fixture
def closing_runtime(configure, make_runtime, fake_sendgrid, clock, tmp_path):
    clock.set(START)
    return make_runtime(configure(content_dir=content_with_closing(tmp_path / "courses")))


def test_closing_email_goes_once_days_later_then_nothing_more(
    closing_runtime, fake_sendgrid, clock
):
    runtime = closing_runtime
    [subscriber_id] = enroll(runtime, 1, START, prefix="slot")
    with thread_worker(runtime):
        run_course(runtime, clock, fake_sendgrid)
        enrollment = enrollment_of(runtime, subscriber_id)
        assert enrollment.status == EnrollmentStatus.COMPLETED
        last_sent = enrollment.completed_at
        [event] = completed_events(runtime)
        assert event.subscriber_id == subscriber_id and event.source == "course"
        assert f"enrollment {enrollment.id}" in (event.detail or "")
        [closing] = closing_rows(runtime)
        assert (closing.state, closing.day, closing.enrollment_id) == (
            DeliveryState.QUEUED,
            CLOSING_DAY,
            enrollment.id,
        )
        # Three days after the last lesson, at the reader's 07:30.
        local = closing.not_before.astimezone(AMS)
        assert local.date() == last_sent.astimezone(AMS).date() + timedelta(days=3)
        assert (local.hour, local.minute) == (7, 30)

        clock.set(closing.not_before - timedelta(minutes=1))
        assert dispatch_once(runtime).enqueued == 0
        clock.set(closing.not_before)
        assert dispatch_once(runtime).enqueued == 1
        assert wait_until(lambda: emails_in(fake_sendgrid) == 6, 20)
        assert wait_until(lambda: closing_rows(runtime)[0].state == DeliveryState.SENT, 10)

        # A month of passes later: not one more mail.
        for _ in range(30):
            clock.advance(days=1)
            assert dispatch_once(runtime).enqueued == 0
    message = fake_sendgrid.accepted[-1].messages[0]
    assert message["subject"] == "Bedankt voor het volgen van de cursus"
    assert message["custom_args"]["kind"] == "closing"
    assert "dank je wel voor het lezen" in message["text"]
    assert "Plan een beoordeling: http://nurture.test/c/" in message["text"]
    assert "Hierna sturen we je niets meer." in message["text"]
    assert "List-Unsubscribe" in message["headers"]
    assert fake_sendgrid.counts[("slot0@example.org", "rugpijn-en-training", "closing")] == 1
    assert emails_in(fake_sendgrid) == 6 and fake_sendgrid.duplicates == 0
    assert len(completed_events(runtime)) == 1
    with runtime.session() as session:
        entries = [e.what for e in timeline(session, session.get(Subscriber, subscriber_id))]
    assert "Afsluitmail ingepland" in entries and entries[-1] == "Afsluitmail verzonden"


def test_unsubscribed_before_the_closing_email_gets_none(closing_runtime, fake_sendgrid, clock):
    runtime = closing_runtime
    [subscriber_id] = enroll(runtime, 1, START, prefix="weg")
    with thread_worker(runtime):
        run_course(runtime, clock, fake_sendgrid)
        with runtime.session() as session:
            unsubscribe(runtime, session, subscriber_id, source="page")
        clock.advance(days=10)
        assert dispatch_once(runtime).enqueued == 0
    [closing] = closing_rows(runtime)
    assert closing.state == DeliveryState.SKIPPED
    assert emails_in(fake_sendgrid) == 5


def test_without_a_closing_setting_the_course_just_completes(
    runtime, fake_sendgrid, clock, celery_worker
):
    clock.set(START)
    [subscriber_id] = enroll(runtime, 1, START, prefix="kaal")
    run_course(runtime, clock, fake_sendgrid)
    assert enrollment_of(runtime, subscriber_id).status == EnrollmentStatus.COMPLETED
    assert len(completed_events(runtime)) == 1
    assert closing_rows(runtime) == []
    clock.advance(days=30)
    assert dispatch_once(runtime).enqueued == 0
    assert emails_in(fake_sendgrid) == 5


def test_starting_another_run_skips_the_waiting_closing_email(
    closing_runtime, fake_sendgrid, clock
):
    runtime = closing_runtime
    [subscriber_id] = enroll(runtime, 1, START, prefix="opnieuw")
    with thread_worker(runtime):
        run_course(runtime, clock, fake_sendgrid)
        # A second run of the course (the preferences page's "restart" enrolls again).
        with runtime.session() as session:
            subscriber = session.get(Subscriber, subscriber_id)
            course = runtime.courses.get(subscriber.course_slug)
            start_again(session, subscriber, course, clock(), runtime.settings)
        assert dispatch_once(runtime).enqueued == 1  # day 1 of the new run
        assert wait_until(lambda: emails_in(fake_sendgrid) == 6, 20)
        clock.advance(days=4)
        dispatch_once(runtime)
    [closing] = closing_rows(runtime)
    assert closing.state == DeliveryState.SKIPPED
    assert "another course run" in (closing.last_error or "")
    assert fake_sendgrid.counts[("opnieuw0@example.org", "rugpijn-en-training", "closing")] == 0


def test_starting_a_different_course_keeps_the_first_ones_closing_email(
    configure, make_runtime, fake_sendgrid, clock, tmp_path
):
    clock.set(START)
    content = content_with_closing(tmp_path / "courses", second=True)
    runtime = make_runtime(configure(content_dir=content))
    [subscriber_id] = enroll(runtime, 1, START, prefix="tweede")
    with thread_worker(runtime):
        run_course(runtime, clock, fake_sendgrid)
        with runtime.session() as session:
            subscriber = session.get(Subscriber, subscriber_id)
            start_again(session, subscriber, runtime.courses.get(SECOND), clock(), runtime.settings)
        [closing] = closing_rows(runtime)
        assert closing.state == DeliveryState.QUEUED
        clock.set(closing.not_before)
        dispatch_once(runtime)  # the closing email of the first course, and day 1 of the second
        assert wait_until(lambda: emails_in(fake_sendgrid) == 7, 20)
    assert closing_rows(runtime)[0].state == DeliveryState.SENT
    assert fake_sendgrid.counts[("tweede0@example.org", "rugpijn-en-training", "closing")] == 1


def test_the_closing_email_asks_whether_the_course_was_useful(
    closing_runtime, fake_sendgrid, clock
):
    runtime = closing_runtime
    [subscriber_id] = enroll(runtime, 1, START, prefix="rater")
    with thread_worker(runtime):
        run_course(runtime, clock, fake_sendgrid)
        [closing] = closing_rows(runtime)
        clock.set(closing.not_before)
        assert dispatch_once(runtime).enqueued == 1
        assert wait_until(lambda: emails_in(fake_sendgrid) == 6, 20)
    message = fake_sendgrid.accepted[-1].messages[0]
    assert "Was deze cursus nuttig?" in message["text"]
    links = links_in(runtime, message["html"])
    assert links.ja and links.nee and links.cta
    client = create_app(runtime=runtime).test_client()
    clock.advance(hours=2)  # a reader, not a scanner seconds after delivery
    page = visit(client, links.ja, BROWSER_UA).get_data(as_text=True)
    assert "Je vond de cursus" in page and "over deze cursus?" in page
    saved = client.post(
        links.ja, data={"opmerking": "Fijne cursus."}, headers={"User-Agent": BROWSER_UA}
    )
    assert saved.status_code == 200
    with runtime.session() as session:
        [rating] = session.scalars(select(LessonRating)).all()
        assert (rating.subscriber_id, rating.day, rating.useful) == (
            subscriber_id,
            CLOSING_DAY,
            True,
        )
    dashboard = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert row_cells(dashboard, f"feedback-day-{CLOSING_DAY}") == ["100%", "1"]
    assert "Hele cursus · ja, nuttig" in dashboard and "Fijne cursus." in dashboard
