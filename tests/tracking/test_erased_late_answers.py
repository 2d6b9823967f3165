"""A booking or a rating that arrives for a person after `forget` links nothing to them.

Played as an ordering on SQLite and PostgreSQL (test_erasure_answer_locks.py plays the
overlap on PostgreSQL): Anna is erased, then the booking page reports a booking from her old
lesson, and she opens and answers "Was deze les nuttig?". The booking is answered as for a
reference that is not ours, so the booking site learns nothing about her; the rating page
says in Dutch that her data was erased, and stores nothing. Bert's go on as ever.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from erasure_support import ERASED, forget, make_pair
from feedback_support import BROWSER_UA, lesson_links, visit
from sqlalchemy import select
from tracking_support import T0

from runtime import Runtime
from store.clock import FrozenClock
from store.models import Conversion, LessonRating
from web.feedback import MESSAGES

pytestmark = pytest.mark.usefixtures("fresh_spool")

BAD_TOKEN = {"errors": {"token": "De boekingscode ontbreekt of klopt niet."}}
COMMENT = "Mijn rug (Anna, 47) doet nog steeds pijn na de bevalling."


def bookings(runtime: Runtime) -> list[tuple[int | None, int | None, int]]:
    """Return (subscriber, delivery, day) of every booking, by id."""
    with runtime.session() as session:
        rows = session.execute(
            select(Conversion.subscriber_id, Conversion.delivery_id, Conversion.day).order_by(
                Conversion.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def ratings(runtime: Runtime) -> list[tuple[int | None, int | None, bool, str | None]]:
    """Return (subscriber, delivery, useful, comment) of every rating, by id."""
    with runtime.session() as session:
        rows = session.scalars(select(LessonRating).order_by(LessonRating.id))
        return [(r.subscriber_id, r.delivery_id, r.useful, r.comment) for r in rows]


def test_a_booking_reported_after_forget_is_answered_as_an_unknown_reference(
    client: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    annas = runtime.tokens.make_conversion(pair.anna.delivery_ids[1])
    berts = runtime.tokens.make_conversion(pair.bert.delivery_ids[1])
    assert forget(runtime).exit_code == 0

    late = client.post("/api/conversions", json={"token": annas})
    not_ours = client.post("/api/conversions", json={"token": annas + "x"})
    # The same answer as for a reference that is not ours: the booking site learns nothing.
    assert (late.status_code, late.get_json()) == (400, BAD_TOKEN)
    assert (not_ours.status_code, not_ours.get_json()) == (400, BAD_TOKEN)
    again = client.post("/api/conversions", data={"token": annas})
    assert (again.status_code, again.get_json()) == (400, BAD_TOKEN)
    assert bookings(runtime) == []
    # Bert's booking counts as ever.
    assert client.post("/api/conversions", json={"token": berts}).status_code == 201
    assert bookings(runtime) == [(pair.bert.subscriber_id, pair.bert.delivery_ids[1], 1)]


def test_a_booking_counted_before_forget_stays_counted_and_anonymous(
    client: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    annas = runtime.tokens.make_conversion(pair.anna.delivery_ids[1])
    assert client.post("/api/conversions", json={"token": annas}).status_code == 201
    assert forget(runtime).exit_code == 0
    # A reload of her booking page after the erase: refused, and nothing changes.
    late = client.post("/api/conversions", json={"token": annas})
    assert (late.status_code, late.get_json()) == (400, BAD_TOKEN)
    assert bookings(runtime) == [(pair.anna.subscriber_id, pair.anna.delivery_ids[1], 1)]


def test_the_rating_page_of_an_erased_reader_says_so_in_dutch_and_stores_nothing(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    pair = make_pair(runtime)
    annas = lesson_links(runtime, pair.anna.subscriber_id, pair.anna.delivery_ids[1], 1)
    berts = lesson_links(runtime, pair.bert.subscriber_id, pair.bert.delivery_ids[1], 1)
    clock.set(T0 + timedelta(days=1, hours=2))  # hours after lesson 1 went out
    headers = {"User-Agent": BROWSER_UA}
    # Before the erase she answered, with a comment: the erase keeps only the "ja".
    assert client.post(annas.ja, data={"opmerking": COMMENT}, headers=headers).status_code == 200
    assert forget(runtime, ERASED).exit_code == 0
    assert ratings(runtime) == [(None, None, True, None)]
    clock.advance(minutes=5)

    page = visit(client, annas.nee, BROWSER_UA)
    html = page.get_data(as_text=True)
    assert page.status_code == 410
    assert MESSAGES["erased"] in html and "gewist" in MESSAGES["erased"]
    assert "data-auto-post" not in html and 'name="opmerking"' not in html  # nothing to post
    posted = client.post(annas.nee, data={"opmerking": COMMENT}, headers=headers)
    assert posted.status_code == 410
    assert MESSAGES["erased"] in posted.get_data(as_text=True)
    scripted = client.post(annas.ja, headers={**headers, "Accept": "application/json"})
    assert (scripted.status_code, scripted.get_json()) == (
        410,
        {"errors": {"link": MESSAGES["erased"]}},
    )
    assert ratings(runtime) == [(None, None, True, None)]

    # Bert, whose mail went out at the same time, rates as ever.
    rated = client.post(berts.ja, data={"opmerking": "Duidelijk!"}, headers=headers)
    assert rated.status_code == 200
    assert ratings(runtime)[1:] == [
        (pair.bert.subscriber_id, pair.bert.delivery_ids[1], True, "Duidelijk!")
    ]
