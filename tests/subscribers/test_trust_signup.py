"""Issue 12, section 2: an anonymous signup cannot be turned against anyone.

It never resets an unsubscribed person, never overwrites a name, never puts typed text in a
confirmation email, is capped per address and globally, and answers every address alike,
in content and in timing; a suppressed address gets the normal answer and no mail.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from helpers import T0
from sqlalchemy import select
from subscribers_support import (
    ADDRESS,
    admin_headers,
    confirm_path,
    confirmations_of,
    consent_events,
    id_of,
    latest_confirmation,
    mark_sent,
    outbox_mails,
    signup_form,
    subscriber_by_email,
    unsubscribe_via_link,
)

from config import Settings
from delivery.sender import Sender
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Delivery,
    DeliveryKind,
    DeliveryState,
    Subscriber,
    SubscriberStatus,
)
from tasks.dispatch import dispatch_once
from web import create_app

ATTACK = "Win een iPhone op evil.example/claim"


def _signed_up_and_confirmed(client: Any, runtime: Runtime, name: str = "Anna") -> int:
    assert client.post("/subscribe", data=signup_form(name=name)).status_code == 200
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    assert client.post(confirm_path(runtime, subscriber.id)).status_code == 200
    return subscriber.id


def _row(runtime: Runtime, subscriber_id: int) -> Subscriber:
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return row


def _history(row: Subscriber) -> tuple[object, ...]:
    return (
        row.first_name,
        row.status,
        row.confirmed_at,
        row.consent_at,
        row.consent_version,
        row.consent_ip_hash,
        row.unsubscribed_at,
        row.suppressed_at,
        row.created_at,
    )


def _greeting(mail: Any) -> str:
    return str(mail.get_body(("plain",)).get_content().splitlines()[0])


def test_an_unsubscribed_person_stays_unsubscribed_until_the_new_confirmation(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up_and_confirmed(client, runtime)
    clock.advance(days=2)
    unsubscribe_via_link(client, runtime, subscriber_id)
    opted_out = _history(_row(runtime, subscriber_id))
    assert opted_out[1] == SubscriberStatus.UNSUBSCRIBED and opted_out[6] == T0 + timedelta(days=2)

    clock.advance(days=1)
    response = client.post("/subscribe", data=signup_form(name=ATTACK))
    assert response.status_code == 200 and "Check je inbox" in response.get_data(as_text=True)
    # Nothing about the person changed: the opt-out and its time are still the record.
    assert _history(_row(runtime, subscriber_id)) == opted_out
    fresh = latest_confirmation(runtime, subscriber_id)
    assert fresh.state == DeliveryState.QUEUED and fresh.requested_name == ATTACK

    # Only completing that new confirmation brings them back, as a recorded resubscribe.
    mark_sent(runtime, fresh.id)
    clock.advance(minutes=5)
    assert client.post(confirm_path(runtime, subscriber_id)).status_code == 200
    back = _row(runtime, subscriber_id)
    assert back.status == SubscriberStatus.CONFIRMED and back.unsubscribed_at is None
    assert back.confirmed_at == T0 + timedelta(days=3, minutes=5)
    kinds = [(e.kind, e.source) for e in consent_events(runtime, subscriber_id)]
    assert kinds == [
        ("signup", "form"),
        ("confirmation", "page"),
        ("unsubscribe", "page"),
        ("signup", "form"),
        ("confirmation", "page"),
        ("resubscribe", "page"),
    ]
    resubscribe = consent_events(runtime, subscriber_id)[-1]
    assert resubscribe.detail is not None and "2026-03-04T09:00:00" in resubscribe.detail


def test_an_anonymous_signup_never_overwrites_a_name(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up_and_confirmed(client, runtime, name="Anna")
    before = _history(_row(runtime, subscriber_id))
    clock.advance(hours=1)
    assert client.post("/subscribe", data=signup_form(name=ATTACK)).status_code == 200
    assert client.post("/subscribe", json=signup_form(name=ATTACK)).status_code == 200
    assert _history(_row(runtime, subscriber_id)) == before
    # A confirmed person gets no new mail: both rows are written, but skipped.
    states = [c.state for c in confirmations_of(runtime, subscriber_id)]
    assert states == [DeliveryState.QUEUED, DeliveryState.SKIPPED, DeliveryState.SKIPPED]

    # A pending person has no name at all until they confirm.
    other = "bram@example.com"
    client.post("/subscribe", data=signup_form(email=other, name="Bram"))
    clock.advance(minutes=11)
    client.post("/subscribe", data=signup_form(email=other, name=ATTACK))
    pending = subscriber_by_email(runtime, other)
    assert pending is not None and pending.first_name is None
    names = [c.requested_name for c in confirmations_of(runtime, pending.id)]
    assert names == ["Bram", ATTACK]


def test_the_confirmation_email_carries_no_typed_text_but_lessons_use_the_confirmed_name(
    client: Any, runtime: Runtime, settings: Settings, clock: FrozenClock
) -> None:
    # Someone else signs up Anna's address with a message for her as the "name".
    client.post("/subscribe", data=signup_form(name=ATTACK))
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    assert Sender(runtime).deliver(latest_confirmation(runtime, subscriber.id).id) == "sent"
    [mail] = outbox_mails(settings)
    assert mail["X-Nurture-Kind"] == "confirmation"
    assert mail["To"].addresses[0].display_name == ""
    assert _greeting(mail) == "Hallo,"
    assert "iPhone" not in mail.as_string() and "evil.example" not in mail.as_string()

    # Anna herself confirms under her own name; from then on the lessons greet her by it.
    clock.advance(minutes=11)
    client.post("/subscribe", data=signup_form(name="Anna"))
    confirmation = latest_confirmation(runtime, subscriber.id)
    assert Sender(runtime).deliver(confirmation.id) == "sent"
    assert _greeting(outbox_mails(settings)[-1]) == "Hallo,"  # not even her own name
    assert client.post(confirm_path(runtime, subscriber.id)).status_code == 200
    dispatch_once(runtime)
    with runtime.session() as session:
        lesson = session.scalars(
            select(Delivery).where(Delivery.kind == DeliveryKind.LESSON, Delivery.day == 1)
        ).one()
    assert Sender(runtime).deliver(lesson.id) == "sent"
    last = outbox_mails(settings)[-1]
    assert last["X-Nurture-Kind"] == "lesson"
    assert _greeting(last) == "Hallo Anna,"
    assert all("iPhone" not in m.as_string() for m in outbox_mails(settings))


def test_confirmations_are_capped_per_address_per_day_and_per_month(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    def sign_up() -> bytes:
        response = client.post("/subscribe", data=signup_form())
        assert response.status_code == 200
        return bytes(response.get_data())

    def mailed() -> int:
        subscriber = subscriber_by_email(runtime, ADDRESS)
        assert subscriber is not None
        rows = confirmations_of(runtime, subscriber.id)
        return sum(c.state != DeliveryState.SKIPPED for c in rows)

    answers = set()
    for _ in range(4):  # 10 minutes apart: the fourth within 24 hours is over the cap
        answers.add(sign_up())
        clock.advance(minutes=11)
    assert mailed() == 3
    clock.advance(hours=23, minutes=17)  # just over 24 hours after the first
    answers.add(sign_up())
    clock.advance(minutes=11)
    answers.add(sign_up())
    assert mailed() == 5
    clock.advance(days=2)
    answers.add(sign_up())  # a new day, but the sixth in 30 days
    assert mailed() == 5
    clock.advance(days=28, minutes=1)  # the first five are now more than 30 days old
    answers.add(sign_up())
    assert mailed() == 6
    assert len(answers) == 1  # the visitor's answer never changed


def test_above_the_hourly_ceiling_signups_are_stored_and_their_confirmations_wait(
    configure: Any, make_runtime: Any, redis_url: str, clock: FrozenClock
) -> None:
    runtime = make_runtime(configure(confirmations_per_hour=2))
    app = create_app(runtime=runtime, RATELIMIT_ENABLED=False)
    client = app.test_client()
    addresses = [f"p{n}@example.com" for n in range(4)]
    answers = {client.post("/subscribe", data=signup_form(email=a)).get_data() for a in addresses}
    assert len(answers) == 1
    rows = [latest_confirmation(runtime, id_of(runtime, a)) for a in addresses]
    next_hour = T0 + timedelta(hours=1)
    assert [(c.state, c.not_before) for c in rows] == [(DeliveryState.QUEUED, T0)] * 2 + [
        (DeliveryState.QUEUED, next_hour)
    ] * 2
    assert [c.enqueued_at for c in rows[2:]] == [None, None]  # the dispatcher takes them later

    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert 'id="alert-confirmations_held"' in page and "2 bevestigingsmails wachten" in page

    assert dispatch_once(runtime).enqueued == 0  # not due yet
    for sent in rows[:2]:  # as a worker would have done
        mark_sent(runtime, sent.id)
    clock.set(next_hour)
    assert dispatch_once(runtime).enqueued == 2
    # The next hour already holds the two that waited: a new signup now waits for the one after.
    client.post("/subscribe", data=signup_form(email="laat@example.com"))
    late = latest_confirmation(runtime, id_of(runtime, "laat@example.com"))
    assert late.not_before == T0 + timedelta(hours=2)
    clock.set(T0 + timedelta(hours=2))
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert 'id="alert-confirmations_held"' not in page
