"""Which subscriber and delivery an event belongs to: stopping events, bounces placed by message
id or address, events of deliveries we do not know."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tracking_support import body_of, make_subscriber, sg_event

from runtime import Runtime
from store.models import (
    Delivery,
    DeliveryState,
    EmailEvent,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
)
from tracking.ingest import ingest_pending

URL = "/webhooks/sendgrid"

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


@pytest.mark.parametrize(
    ("kind", "extra", "status"),
    [
        ("bounce", {"type": "bounce", "reason": "550 no such user"}, SubscriberStatus.SUPPRESSED),
        ("dropped", {"reason": "Bounced Address"}, SubscriberStatus.SUPPRESSED),
        ("spamreport", {}, SubscriberStatus.SUPPRESSED),
        ("unsubscribe", {}, SubscriberStatus.UNSUBSCRIBED),
        ("group_unsubscribe", {"asm_group_id": 1}, SubscriberStatus.UNSUBSCRIBED),
    ],
)
def test_stopping_events_stop_all_mail(
    client, runtime: Runtime, signer, kind, extra, status
) -> None:
    made = make_subscriber(runtime, "dirk@example.com", sent_days=1, queued_day=2)
    event = sg_event(kind, made, 1, f"stop-{kind}", **extra)
    body = body_of([event])
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        assert subscriber.status == status
        enrollment = session.get(Enrollment, made.enrollment_id)
        assert enrollment.status == EnrollmentStatus.CANCELLED
        assert enrollment.next_due_at is None
        assert session.get(Delivery, made.delivery_ids[2]).state == DeliveryState.SKIPPED


def test_async_bounce_without_delivery_id_maps_by_message_id(
    client, runtime: Runtime, signer
) -> None:
    made = make_subscriber(runtime, "eva@example.com", sent_days=1, message_prefix="SGMSG")
    event = sg_event("bounce", made, 1, "async-bounce", type="bounce")
    for name in ("delivery_id", "subscriber_id", "day", "course"):
        del event[name]
    event["sg_message_id"] = "SGMSG-1.filterdrecv-p3iad2-1-5F0A"
    body = body_of([event])
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    ingest_pending(runtime)
    with runtime.session() as session:
        stored = session.scalars(select(EmailEvent)).one()
        assert (stored.delivery_id, stored.day) == (made.delivery_ids[1], 1)
        assert session.get(Subscriber, made.subscriber_id).status == SubscriberStatus.SUPPRESSED


def test_async_bounce_on_a_shared_message_id_maps_by_address(
    client, runtime: Runtime, signer
) -> None:
    # One SendGrid request carried both lessons: one X-Message-Id for two deliveries.
    anna = make_subscriber(runtime, "anna@example.com", sent_days=1, message_prefix="BULK")
    eva = make_subscriber(runtime, "eva@example.com", sent_days=1, message_prefix="BULK")
    event = sg_event(
        "bounce", eva, 1, "async-bounce-shared", type="bounce", email="eva@example.com"
    )
    for name in ("delivery_id", "subscriber_id", "day", "course"):
        del event[name]
    event["sg_message_id"] = "BULK-1.filterdrecv-p3iad2-2-5F0A"
    body = body_of([event])
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    ingest_pending(runtime)
    with runtime.session() as session:
        stored = session.scalars(select(EmailEvent)).one()
        assert (stored.delivery_id, stored.subscriber_id) == (
            eva.delivery_ids[1],
            eva.subscriber_id,
        )
        assert session.get(Subscriber, eva.subscriber_id).status == SubscriberStatus.SUPPRESSED
        assert session.get(Subscriber, anna.subscriber_id).status != SubscriberStatus.SUPPRESSED


def test_events_for_unknown_deliveries_are_kept_without_links(
    client, runtime: Runtime, signer
) -> None:
    event = {
        "event": "processed",
        "sg_event_id": "orphan",
        "timestamp": 1700000000,
        "delivery_id": "999999",
        "subscriber_id": "888888",
        "day": "3",
        "course": "rugpijn-en-training",
    }
    body = body_of([event, {"event": "delivered"}])
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        rows = session.scalars(select(EmailEvent).order_by(EmailEvent.kind)).all()
        assert [(e.kind, e.delivery_id, e.subscriber_id, e.day) for e in rows] == [
            ("delivered", None, None, None),
            ("processed", None, None, 3),
        ]
