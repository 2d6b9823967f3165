"""Bounces through the signed webhook: hard ones suppress at once, soft ones only in a row.

A hard bounce, a complaint, or a drop because the address bounced or complained before puts
the address on the hashed suppression list and stops all mail. A "blocked" bounce (SendGrid's
temporary refusal) only counts: N in a row suppress, a delivered mail resets the count, and a
"deferred" event (SendGrid still retrying) never counts at all.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select
from tracking_support import COURSE, Made, SendGridSigner, body_of, make_subscriber, sg_event

from config import Settings
from runtime import Runtime
from store.models import (
    ConsentEvent,
    ConsentEventKind,
    Delivery,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from subscribers.privacy import forget_subscriber
from subscribers.suppression import address_hash, is_suppressed
from tracking.ingest import ingest_pending
from tracking.stats import funnel

URL = "/webhooks/sendgrid"
ADDRESS = "dirk@example.com"
_event_ids = count(1)

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


@pytest.fixture
def made(runtime: Runtime) -> Made:
    """A confirmed subscriber with lessons 1-2 sent and lesson 3 queued."""
    return make_subscriber(runtime, ADDRESS, sent_days=2, queued_day=3)


def event(kind: str, made: Made, day: int = 1, **extra: object) -> dict[str, object]:
    """One SendGrid event for MADE's lesson DAY, quoting their address, with a fresh id."""
    return sg_event(kind, made, day, f"ev-{kind}-{next(_event_ids)}", email=ADDRESS, **extra)


def blocked(made: Made, day: int = 1) -> dict[str, object]:
    return event("bounce", made, day, type="blocked", reason="421 4.7.0 blocked by policy")


def post(client: Any, signer: SendGridSigner, runtime: Runtime, *events: dict) -> None:
    """Post EVENTS as one signed batch and ingest it."""
    body = body_of(list(events))
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1


def subscriber_of(runtime: Runtime, made: Made) -> Subscriber:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        assert subscriber is not None
        return subscriber


def listed(runtime: Runtime, email: str = ADDRESS) -> list[Suppression]:
    """Return the list's entry for EMAIL (empty when it is not on the list)."""
    with runtime.session() as session:
        key = address_hash(runtime.settings.secret_key, email)
        return list(session.scalars(select(Suppression).where(Suppression.address_hash == key)))


def assert_mail_stopped(runtime: Runtime, made: Made) -> None:
    with runtime.session() as session:
        assert session.get(Subscriber, made.subscriber_id).status == SubscriberStatus.SUPPRESSED
        assert session.get(Enrollment, made.enrollment_id).status == EnrollmentStatus.CANCELLED
        assert session.get(Delivery, made.delivery_ids[3]).state == DeliveryState.SKIPPED


def assert_mail_flows(runtime: Runtime, made: Made) -> None:
    with runtime.session() as session:
        assert session.get(Subscriber, made.subscriber_id).status == SubscriberStatus.CONFIRMED
        assert session.get(Enrollment, made.enrollment_id).status == EnrollmentStatus.ACTIVE
        assert session.get(Delivery, made.delivery_ids[3]).state == DeliveryState.QUEUED
    assert listed(runtime) == []


def suppression_events(runtime: Runtime, made: Made) -> list[tuple[str, str | None]]:
    with runtime.session() as session:
        rows = session.scalars(
            select(ConsentEvent).where(
                ConsentEvent.subscriber_id == made.subscriber_id,
                ConsentEvent.kind == ConsentEventKind.SUPPRESSION,
            )
        )
        return [(row.source, row.detail) for row in rows]


def test_hard_bounce_suppresses_at_once_and_lists_the_hashed_address(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    post(client, signer, runtime, event("bounce", made, type="bounce", reason="550 5.1.1 unknown"))
    assert_mail_stopped(runtime, made)
    [entry] = listed(runtime)
    assert (entry.reason, entry.source, entry.note) == ("bounce", "webhook", None)
    assert ADDRESS not in entry.address_hash
    with runtime.session() as session:
        assert is_suppressed(session, runtime.settings.secret_keys, ADDRESS.upper())
    assert suppression_events(runtime, made) == [("webhook", "bounce")]
    # A second hard bounce changes nothing: one entry, one consent event.
    post(client, signer, runtime, event("bounce", made, 2, type="bounce"))
    assert len(listed(runtime)) == 1
    assert suppression_events(runtime, made) == [("webhook", "bounce")]


@pytest.mark.parametrize(
    ("kind", "extra", "reason"),
    [
        ("spamreport", {}, "complaint"),
        ("dropped", {"reason": "Spam Reporting Address"}, "complaint"),
        ("dropped", {"reason": "Bounced Address"}, "bounce"),
        ("dropped", {"reason": "Invalid"}, "bounce"),
    ],
)
def test_complaints_and_drops_for_a_bad_address_suppress_at_once(
    client, runtime: Runtime, signer: SendGridSigner, made: Made, kind, extra, reason
) -> None:
    post(client, signer, runtime, event(kind, made, **extra))
    assert_mail_stopped(runtime, made)
    assert [(e.reason, e.source) for e in listed(runtime)] == [(reason, "webhook")]
    assert suppression_events(runtime, made) == [("webhook", reason)]


def test_a_drop_for_our_own_content_lists_no_address(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    post(client, signer, runtime, event("dropped", made, reason="Spam Content"))
    assert listed(runtime) == []


def test_blocked_bounces_suppress_only_after_the_limit_in_a_row(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    assert runtime.settings.soft_bounce_limit == 3
    post(client, signer, runtime, blocked(made))
    post(client, signer, runtime, blocked(made, 2))
    assert_mail_flows(runtime, made)
    assert subscriber_of(runtime, made).soft_bounce_streak == 2
    post(client, signer, runtime, blocked(made, 2))
    assert_mail_stopped(runtime, made)
    assert [(e.reason, e.source) for e in listed(runtime)] == [("soft_bounces", "webhook")]
    assert suppression_events(runtime, made) == [("webhook", "soft_bounces")]


def test_a_replayed_blocked_bounce_counts_once(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    once = blocked(made)
    for extra in range(3):
        # The same event (same id) in three batches that differ otherwise.
        post(client, signer, runtime, once, event("processed", made, extra + 1))
    assert subscriber_of(runtime, made).soft_bounce_streak == 1
    assert_mail_flows(runtime, made)


def test_delivered_mail_resets_the_streak(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    post(client, signer, runtime, blocked(made), blocked(made))
    post(client, signer, runtime, event("delivered", made, 2))
    assert subscriber_of(runtime, made).soft_bounce_streak == 0
    # In one batch the order counts: only the blocks after the delivery are in a row.
    post(client, signer, runtime, blocked(made), event("delivered", made, 2), blocked(made))
    assert subscriber_of(runtime, made).soft_bounce_streak == 1
    post(client, signer, runtime, blocked(made))
    assert_mail_flows(runtime, made)
    post(client, signer, runtime, blocked(made))
    assert_mail_stopped(runtime, made)


def test_deferred_never_counts(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    deferred = [event("deferred", made, response="421 try later", attempt=str(n)) for n in range(5)]
    post(client, signer, runtime, blocked(made), *deferred, blocked(made))
    post(client, signer, runtime, *[event("deferred", made, 2) for _ in range(5)])
    assert subscriber_of(runtime, made).soft_bounce_streak == 2
    assert_mail_flows(runtime, made)


def test_the_soft_bounce_limit_is_a_setting(
    configure: Callable[..., Settings],
    signer: SendGridSigner,
    make_runtime: Callable[..., Runtime],
    make_app: Any,
) -> None:
    runtime = make_runtime(
        configure(sendgrid_webhook_public_key=signer.public_key, soft_bounce_limit=5)
    )
    made = make_subscriber(runtime, ADDRESS, sent_days=2, queued_day=3)
    client = make_app(runtime).test_client()
    post(client, signer, runtime, *[blocked(made) for _ in range(4)])
    assert_mail_flows(runtime, made)
    post(client, signer, runtime, blocked(made, 2))
    assert_mail_stopped(runtime, made)


def test_a_late_bounce_for_a_forgotten_subscriber_lists_the_quoted_address(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        forget_subscriber(
            session, subscriber, runtime.now(), runtime.mail, keys=runtime.settings.secret_keys
        )
    post(client, signer, runtime, event("bounce", made, 2, type="bounce"))
    assert [(e.reason, e.source) for e in listed(runtime)] == [("bounce", "webhook")]
    assert subscriber_of(runtime, made).status == SubscriberStatus.FORGOTTEN


def test_bounces_still_count_per_lesson(
    client, runtime: Runtime, signer: SendGridSigner, made: Made
) -> None:
    post(client, signer, runtime, blocked(made), event("bounce", made, 2, type="bounce"))
    with runtime.session() as session:
        lessons = {
            lesson.day: lesson for lesson in funnel(session, runtime.courses, COURSE).lessons
        }
    assert (lessons[1].bounces, lessons[2].bounces) == (1, 1)
