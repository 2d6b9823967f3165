"""`nurture subscribers export|forget|pause|resume` through click's CliRunner."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from factories import new_delivery
from helpers import T0
from sqlalchemy import func, select
from subscribers_support import (
    ADDRESS,
    confirm_path,
    confirmations_of,
    counter_value,
    signup_form,
    subscriber_by_email,
)

from cli.main import cli
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    EmailEvent,
    Enrollment,
    EnrollmentStatus,
    PreferenceEvent,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import counters


@pytest.fixture
def confirmed(client: Any, runtime: Runtime, clock: FrozenClock) -> int:
    """A confirmed subscriber with a sent lesson (opened, clicked) and a queued one."""
    client.post("/subscribe", data=signup_form())
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    assert client.post(confirm_path(runtime, subscriber.id)).status_code == 200
    with runtime.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        sent = new_delivery(enrollment, 1, DeliveryState.SENT, T0, clicks=1, human_opens=1)
        queued = new_delivery(enrollment, 2, DeliveryState.QUEUED, T0)
        session.add_all([sent, queued])
        session.flush()
        for kind, url in (("open", None), ("click", "https://umoya.example/afspraak")):
            session.add(
                EmailEvent(
                    kind=kind,
                    source="pixel" if kind == "open" else "link",
                    delivery_id=sent.id,
                    subscriber_id=subscriber.id,
                    course_slug=enrollment.course_slug,
                    day=1,
                    url=url,
                    user_agent="Mozilla/5.0 (Anna's phone)",
                    reason=f"550 <{ADDRESS}> test" if kind == "open" else None,
                    occurred_at=T0,
                    recorded_at=T0,
                )
            )
        session.add(
            WebhookBatch(
                body=[{"email": ADDRESS, "event": "delivered", "delivery_id": str(sent.id)}],
                received_at=T0,
                processed_at=T0,
            )
        )
    return subscriber.id


def invoke(runtime: Runtime, *args: str, input: str | None = None) -> tuple[int, str, str]:
    """Run `nurture ARGS` on the test's runtime (and so its frozen clock).

    The command keeps the runtime of its run in click's root object (cli.common); handing it
    this test's runtime there is how the frozen clock reaches the command.
    """
    result = CliRunner().invoke(cli, list(args), input=input, obj={"runtime": runtime})
    return result.exit_code, result.stdout, result.stderr


def test_export_prints_everything_stored_about_the_person(confirmed: int, runtime: Runtime) -> None:
    code, out, _ = invoke(runtime, "subscribers", "export", ADDRESS.upper())
    assert code == 0
    data = json.loads(out)
    assert data["subscriber"]["id"] == confirmed
    assert data["subscriber"]["email"] == ADDRESS
    assert data["subscriber"]["first_name"] == "Anna"
    assert data["subscriber"]["consent_version"] == "1"
    assert len(data["enrollments"]) == 1
    lessons = [d for d in data["deliveries"] if d["kind"] == DeliveryKind.LESSON]
    assert sorted(d["day"] for d in lessons) == [1, 2]
    # The confirmation email is a delivery too, and so part of what is stored about them.
    [confirmation] = [d for d in data["deliveries"] if d["kind"] == DeliveryKind.CONFIRMATION]
    assert confirmation["day"] == 0 and confirmation["enrollment_id"] is None
    assert sorted(e["kind"] for e in data["events"]) == ["click", "open"]
    assert data["subscriber"]["confirmed_at"].startswith("2026-03-02T09:00:00")


def test_forget_erases_personal_data_and_keeps_anonymous_counts(
    confirmed: int, runtime: Runtime
) -> None:
    code, out, _ = invoke(runtime, "subscribers", "forget", ADDRESS, input="y\n")
    assert code == 0 and "Forgotten" in out
    with runtime.session() as session:
        row = session.get(Subscriber, confirmed)
        assert row is not None
        assert row.email is None and row.first_name is None and row.consent_ip_hash is None
        assert row.status == SubscriberStatus.FORGOTTEN and row.forgotten_at == T0
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.CANCELLED
        states = dict(
            session.execute(
                select(Delivery.day, Delivery.state).where(Delivery.kind == DeliveryKind.LESSON)
            ).all()
        )
        assert states == {1: DeliveryState.SENT, 2: DeliveryState.SKIPPED}
        # Per-lesson numbers survive: the sent lesson's opens and clicks, and the events.
        sent = session.scalars(select(Delivery).where(Delivery.day == 1)).one()
        assert (sent.human_opens, sent.clicks) == (1, 1)
        events = session.scalars(select(EmailEvent)).all()
        assert sorted(e.kind for e in events) == ["click", "open"]
        assert all(e.user_agent is None and e.url is None and e.reason is None for e in events)
        batch = session.scalars(select(WebhookBatch)).one()
        assert ADDRESS not in json.dumps(batch.body)
    # The confirmation that was still queued goes nowhere now either.
    assert [c.state for c in confirmations_of(runtime, confirmed)] == [DeliveryState.SKIPPED]
    assert counter_value(runtime, counters.SIGNUPS) == 1
    assert counter_value(runtime, counters.CONFIRMATIONS) == 1
    assert counter_value(runtime, counters.FORGOTTEN) == 1
    code, out, _ = invoke(runtime, "subscribers", "export", ADDRESS)
    assert code != 0
    # The address is free again: a new signup is a new person.
    assert session_count(runtime) == 1


def session_count(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_forget_asks_first_unless_yes(confirmed: int, runtime: Runtime) -> None:
    code, _, _ = invoke(runtime, "subscribers", "forget", ADDRESS, input="n\n")
    assert code != 0
    assert subscriber_by_email(runtime, ADDRESS) is not None
    code, _, _ = invoke(runtime, "subscribers", "forget", "--yes", ADDRESS)
    assert code == 0 and subscriber_by_email(runtime, ADDRESS) is None


def test_pause_and_resume_continue_at_the_same_day(
    confirmed: int, clock: FrozenClock, runtime: Runtime
) -> None:
    code, out, _ = invoke(runtime, "subscribers", "pause", ADDRESS)
    assert code == 0 and "Paused" in out
    with runtime.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.PAUSED
        assert enrollment.next_due_at is None and enrollment.paused_at == T0
        enrollment.next_day = 3
    code, _, err = invoke(runtime, "subscribers", "pause", ADDRESS)
    assert code != 0 and "no active course to pause" in err
    clock.advance(days=3)
    code, out, _ = invoke(runtime, "subscribers", "resume", ADDRESS)
    assert code == 0 and "day 3" in out
    with runtime.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.ACTIVE
        assert enrollment.next_day == 3 and enrollment.paused_at is None
        # Full-length days: the next 07:30 in Amsterdam after the resume moment.
        assert enrollment.next_due_at is not None
        assert enrollment.next_due_at > clock.current
        assert enrollment.next_due_at - clock.current <= timedelta(days=1)
    code, _, err = invoke(runtime, "subscribers", "resume", ADDRESS)
    assert code != 0 and "no paused course to resume" in err
    # The clinic's changes are in the reader's preference history, as the reader's own are.
    with runtime.session() as session:
        events = session.scalars(select(PreferenceEvent).order_by(PreferenceEvent.id)).all()
        assert [(e.kind, e.source, e.subscriber_id) for e in events] == [
            ("pause", "cli", confirmed),
            ("resume", "cli", confirmed),
        ]


@pytest.mark.parametrize("command", ["export", "forget", "pause", "resume"])
def test_unknown_or_invalid_email_is_a_one_line_error(runner: Any, command: str) -> None:
    result = runner("subscribers", command, "niemand@example.com", input="y\n")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "nurture: no subscriber with email niemand@example.com"
    ]
    result = runner("subscribers", command, "geen adres", input="y\n")
    assert result.exit_code == 2
    assert "not a valid email address" in result.stderr and "Traceback" not in result.stderr


def test_pause_and_resume_act_on_the_course_named(confirmed: int, runtime: Runtime) -> None:
    first = "rugpijn-en-training"
    with runtime.session() as session:
        # A newer course of the same reader, running: without --course it is the one paused.
        session.add(
            Enrollment(
                subscriber_id=confirmed,
                course_slug="tweede-cursus",
                status=EnrollmentStatus.ACTIVE,
                next_day=1,
                next_due_at=T0,
                started_at=T0,
            )
        )
    code, out, _ = invoke(runtime, "subscribers", "pause", ADDRESS, "--course", first)
    assert code == 0 and f"in {first} before day" in out

    def statuses() -> dict[str, str]:
        with runtime.session() as session:
            return {e.course_slug: e.status for e in session.scalars(select(Enrollment))}

    assert statuses() == {first: EnrollmentStatus.PAUSED, "tweede-cursus": EnrollmentStatus.ACTIVE}
    code, _, err = invoke(runtime, "subscribers", "pause", ADDRESS, "--course", first)
    assert code != 0 and f"no active course to pause in course {first}" in err
    code, out, _ = invoke(runtime, "subscribers", "resume", ADDRESS, "--course", first)
    assert code == 0 and f"Resumed {ADDRESS} in {first}" in out
    assert statuses() == {first: EnrollmentStatus.ACTIVE, "tweede-cursus": EnrollmentStatus.ACTIVE}
