"""The SendGrid Event Webhook: signatures, size and shape limits, storage, replays and ingest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from tracking_support import SendGridSigner, body_of, make_subscriber, sg_event

from config import Settings
from runtime import Runtime
from store.models import (
    Delivery,
    EmailEvent,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from tracking.ingest import ingest_pending

URL = "/webhooks/sendgrid"

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def count(runtime: Runtime, model) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_public_key_format_is_what_eventwebhook_expects(signer: SendGridSigner) -> None:
    from sendgrid.helpers.eventwebhook import EventWebhook

    body = body_of([{"event": "processed"}]).decode()
    headers = signer.headers(body.encode(), 1700000000)
    verifier = EventWebhook(signer.public_key)
    assert verifier.verify_signature(
        body,
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
    )
    assert not verifier.verify_signature(
        body.rstrip(),
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
    )


def test_signed_batch_is_stored_and_mapped(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    body = body_of(
        [
            sg_event("processed", made, 1, "ev-processed"),
            sg_event("delivered", made, 1, "ev-delivered"),
        ]
    )
    response = client.post(URL, data=body, headers=signer.headers(body))
    assert response.status_code == 200, response.get_json()
    assert count(runtime, WebhookBatch) == 1
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        events = session.scalars(select(EmailEvent).order_by(EmailEvent.kind)).all()
        assert [(e.kind, e.delivery_id, e.subscriber_id, e.day) for e in events] == [
            ("delivered", made.delivery_ids[1], made.subscriber_id, 1),
            ("processed", made.delivery_ids[1], made.subscriber_id, 1),
        ]
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert delivery.delivered_at is not None
        batch = session.scalars(select(WebhookBatch)).one()
        assert batch.processed_at is not None
        # The kept batch no longer holds the address (GDPR forget would miss it there).
        assert all("email" not in event for event in batch.body)
    assert ingest_pending(runtime) == 0


@pytest.mark.parametrize(
    "mangle",
    ["bad-signature", "missing-signature", "missing-timestamp", "stale", "future", "body-changed"],
)
def test_bad_signatures_are_refused_and_store_nothing(
    client, runtime: Runtime, signer, mangle: str
) -> None:
    body = body_of([{"event": "processed", "sg_event_id": "x1", "timestamp": 1}])
    now = int(time.time())
    headers = signer.headers(body, now - 3600 if mangle == "stale" else None)
    if mangle == "future":
        headers = signer.headers(body, now + 3600)
    if mangle == "bad-signature":
        other = SendGridSigner().headers(body)
        headers["X-Twilio-Email-Event-Webhook-Signature"] = other[
            "X-Twilio-Email-Event-Webhook-Signature"
        ]
    if mangle == "missing-signature":
        del headers["X-Twilio-Email-Event-Webhook-Signature"]
    if mangle == "missing-timestamp":
        del headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    if mangle == "body-changed":
        body = body.replace(b"processed", b"delivered")
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]
    assert count(runtime, WebhookBatch) == 0


def test_garbage_signature_is_refused(client, runtime: Runtime, signer) -> None:
    body = body_of([{"event": "processed"}])
    headers = signer.headers(body)
    headers["X-Twilio-Email-Event-Webhook-Signature"] = "not base64 at all!"
    assert client.post(URL, data=body, headers=headers).status_code == 403
    assert count(runtime, WebhookBatch) == 0


def test_unsigned_events_are_refused_without_a_key(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime], make_app: Any
) -> None:
    runtime = make_runtime(configure(sendgrid_webhook_public_key=""))
    client = make_app(runtime).test_client()
    response = client.post(URL, json=[{"event": "processed", "sg_event_id": "u1"}])
    assert response.status_code == 403
    assert "NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.get_json()["error"]
    assert count(runtime, WebhookBatch) == 0


def test_insecure_dev_setting_accepts_unsigned_events(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime], make_app: Any
) -> None:
    # Development only: with a public BASE_URL the app refuses to start with this setting.
    insecure = configure(
        sendgrid_webhook_public_key="", webhook_insecure_dev=True, base_url="http://127.0.0.1:8000"
    )
    runtime = make_runtime(insecure)
    app = make_app(runtime)
    response = app.test_client().post(URL, json=[{"event": "processed", "sg_event_id": "u1"}])
    assert response.status_code == 200
    assert count(runtime, WebhookBatch) == 1


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"event": "open"}', b"[1, 2]", b'[{"event": "open"}, "x"]', b"\xff\xfe"],
)
def test_malformed_bodies_are_400_and_store_nothing(
    client, runtime: Runtime, signer, body: bytes
) -> None:
    response = client.post(URL, data=body, headers=signer.headers(body))
    assert response.status_code == 400
    assert count(runtime, WebhookBatch) == 0


def test_ten_megabyte_body_is_413(client, runtime: Runtime, signer) -> None:
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    response = client.post(URL, data=body, headers=signer.headers(body))
    assert response.status_code == 413
    assert count(runtime, WebhookBatch) == 0


def test_replayed_batch_changes_nothing(client, runtime: Runtime, signer) -> None:
    made = make_subscriber(runtime, "bob@example.com", sent_days=1)
    events = [
        sg_event("open", made, 1, "ev-open", useragent="Mozilla/5.0 (Windows NT 10.0) Firefox/120"),
        sg_event("click", made, 1, "ev-click", url="https://umoya.example/afspraak"),
    ]
    body = body_of(events)
    for _ in range(2):
        assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
        ingest_pending(runtime)
    # The same events again, in a different batch with one new event.
    events.append(sg_event("open", made, 1, "ev-open-2", sg_machine_open=True))
    body = body_of(events)
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert (delivery.human_opens, delivery.machine_opens, delivery.clicks) == (1, 1, 1)
        assert session.scalar(select(func.count()).select_from(EmailEvent)) == 3


def test_open_classification_and_clicks(client, runtime: Runtime, signer) -> None:
    made = make_subscriber(runtime, "carla@example.com", sent_days=2)
    with runtime.session() as session:
        sent_at = session.get(Delivery, made.delivery_ids[2]).sent_at
    soon = int(sent_at.timestamp()) + 2
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    events = [
        sg_event("open", made, 1, "o-human", useragent="Mozilla/5.0 (iPhone) Mobile Safari/604.1"),
        sg_event("open", made, 1, "o-mpp-flag", useragent="Mozilla/5.0", sg_machine_open=True),
        sg_event("open", made, 1, "o-mpp-ua", useragent="Mozilla/5.0"),
        sg_event("open", made, 2, "o-gmail-late", useragent=gmail),
        sg_event("open", made, 2, "o-gmail-prefetch", useragent=gmail, timestamp=soon),
        sg_event("click", made, 2, "c-1", url="https://umoya.example/afspraak"),
        sg_event("deferred", made, 2, "d-1", response="421 try later", attempt="1"),
        sg_event("group_resubscribe", made, 2, "g-1"),
        sg_event("some_future_kind", made, 2, "f-1"),
    ]
    body = body_of(events)
    assert client.post(URL, data=body, headers=signer.headers(body)).status_code == 200
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        day1 = session.get(Delivery, made.delivery_ids[1])
        day2 = session.get(Delivery, made.delivery_ids[2])
        assert (day1.human_opens, day1.machine_opens, day1.clicks) == (1, 2, 0)
        assert (day2.human_opens, day2.machine_opens, day2.clicks) == (1, 1, 1)
        assert day1.first_opened_at is not None
        machine = dict(session.execute(select(EmailEvent.event_key, EmailEvent.machine)).all())
        assert machine["o-gmail-prefetch"] and not machine["o-gmail-late"]
        click = session.scalars(select(EmailEvent).where(EmailEvent.kind == "click")).one()
        assert click.url == "https://umoya.example/afspraak"
        kinds = set(session.scalars(select(EmailEvent.kind)))
        assert {"deferred", "group_resubscribe", "some_future_kind"} <= kinds
        assert session.get(Subscriber, made.subscriber_id).status == SubscriberStatus.CONFIRMED


# A "blocked" bounce stops mail only after several in a row: tests/tracking/test_bounces.py.
