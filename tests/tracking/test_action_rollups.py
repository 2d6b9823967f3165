"""The call to action's and the ratings' rollups equal a recount from the raw tables.

Call-to-action clicks stored (and replayed), turned machine as tracking.clicks does, removed,
and left without their subscriber; ratings answered, changed, taken back and rolled back; a
forget; a rebuild; and two drains storing one reader's clicks at once.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from rollups_support import assert_exact
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from tracking_support import COURSE, T0, make_subscriber

from runtime import Runtime
from store.models import EmailEvent, LessonRating, Subscriber
from subscribers.privacy import forget_subscriber
from tracking import rollups
from tracking.clicks import CTA
from tracking.cta import cta_numbers
from tracking.feedback_stats import lesson_feedback
from tracking.record import NewEvent, store_events

pytestmark = pytest.mark.usefixtures("fresh_spool")


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
        forget_subscriber(
            session, subscriber, runtime.now(), runtime.mail, keys=runtime.settings.secret_keys
        )
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
