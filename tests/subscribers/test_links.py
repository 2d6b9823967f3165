"""Confirm and unsubscribe links: consent proof, enrollment, tokens that must change nothing,
and RFC 8058 one-click unsubscribe exactly as Gmail sends it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from factories import new_delivery
from helpers import T0
from sqlalchemy import select
from subscribers_support import (
    ADDRESS,
    confirm_path,
    counter_value,
    signup_form,
    subscriber_by_email,
)

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Delivery,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
)
from subscribers import counters
from web import create_app

VISITOR_IP = "203.0.113.45"


def _signed_up(client: Any, runtime: Runtime) -> int:
    response = client.post("/subscribe", data=signup_form())
    assert response.status_code == 200
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    return subscriber.id


def _enrollments(runtime: Runtime, subscriber_id: int) -> list[Enrollment]:
    with runtime.session() as session:
        return list(
            session.scalars(select(Enrollment).where(Enrollment.subscriber_id == subscriber_id))
        )


def _snapshot(runtime: Runtime, subscriber_id: int) -> tuple[object, ...]:
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return (row.status, row.confirmed_at, row.consent_at, row.unsubscribed_at)


def test_confirm_records_consent_without_the_ip_and_makes_day_one_due(
    client, runtime: Runtime, settings: Settings, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    clock.advance(minutes=5)
    response = client.post(
        confirm_path(runtime, subscriber_id), environ_base={"REMOTE_ADDR": VISITOR_IP}
    )
    assert response.status_code == 200
    assert "Welkom, Anna!" in response.get_data(as_text=True)
    now = T0 + timedelta(minutes=5)
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        assert row.status == SubscriberStatus.CONFIRMED
        assert row.confirmed_at == row.consent_at == now
        assert row.consent_version == "1"
        expected = hmac.new(
            settings.secret_key.encode(), VISITOR_IP.encode(), hashlib.sha256
        ).hexdigest()
        assert row.consent_ip_hash == expected
        stored = [str(getattr(row, c.key)) for c in Subscriber.__table__.columns]
        assert not any(VISITOR_IP in value for value in stored)
    assert counter_value(runtime, counters.CONFIRMATIONS) == 1
    [enrollment] = _enrollments(runtime, subscriber_id)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.next_day == 1
    assert enrollment.started_at == now
    assert enrollment.next_due_at == now  # first_lesson = immediately (the default)


def test_confirming_twice_is_harmless(client, runtime: Runtime, clock: FrozenClock) -> None:
    subscriber_id = _signed_up(client, runtime)
    path = confirm_path(runtime, subscriber_id)
    assert client.post(path).status_code == 200
    clock.advance(hours=2)
    second = client.post(path)
    assert second.status_code == 200
    assert "al bevestigd" in second.get_data(as_text=True)
    assert len(_enrollments(runtime, subscriber_id)) == 1
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None and row.confirmed_at == T0
    assert counter_value(runtime, counters.CONFIRMATIONS) == 1


def test_forged_altered_and_expired_confirm_tokens_change_nothing(
    client, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    genuine = confirm_path(runtime, subscriber_id).removeprefix("/confirm/")
    before = _snapshot(runtime, subscriber_id)
    payload, _, signature = genuine.rpartition(".")
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other_kind = runtime.tokens.make_unsubscribe(subscriber_id)  # right key, wrong purpose
    for token in (altered, other_kind, "forged", "a.b.c", genuine[:-3], "%00"):
        for method in (client.get, client.post):
            response = method(f"/confirm/{token}")
            assert response.status_code == 400, token
            page = response.get_data(as_text=True)
            assert "Deze link werkt niet" in page
            assert 'action="/subscribe"' in page  # offers a new link
    clock.advance(days=7, seconds=1)
    for method in (client.get, client.post):
        expired = method(f"/confirm/{genuine}")
        assert expired.status_code == 410
        assert "verlopen" in expired.get_data(as_text=True)
        assert 'action="/subscribe"' in expired.get_data(as_text=True)
    assert _snapshot(runtime, subscriber_id) == before
    assert _enrollments(runtime, subscriber_id) == []


def test_a_new_link_from_the_expired_page_works(
    client, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    old = confirm_path(runtime, subscriber_id)
    clock.advance(days=8)
    assert client.post(old).status_code == 410
    assert client.post("/subscribe", data=signup_form()).status_code == 200
    fresh = confirm_path(runtime, subscriber_id)
    assert fresh != old
    assert client.post(fresh).status_code == 200
    assert len(_enrollments(runtime, subscriber_id)) == 1


def _confirmed_with_queued_lesson(client: Any, runtime: Runtime) -> tuple[int, int]:
    subscriber_id = _signed_up(client, runtime)
    assert client.post(confirm_path(runtime, subscriber_id)).status_code == 200
    [enrollment] = _enrollments(runtime, subscriber_id)
    with runtime.session() as session:
        delivery = new_delivery(enrollment, 1, DeliveryState.QUEUED, T0)
        session.add(delivery)
        session.flush()
        return subscriber_id, delivery.id


def test_one_click_unsubscribe_exactly_as_gmail_sends_it(
    client, runtime: Runtime, settings: Settings, make_runtime, clock: FrozenClock
) -> None:
    subscriber_id, delivery_id = _confirmed_with_queued_lesson(client, runtime)
    old_link = confirm_path(runtime, subscriber_id)
    # A strict limiter and a foreign Origin must not get in the way of RFC 8058.
    strict = make_runtime(settings.model_copy(update={"rate_limit": "1 per minute"}))
    client = create_app(runtime=strict).test_client()
    url = f"/unsubscribe/{runtime.tokens.make_unsubscribe(subscriber_id)}"
    for _ in range(3):
        response = client.post(
            url,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
            headers={"Origin": "https://mail.google.com"},
        )
        assert response.status_code == 200
        assert "Je bent afgemeld" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None and row.status == SubscriberStatus.UNSUBSCRIBED
        assert row.unsubscribed_at == T0
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.state == DeliveryState.SKIPPED
        [enrollment] = session.scalars(select(Enrollment)).all()
        assert enrollment.status == EnrollmentStatus.CANCELLED
        assert enrollment.next_due_at is None
    assert counter_value(runtime, counters.UNSUBSCRIBES) == 1
    # An old confirm link must not undo the unsubscribe.
    for method in (client.get, client.post):
        assert method(old_link).status_code == 400
    assert _snapshot(runtime, subscriber_id)[0] == SubscriberStatus.UNSUBSCRIBED


def test_get_on_the_unsubscribe_link_only_shows_a_button(
    client, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id, delivery_id = _confirmed_with_queued_lesson(client, runtime)
    token = runtime.tokens.make_unsubscribe(subscriber_id)
    response = client.get(f"/unsubscribe/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<form method="post" action="/unsubscribe/{token}">' in page
    assert "Ja, meld mij af" in page
    # Another way out for those who only want fewer mails: their preferences page.
    preferences = f'<a href="/voorkeuren/{runtime.tokens.make_preferences(subscriber_id)}">'
    assert preferences in page
    assert _snapshot(runtime, subscriber_id)[0] == SubscriberStatus.CONFIRMED
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.state == DeliveryState.QUEUED


def test_invalid_unsubscribe_tokens_change_nothing(
    client, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id, delivery_id = _confirmed_with_queued_lesson(client, runtime)
    genuine = runtime.tokens.make_unsubscribe(subscriber_id)
    for token in (genuine[:-2] + "xx", runtime.tokens.make_confirm(subscriber_id), "nope"):
        for method in (client.get, client.post):
            response = method(f"/unsubscribe/{token}")
            assert response.status_code == 400
            assert "afmeldlink werkt niet" in response.get_data(as_text=True)
    assert _snapshot(runtime, subscriber_id)[0] == SubscriberStatus.CONFIRMED
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.state == DeliveryState.QUEUED
