"""The dashboard's rollups equal a recount from the raw tables, whatever happened to them.

Sends, retries, webhook events (through the real signed endpoint and ingest), replays of a
batch, pixel-style opens, a site unsubscribe, a provider unsubscribe, a rolled-back change
and a forget: after each step the triggers' counts (folded or not) match a recount. So do the
call to action's (clicks turned machine, removed, their subscriber gone) and the ratings'.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session
from tracking_support import COURSE, T0, SendGridSigner, body_of, make_subscriber, sg_event

from runtime import Runtime
from store.models import Delivery, DeliveryState, EmailEvent, LessonRating, Subscriber
from subscribers.lifecycle import stop_all_mail
from subscribers.privacy import forget_subscriber
from tracking import rollups
from tracking.clicks import CTA
from tracking.cta import cta_numbers
from tracking.feedback_stats import lesson_feedback
from tracking.ingest import ingest_pending
from tracking.record import NewEvent, store_events
from tracking.stats import funnel

pytestmark = pytest.mark.usefixtures("fresh_spool", "signer")


def kept(runtime: Runtime) -> dict[tuple[str, int, str], int]:
    """Return every count the rollups hold, deltas included."""
    with runtime.session() as session:
        metrics = set(session.scalars(text("SELECT DISTINCT metric FROM rollups")))
        metrics |= set(session.scalars(text("SELECT DISTINCT metric FROM rollup_deltas")))
        return rollups.read(session, metrics) if metrics else {}


def assert_exact(runtime: Runtime) -> dict[tuple[str, int, str], int]:
    """Check the rollups against a recount, before and after folding; return the counts."""
    with runtime.session() as session:
        expected = rollups.recount(session)
    assert kept(runtime) == expected
    rollups.fold_rollups(runtime)
    assert kept(runtime) == expected
    with runtime.session() as session:
        assert session.scalar(text("SELECT COUNT(*) FROM rollup_deltas")) == 0
    return expected


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
        forget_subscriber(session, subscriber, runtime.now(), runtime.mail)
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


def cta_click(who, day: int, key: str, at_hours: float, *, machine: bool = False) -> NewEvent:
    """Return a click on the call to action of WHO's lesson DAY, AT_HOURS after T0."""
    return NewEvent(
        "click",
        CTA,
        key,
        T0 + timedelta(hours=at_hours),
        who.delivery_ids[day],
        who.subscriber_id,
        COURSE,
        day,
        machine=machine,
        url="https://umoya.example/afspraak",
    )


def actions_by_day(runtime: Runtime) -> tuple[dict[int, tuple[int, int, int, int]], int]:
    """Return {day: (human clicks, machine clicks, readers, first clicks)} and all readers."""
    with runtime.session() as session:
        actions = cta_numbers(session, COURSE, [1, 2, 3])
    return {
        lesson.day: (
            lesson.human_clicks,
            lesson.machine_clicks,
            lesson.readers,
            lesson.first_clicks,
        )
        for lesson in actions.lessons
    }, actions.readers


def test_cta_and_rating_rollups_equal_a_recount_after_flips_deletes_and_a_forget(
    runtime: Runtime,
) -> None:
    anna = make_subscriber(runtime, "anna@example.com", sent_days=3)
    bert = make_subscriber(runtime, "bert@example.com", sent_days=3)
    carl = make_subscriber(runtime, "carl@example.com", sent_days=3)
    # Bert clicks lesson 3 before lesson 1: his first click is in lesson 3, whatever the day.
    clicks = [
        cta_click(anna, 2, "a2", 30),
        cta_click(anna, 3, "a3", 50),
        cta_click(anna, 3, "a3b", 51),
        cta_click(bert, 3, "b3", 49),
        cta_click(bert, 1, "b1", 60),
        cta_click(carl, 1, "c1", 2),
        cta_click(carl, 2, "c2-scan", 26, machine=True),
        NewEvent("click", "link", "c2-link", T0, carl.delivery_ids[2], carl.subscriber_id),
    ]
    for _replay in range(2):  # stored twice: the replay adds nothing
        with runtime.session() as session:
            store_events(session, clicks, runtime.now())
        assert_exact(runtime)
    assert actions_by_day(runtime) == (
        {1: (2, 0, 2, 1), 2: (1, 1, 1, 1), 3: (3, 0, 2, 1)},
        3,
    )

    # A scan pattern found later turns Anna's lesson-2 click machine (as tracking.clicks
    # does): her first click moves to lesson 3.
    with runtime.session() as session:
        session.execute(update(EmailEvent).where(EmailEvent.event_key == "a2").values(machine=True))
    assert_exact(runtime)
    assert actions_by_day(runtime) == (
        {1: (2, 0, 2, 1), 2: (0, 2, 0, 0), 3: (3, 0, 2, 2)},
        3,
    )

    # Ratings: answered, changed, taken back (a scanner's), and one rolled back.
    with runtime.session() as session:
        for who, day, useful in ((anna, 1, True), (bert, 1, False), (carl, 1, True)):
            session.add(
                LessonRating(
                    subscriber_id=who.subscriber_id,
                    delivery_id=who.delivery_ids[day],
                    course_slug=COURSE,
                    day=day,
                    useful=useful,
                    comment="Nuttig" if who is anna else None,
                    rated_at=T0,
                    commented_at=T0 if who is anna else None,
                )
            )
    with runtime.session() as session:
        session.execute(
            update(LessonRating)
            .where(LessonRating.subscriber_id == bert.subscriber_id)
            .values(useful=True)
        )
        session.execute(
            delete(LessonRating).where(LessonRating.subscriber_id == carl.subscriber_id)
        )
    with pytest.raises(RuntimeError), runtime.session() as session:
        session.execute(update(LessonRating).values(useful=False))
        raise RuntimeError("rolled back")
    assert_exact(runtime)
    with runtime.session() as session:
        feedback = lesson_feedback(session, COURSE, [1, 2, 3])
    assert (feedback.lessons[0].ratings, feedback.lessons[0].useful) == (2, 2)
    assert [comment.text for comment in feedback.comments] == ["Nuttig"]

    # Forget keeps the anonymous clicks and ratings: nothing moves.
    before = actions_by_day(runtime)
    with runtime.session() as session:
        subscriber = session.get(Subscriber, bert.subscriber_id)
        forget_subscriber(session, subscriber, runtime.now(), runtime.mail)
    assert_exact(runtime)
    assert actions_by_day(runtime) == before

    # A subscriber row deleted (the foreign key sets NULL) and a click removed: Bert is no
    # reader any more but his clicks still count; Carl loses his only human click.
    with runtime.session() as session:
        session.execute(
            update(EmailEvent)
            .where(EmailEvent.subscriber_id == bert.subscriber_id)
            .values(subscriber_id=None)
        )
        session.execute(delete(EmailEvent).where(EmailEvent.event_key == "c1"))
    assert_exact(runtime)
    assert actions_by_day(runtime) == (
        {1: (1, 0, 0, 0), 2: (0, 2, 0, 0), 3: (3, 0, 1, 1)},
        1,
    )
    # And a rebuild from the raw tables finds the same.
    counts = assert_exact(runtime)
    with runtime.session() as session:
        rollups.rebuild(session)
    assert assert_exact(runtime) == counts


def test_cta_clicks_of_one_reader_stored_at_once_take_turns(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    anna = make_subscriber(runtime, "anna@example.com", sent_days=2)
    stored = threading.Event()

    def other_drain() -> None:
        with runtime.session() as session:
            store_events(session, [cta_click(anna, 1, "earlier", 3)], runtime.now())
        stored.set()

    with Session(runtime.engine) as session:
        store_events(session, [cta_click(anna, 2, "later", 30)], runtime.now())
        session.flush()
        thread = threading.Thread(target=other_drain)
        thread.start()
        # The other drain waits for Anna's row lock, then sees this click when it recounts.
        assert not stored.wait(1.0)
        session.commit()
    thread.join(10)
    assert stored.is_set()
    assert_exact(runtime)
    assert actions_by_day(runtime) == ({1: (1, 0, 1, 1), 2: (1, 0, 1, 0), 3: (0, 0, 0, 0)}, 1)
