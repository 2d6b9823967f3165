"""The dashboard's rollups equal a recount from the raw tables, whatever happened to them.

Sends, retries, webhook events (through the real signed endpoint and ingest), replays of a
batch, pixel-style opens, a site unsubscribe, a provider unsubscribe, a rolled-back change
and a forget: after each step the triggers' counts (folded or not) match a recount (the call
to action's and the ratings' are in test_action_rollups.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rollups_support import assert_exact, kept
from sqlalchemy import select, text, update
from tracking_support import COURSE, T0, SendGridSigner, body_of, make_subscriber, sg_event

from runtime import Runtime
from store.models import Delivery, DeliveryState, Subscriber
from subscribers.lifecycle import stop_all_mail
from subscribers.privacy import forget_subscriber
from tracking import rollups
from tracking.ingest import ingest_pending
from tracking.record import NewEvent, store_events
from tracking.stats import funnel

pytestmark = pytest.mark.usefixtures("fresh_spool", "signer")


def post(client, signer: SendGridSigner, runtime: Runtime, events: list[dict]) -> None:
    body = body_of(events)
    response = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    assert response.status_code == 200
    ingest_pending(runtime)


def test_rollups_equal_a_recount_after_sends_events_replays_and_a_forget(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    anna = make_subscriber(runtime, "anna@example.com", sent_days=3, queued_day=4)
    bert = make_subscriber(runtime, "bert@example.com", sent_days=2)
    carl = make_subscriber(runtime, "carl@example.com", sent_days=1, confirmed=False)
    dora = make_subscriber(runtime, "dora@example.com", sent_days=2)
    assert_exact(runtime)

    # A retry that failed, and a queued lesson that goes out.
    with runtime.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == bert.delivery_ids[2])
            .values(state=DeliveryState.FAILED, attempts=3)
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id == anna.delivery_ids[4])
            .values(state=DeliveryState.SENT, sent_at=T0 + timedelta(days=3), attempts=2)
        )
    assert_exact(runtime)

    batch = [
        sg_event("delivered", anna, 1, "a-d1"),
        sg_event("open", anna, 1, "a-o1", useragent="Mozilla/5.0 (Windows NT 10.0) Firefox/1"),
        sg_event("click", anna, 1, "a-c1", url="https://umoya.example/x"),
        sg_event("bounce", bert, 1, "b-b1", reason="550 unknown", type="bounce"),
        sg_event("bounce", bert, 1, "b-b1b", reason="550 unknown", type="bounce"),
        sg_event("spamreport", carl, 1, "c-s1"),
        sg_event("unsubscribe", dora, 2, "d-u2"),
    ]
    post(client, signer, runtime, batch)
    first = assert_exact(runtime)
    # SendGrid retries the same events in a new post: nothing moves.
    post(client, signer, runtime, batch)
    assert assert_exact(runtime) == first
    assert first[(COURSE, 1, "subscribers.bounce")] == 1  # two bounces, one subscriber

    # Opens as the pixel stores them, one replayed.
    opens = [
        NewEvent("open", "pixel", f"open:{n % 2}", T0, anna.delivery_ids[2], anna.subscriber_id)
        for n in range(3)
    ]
    with runtime.session() as session:
        store_events(session, opens, runtime.now())
    counts = assert_exact(runtime)
    assert counts[(COURSE, 2, "lesson.human_opened")] == 1

    # A change that rolls back leaves no count behind.
    with pytest.raises(RuntimeError), runtime.session() as session:
        session.execute(update(Delivery).values(clicks=Delivery.clicks + 1))
        raise RuntimeError("rolled back")
    assert assert_exact(runtime) == counts

    # Anna leaves through our link after lesson 3 (counted there), Dora through SendGrid.
    with runtime.session() as session:
        subscriber = session.get(Subscriber, anna.subscriber_id)
        stop_all_mail(
            session,
            subscriber,
            status="unsubscribed",
            reason="link",
            now=T0 + timedelta(days=2, hours=5),
        )
    counts = assert_exact(runtime)
    assert counts[(COURSE, 3, "site_unsubscribes")] == 1
    # The provider reports Anna's unsubscribe later: it counts once, as the provider's.
    post(client, signer, runtime, [sg_event("unsubscribe", anna, 3, "a-u3")])
    counts = assert_exact(runtime)
    assert (COURSE, 3, "site_unsubscribes") not in counts
    assert counts[(COURSE, 3, "subscribers.unsubscribe")] == 1

    # Forget keeps the anonymous rows, so every count stays.
    before = counts
    with runtime.session() as session:
        subscriber = session.get(Subscriber, bert.subscriber_id)
        forget_subscriber(
            session, subscriber, runtime.now(), runtime.mail, keys=runtime.settings.secret_keys
        )
    assert assert_exact(runtime) == before

    with runtime.session() as session:
        numbers = funnel(session, runtime.courses, COURSE)
        signups = session.scalar(select(text("COUNT(*)")).select_from(Subscriber))
    assert (numbers.signups, numbers.confirmed) == (signups, 3)
    day1 = numbers.lessons[0]
    assert (day1.sent, day1.delivered, day1.human_opened, day1.clicked) == (4, 1, 1, 1)
    assert (day1.bounces, day1.complaints) == (1, 1)
    assert [lesson.unsubscribes for lesson in numbers.lessons[:3]] == [0, 1, 1]


def test_rebuild_restores_counts_from_the_raw_tables(runtime: Runtime) -> None:
    made = make_subscriber(runtime, "eef@example.com", sent_days=2)
    expected = assert_exact(runtime)
    with runtime.session() as session:
        session.execute(text("DELETE FROM rollups"))
    assert kept(runtime) == {}
    with runtime.session() as session:
        rollups.rebuild(session)
    assert assert_exact(runtime) == expected
    assert expected[(COURSE, 2, "lesson.sent")] == 1
    assert expected[(COURSE, 0, "signups")] == 1
    assert made.subscriber_id
