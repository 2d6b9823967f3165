"""The retention job: unconfirmed signups erased after 30 days, finished or stopped people
anonymised after 24 months, processed webhook bodies deleted after 7 days; counts stay.

Time moves with the frozen clock, never with sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from helpers import T0
from sqlalchemy import select
from subscribers_support import counter_value
from tracking_support import COURSE, make_subscriber

from cli.main import cli
from config.celery import celery_settings
from emails.message import Message, Tags
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Counter,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import counters
from subscribers.caps import reserve_send_time
from subscribers.retention import (
    RETENTION_INACTIVE,
    RETENTION_UNCONFIRMED,
    apply_retention,
    months_before,
)
from tasks.app import create_celery
from tracking.stats import funnel


def add_subscriber(runtime: Runtime, email: str, status: str, **fields: Any) -> int:
    with runtime.session() as session:
        subscriber = Subscriber(
            email=email,
            first_name="Anna",
            status=status,
            course_slug=COURSE,
            created_at=T0,
            consent_ip_hash="ab" * 32,
            **fields,
        )
        session.add(subscriber)
        session.flush()
        return subscriber.id


def add_confirmation(runtime: Runtime, subscriber_id: int, created_at: datetime) -> None:
    with runtime.session() as session:
        session.add(
            Delivery(
                kind=DeliveryKind.CONFIRMATION,
                subscriber_id=subscriber_id,
                course_slug=COURSE,
                day=0,
                state=DeliveryState.SENT,
                created_at=created_at,
                not_before=created_at,
                sent_at=created_at,
            )
        )


def row(runtime: Runtime, subscriber_id: int) -> Subscriber:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


def erased(runtime: Runtime, subscriber_id: int) -> bool:
    subscriber = row(runtime, subscriber_id)
    if subscriber.status != SubscriberStatus.FORGOTTEN:
        return False
    assert subscriber.email is None and subscriber.first_name is None
    assert subscriber.consent_ip_hash is None
    return True


def signups_and_confirmed(runtime: Runtime) -> tuple[int, int]:
    with runtime.session() as session:
        numbers = funnel(session, runtime.courses, COURSE)
    return numbers.signups, numbers.confirmed


def sent_per_lesson(runtime: Runtime) -> list[int]:
    with runtime.session() as session:
        return [lesson.sent for lesson in funnel(session, runtime.courses, COURSE).lessons]


def test_unconfirmed_signups_are_erased_after_30_days(clock: FrozenClock, runtime: Runtime) -> None:
    lapsed = add_subscriber(runtime, "lapsed@example.com", SubscriberStatus.PENDING)
    add_confirmation(runtime, lapsed, T0)
    # Signed up again on day 20: the new link must keep working for its own 30 days.
    again = add_subscriber(runtime, "again@example.com", SubscriberStatus.PENDING)
    add_confirmation(runtime, again, T0)
    add_confirmation(runtime, again, T0 + timedelta(days=20))
    confirmed = make_subscriber(runtime, "confirmed@example.com", created_at=T0).subscriber_id
    runtime.mail.send(lesson_for("lapsed@example.com"))

    clock.set(T0 + timedelta(days=29, hours=23))
    assert apply_retention(runtime).unconfirmed_erased == 0
    assert not erased(runtime, lapsed)

    clock.set(T0 + timedelta(days=30, hours=1))
    report = apply_retention(runtime)
    assert report.unconfirmed_erased == 1
    assert erased(runtime, lapsed)
    assert not erased(runtime, again) and not erased(runtime, confirmed)
    # Its confirmation email in the development outbox went with it.
    assert list(runtime.settings.outbox_dir.glob("*.eml")) == []
    # Anonymous counts stay: the signup still counts, the erasure is counted apart.
    assert signups_and_confirmed(runtime) == (3, 1)
    assert counter_value(runtime, RETENTION_UNCONFIRMED) == 1
    # Nothing left to do on the next run.
    assert apply_retention(runtime).unconfirmed_erased == 0


def lesson_for(to_email: str) -> Message:
    return Message(
        to_email=to_email,
        to_name="Anna",
        subject="Bevestig je aanmelding",
        html="<p>Hallo,</p>",
        text="Hallo,",
        from_email="cursus@umoya.example",
        tags=Tags(kind="confirmation", course=COURSE, day=0),
    )


def finish(runtime: Runtime, subscriber_id: int, at: datetime) -> None:
    with runtime.session() as session:
        enrollment = session.scalars(
            select(Enrollment).where(Enrollment.subscriber_id == subscriber_id)
        ).one()
        enrollment.status = EnrollmentStatus.COMPLETED
        enrollment.completed_at = at
        enrollment.next_due_at = None


def test_finished_or_stopped_people_are_anonymised_after_24_months(
    clock: FrozenClock, runtime: Runtime
) -> None:
    stopped_at = T0 + timedelta(days=5)
    finished = make_subscriber(runtime, "finished@example.com", sent_days=5).subscriber_id
    finish(runtime, finished, stopped_at)
    unsubscribed = add_subscriber(
        runtime, "weg@example.com", SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=stopped_at
    )
    bounced = add_subscriber(
        runtime, "bounce@example.com", SubscriberStatus.SUPPRESSED, suppressed_at=stopped_at
    )
    # Still following the course, and finished one course but running another: kept.
    active = make_subscriber(runtime, "active@example.com", sent_days=2).subscriber_id
    busy = make_subscriber(runtime, "busy@example.com", sent_days=5).subscriber_id
    finish(runtime, busy, stopped_at)
    with runtime.session() as session:
        session.add(
            Enrollment(
                subscriber_id=busy,
                course_slug="tweede-cursus",
                status=EnrollmentStatus.ACTIVE,
                next_day=1,
                next_due_at=T0 + timedelta(days=900),
                started_at=stopped_at,
            )
        )
    before = signups_and_confirmed(runtime)
    assert sent_per_lesson(runtime) == [3, 3, 2, 2, 2]

    clock.set(months_before(stopped_at, -24) - timedelta(hours=1))
    assert apply_retention(runtime).inactive_anonymised == 0

    clock.set(months_before(stopped_at, -24) + timedelta(hours=1))
    assert apply_retention(runtime).inactive_anonymised == 3
    assert all(erased(runtime, sid) for sid in (finished, unsubscribed, bounced))
    assert not erased(runtime, active) and not erased(runtime, busy)
    assert signups_and_confirmed(runtime) == before
    assert sent_per_lesson(runtime) == [3, 3, 2, 2, 2]
    assert counter_value(runtime, RETENTION_INACTIVE) == 3


def test_processed_webhook_bodies_are_deleted_after_the_retention_period(
    clock: FrozenClock, runtime: Runtime
) -> None:
    with runtime.session() as session:
        for processed_at in (T0, T0 + timedelta(days=5), None):
            session.add(
                WebhookBatch(
                    body=[{"event": "delivered"}], received_at=T0, processed_at=processed_at
                )
            )
    clock.set(T0 + timedelta(days=7, hours=-1))
    assert apply_retention(runtime).webhook_batches_deleted == 0
    clock.set(T0 + timedelta(days=7, hours=1))
    assert apply_retention(runtime).webhook_batches_deleted == 1
    with runtime.session() as session:
        left = session.scalars(select(WebhookBatch.processed_at)).all()
    # The one processed later waits its own 7 days; a pending one is never deleted.
    assert sorted(left, key=str) == sorted([T0 + timedelta(days=5), None], key=str)


def test_spent_hourly_ceiling_counters_are_pruned_and_current_ones_kept(
    clock: FrozenClock, runtime: Runtime
) -> None:
    with runtime.session() as session:
        for hours in (-49, -25, -23, 0, 5):
            reserve_send_time(session, per_hour=10, now=T0 + timedelta(hours=hours), take=True)
        counters.increment(session, "confirmations.total")
    clock.set(T0)
    assert apply_retention(runtime).hourly_windows_pruned == 2
    with runtime.session() as session:
        names = sorted(session.scalars(select(Counter.name)))
    assert names == [
        "confirmations.hour.2026-03-01T10",
        "confirmations.hour.2026-03-02T09",
        "confirmations.hour.2026-03-02T14",
        "confirmations.total",
    ]


def test_retention_run_prints_what_it_did(clock: FrozenClock, runtime: Runtime) -> None:
    add_subscriber(runtime, "lapsed@example.com", SubscriberStatus.PENDING)
    clock.set(T0 + timedelta(days=31))
    result = CliRunner().invoke(cli, ["retention", "run"], obj={"runtime": runtime})
    assert result.exit_code == 0, result.output
    assert "Unconfirmed signups erased (older than 30 days): 1" in result.output
    assert "anonymised (after 24 months): 0" in result.output
    assert "Processed webhook batches deleted (after 7 days): 0" in result.output
    assert "Spent hourly confirmation counters pruned: 0" in result.output


def test_beat_starts_the_retention_task_and_workers_know_it(runtime: Runtime) -> None:
    entry = celery_settings(runtime.settings)["beat_schedule"]["apply-retention"]
    assert entry["task"] == "tasks.retention.apply_retention"
    assert entry["schedule"] <= 24 * 3600
    app = create_celery(runtime.settings)
    try:
        app.loader.import_default_modules()
        assert "tasks.retention.apply_retention" in app.tasks
    finally:
        app.close()


def test_months_are_calendar_months() -> None:
    assert months_before(datetime(2028, 3, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 2, tzinfo=UTC), 24) == datetime(2024, 3, 2, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )
