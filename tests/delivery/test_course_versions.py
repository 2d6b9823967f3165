"""Course versions on the send path: a publish reaches a running worker, each delivery names
its version, and people in the middle of a course are not stranded by a removed day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from courses_support import AUTHOR, SLUG, edit_lesson, publish_real_details
from helpers import wait_until
from lessons import collect_ids, deliveries_of, dispatch_pass, emails_in, enroll, enrollment_of
from sqlalchemy import update
from workers import thread_worker

from course.drafts import open_draft, remove_lesson
from delivery.course_change import OLD, SKIP
from delivery.sender import Sender
from store.models import DeliveryState, Enrollment, EnrollmentStatus
from subscribers.studio import PublishRefused, publish


def subjects_sent(fake) -> list[str]:
    """Return the subject of every message the fake accepted, in order."""
    return [message["subject"] for request in fake.accepted for message in request.messages]


def test_publish_reaches_a_running_worker_without_a_restart(
    runtime, make_runtime, settings, fake_sendgrid, runner, clock
):
    v2 = publish_real_details(runtime).version.content_hash
    [subscriber_id] = enroll(runtime, 1, clock())
    # The worker has its own runtime (its own course cache), as a worker process has.
    worker_runtime = make_runtime(settings)
    with thread_worker(worker_runtime):
        dispatch_pass(runtime)
        assert wait_until(lambda: emails_in(fake_sendgrid) == 1, 20)
        old_subject = worker_runtime.courses.get(SLUG).lesson(2).subject
        # An editor publishes (here through the CLI: another process's runtime).
        edit_lesson(runtime, 2, subject="Kracht en techniek: nieuw onderwerp")
        result = runner("course", "publish", SLUG)
        assert result.exit_code == 0, result.output
        v3 = runtime.courses.live_hash(SLUG)
        clock.set(enrollment_of(runtime, subscriber_id).next_due_at + timedelta(seconds=1))
        dispatch_pass(runtime)
        assert wait_until(lambda: emails_in(fake_sendgrid) == 2, 20)
        assert wait_until(
            lambda: deliveries_of(runtime, subscriber_id)[1].state == DeliveryState.SENT, 10
        )
    assert subjects_sent(fake_sendgrid)[1] == "Kracht en techniek: nieuw onderwerp" != old_subject
    first, second = deliveries_of(runtime, subscriber_id)
    assert (first.course_version, second.course_version) == (v2, v3)
    assert v2 != v3


def _remove_day(runtime, day: int) -> None:
    with runtime.session() as session:
        open_draft(session, SLUG, author=AUTHOR, now=runtime.now())
        remove_lesson(session, SLUG, day, author=AUTHOR, now=runtime.now())
    if day == 5:
        edit_lesson(runtime, 4, teaser="")  # the check: the last day has no next day to tease


def _put_at_day(runtime, subscriber_ids: list[int], days: list[int]) -> None:
    with runtime.session() as session:
        for subscriber_id, day in zip(subscriber_ids, days, strict=True):
            session.execute(
                update(Enrollment)
                .where(Enrollment.subscriber_id == subscriber_id)
                .values(next_day=day)
            )


def _send_due(runtime) -> dict[int, str]:
    ids: list[int] = []
    dispatch_pass(runtime, collect_ids(ids))
    return Sender(runtime).deliver_many(ids)


def test_removing_a_day_people_wait_for_is_refused_until_the_editor_chooses(runtime, clock):
    publish_real_details(runtime)
    waiting = enroll(runtime, 2, clock())
    _put_at_day(runtime, waiting, [3, 5])
    _remove_day(runtime, 5)
    with pytest.raises(PublishRefused) as refused:
        publish(runtime, SLUG, author=AUTHOR)
    [message] = refused.value.problems
    assert message.startswith(f"{SLUG}: deze versie verwijdert of vernummert dag 5, en 2 ")
    assert "de cursus afmaken op de oude versie" in message
    assert runtime.courses.get(SLUG).days == 5  # nothing was published


def test_finish_on_the_old_version(runtime, fake_sendgrid, clock):
    old = publish_real_details(runtime).version.content_hash
    [at_five] = enroll(runtime, 1, clock())
    _put_at_day(runtime, [at_five], [5])
    _remove_day(runtime, 5)
    published = publish(runtime, SLUG, author=AUTHOR, choice=OLD)
    assert (published.moved_days, published.outcome.kept_on_old) == ([5], 1)
    assert enrollment_of(runtime, at_five).course_version == old
    assert runtime.courses.get(SLUG).days == 4

    assert list(_send_due(runtime).values()) == ["sent"]
    [delivery] = deliveries_of(runtime, at_five)
    assert (delivery.day, delivery.course_version) == (5, old)
    assert subjects_sent(fake_sendgrid) == [runtime.courses.version(old).lesson(5).subject]
    assert enrollment_of(runtime, at_five).status == EnrollmentStatus.COMPLETED


def test_skip_the_removed_day(runtime, fake_sendgrid, clock):
    old = publish_real_details(runtime).version.content_hash
    old_course = runtime.courses.version(old)
    at_two, at_three, at_four = enroll(runtime, 3, clock())
    _put_at_day(runtime, [at_two, at_three, at_four], [2, 3, 4])
    _remove_day(runtime, 3)
    published = publish(runtime, SLUG, author=AUTHOR, choice=SKIP)
    assert published.moved_days == [3, 4, 5]
    # Day 3 follows the new version and gets old day 4 (now day 3); day 4 already had a
    # day-3 mail and can't get another, so it finishes on the old version.
    assert (published.outcome.follow_new, published.outcome.kept_on_old) == (2, 1)
    assert set(_send_due(runtime).values()) == {"sent"}
    received = {
        message["to"]: message["subject"]
        for request in fake_sendgrid.accepted
        for message in request.messages
    }
    assert received == {
        "lezer0@example.org": old_course.lesson(2).subject,
        "lezer1@example.org": old_course.lesson(4).subject,  # the removed day 3 is skipped
        "lezer2@example.org": old_course.lesson(4).subject,  # on the old version
    }
    assert enrollment_of(runtime, at_four).course_version == old


def test_skip_when_the_last_day_is_removed_completes_who_waited_for_it(runtime, clock):
    publish_real_details(runtime)
    [at_five] = enroll(runtime, 1, clock())
    _put_at_day(runtime, [at_five], [5])
    _remove_day(runtime, 5)
    assert publish(runtime, SLUG, author=AUTHOR, choice=SKIP).outcome.completed == 1
    enrollment = enrollment_of(runtime, at_five)
    assert (enrollment.status, enrollment.next_due_at) == (EnrollmentStatus.COMPLETED, None)
    assert _send_due(runtime) == {}


def test_a_lesson_that_no_longer_exists_is_skipped_not_retried(runtime, clock):
    # A course read from its folder (not imported) that lost day 5 before the send.
    [subscriber_id] = enroll(runtime, 1, clock())
    _put_at_day(runtime, [subscriber_id], [6])
    assert list(_send_due(runtime).values()) == ["skipped"]
    [delivery] = deliveries_of(runtime, subscriber_id)
    assert delivery.state == DeliveryState.SKIPPED and delivery.attempts == 1
    assert "lesson removed" in delivery.last_error
    assert enrollment_of(runtime, subscriber_id).status == EnrollmentStatus.COMPLETED
    clock.advance(hours=2)
    assert _send_due(runtime) == {}
