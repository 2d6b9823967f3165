"""`nurture subscribers export|forget|pause|resume` through click's CliRunner."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from factories import new_delivery
from helpers import run_cli
from sqlalchemy import func, select
from subscribers_support import (
    ADDRESS,
    T0,
    clock,
    make_client,
    redis_url,
    signup_form,
    subscriber_by_email,
)

from config import Settings
from emails.tokens import make_confirm_token
from store.clock import FrozenClock
from store.db import session_scope
from store.models import (
    Delivery,
    DeliveryState,
    EmailEvent,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from subscribers import counters

__all__ = ["clock", "redis_url"]  # fixtures, imported so pytest finds them here


@pytest.fixture
def confirmed(settings: Settings, clock: FrozenClock) -> int:
    """A confirmed subscriber with a sent lesson (opened, clicked) and a queued one."""
    client = make_client(settings)
    client.post("/subscribe", data=signup_form())
    subscriber = subscriber_by_email(ADDRESS)
    assert subscriber is not None
    client.get(f"/confirm/{make_confirm_token(subscriber.id)}")
    with session_scope() as session:
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


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = run_cli(*args, input=input)
    return result.exit_code, result.stdout, result.stderr


def test_export_prints_everything_stored_about_the_person(confirmed: int) -> None:
    code, out, _ = invoke("subscribers", "export", ADDRESS.upper())
    assert code == 0
    data = json.loads(out)
    assert data["subscriber"]["id"] == confirmed
    assert data["subscriber"]["email"] == ADDRESS
    assert data["subscriber"]["first_name"] == "Anna"
    assert data["subscriber"]["consent_version"] == "1"
    assert len(data["enrollments"]) == 1
    assert sorted(d["day"] for d in data["deliveries"]) == [1, 2]
    assert sorted(e["kind"] for e in data["events"]) == ["click", "open"]
    assert data["subscriber"]["confirmed_at"].startswith("2026-03-02T09:00:00")


def test_forget_erases_personal_data_and_keeps_anonymous_counts(confirmed: int) -> None:
    code, out, _ = invoke("subscribers", "forget", ADDRESS, input="y\n")
    assert code == 0 and "Forgotten" in out
    with session_scope() as session:
        row = session.get(Subscriber, confirmed)
        assert row is not None
        assert row.email is None and row.first_name is None and row.consent_ip_hash is None
        assert row.status == SubscriberStatus.FORGOTTEN and row.forgotten_at == T0
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.CANCELLED
        states = dict(session.execute(select(Delivery.day, Delivery.state)).all())
        assert states == {1: DeliveryState.SENT, 2: DeliveryState.SKIPPED}
        # Per-lesson numbers survive: the sent lesson's opens and clicks, and the events.
        sent = session.scalars(select(Delivery).where(Delivery.day == 1)).one()
        assert (sent.human_opens, sent.clicks) == (1, 1)
        events = session.scalars(select(EmailEvent)).all()
        assert sorted(e.kind for e in events) == ["click", "open"]
        assert all(e.user_agent is None and e.url is None and e.reason is None for e in events)
        batch = session.scalars(select(WebhookBatch)).one()
        assert ADDRESS not in json.dumps(batch.body)
        assert counters.read(session, counters.SIGNUPS) == 1
        assert counters.read(session, counters.CONFIRMATIONS) == 1
        assert counters.read(session, counters.FORGOTTEN) == 1
    code, out, _ = invoke("subscribers", "export", ADDRESS)
    assert code != 0
    # The address is free again: a new signup is a new person.
    assert session_count() == 1


def session_count() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_forget_asks_first_unless_yes(confirmed: int) -> None:
    code, _, _ = invoke("subscribers", "forget", ADDRESS, input="n\n")
    assert code != 0
    assert subscriber_by_email(ADDRESS) is not None
    code, _, _ = invoke("subscribers", "forget", "--yes", ADDRESS)
    assert code == 0 and subscriber_by_email(ADDRESS) is None


def test_pause_and_resume_continue_at_the_same_day(
    confirmed: int, clock: FrozenClock, settings: Settings
) -> None:
    code, out, _ = invoke("subscribers", "pause", ADDRESS)
    assert code == 0 and "Paused" in out
    with session_scope() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.PAUSED
        assert enrollment.next_due_at is None and enrollment.paused_at == T0
        enrollment.next_day = 3
    code, _, err = invoke("subscribers", "pause", ADDRESS)
    assert code != 0 and "no active course to pause" in err
    clock.advance(days=3)
    code, out, _ = invoke("subscribers", "resume", ADDRESS)
    assert code == 0 and "day 3" in out
    with session_scope() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.ACTIVE
        assert enrollment.next_day == 3 and enrollment.paused_at is None
        # Full-length days: the next 07:30 in Amsterdam after the resume moment.
        assert enrollment.next_due_at is not None
        assert enrollment.next_due_at > clock.current
        assert enrollment.next_due_at - clock.current <= timedelta(days=1)
    code, _, err = invoke("subscribers", "resume", ADDRESS)
    assert code != 0 and "no paused course to resume" in err


@pytest.mark.parametrize("command", ["export", "forget", "pause", "resume"])
def test_unknown_or_invalid_email_is_a_one_line_error(settings: Settings, command: str) -> None:
    code, _, err = invoke("subscribers", command, "niemand@example.com", input="y\n")
    assert code == 2
    assert err.strip().splitlines() == ["nurture: no subscriber with email niemand@example.com"]
    code, _, err = invoke("subscribers", command, "geen adres", input="y\n")
    assert code == 2 and "not a valid email address" in err and "Traceback" not in err
