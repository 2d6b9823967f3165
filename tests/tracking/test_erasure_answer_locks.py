"""PostgreSQL: a rating, booking, preference change, confirm or set-aside beside a `forget`.

Each one arrives while a forget is under way: all its erasing done, not yet committed
(erasure_locks_support). It waits for the erase (the shared erasure lock; a confirm, the
subscriber's row lock), then finds the person forgotten and stores nothing tied to them: a
batch set aside keeps none of their events, a confirm link confirms nobody. And a batch
being set aside when a forget starts is finished first, then erased, without bringing back
anyone's address. SQLite runs one writer at a time; the orderings are in
test_erased_late_answers.py and tests/subscribers/test_erased_late_changes.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from erasure_locks_support import (
    Running,
    counter_held,
    during_forget,
    finished,
    start_forget,
    wait_for_locks,
)
from erasure_support import (
    BYSTANDER,
    ERASED,
    Pair,
    annas_events,
    berts_open,
    erasures_logged,
    kept_bodies,
    make_pair,
    store_batch,
    tagged_with,
)
from feedback_support import BROWSER_UA, lesson_links
from sqlalchemy import func, select
from subscribers_support import (
    confirm_path,
    consent_events,
    counter_value,
    id_of,
    latest_confirmation,
    mark_sent,
    signup_form,
)
from tracking_support import T0, SendGridSigner

from runtime import Runtime
from store.clock import FrozenClock
from store.models import Conversion, Enrollment, LessonRating, PreferenceEvent, WebhookBatch
from subscribers import counters
from subscribers.validation import TIMEZONE_FIELD
from tracking.batch_failures import SET_ASIDE_COUNTER, set_aside
from web.feedback import MESSAGES
from web.preferences import ERASED as PREFERENCES_ERASED

pytestmark = [
    pytest.mark.usefixtures("signer", "fresh_spool"),
    pytest.mark.parametrize(
        "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
    ),
]

COMMENT = "Sinds mijn hernia (Anna, 47) helpt alleen oefening 3."


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_rating_posted_while_forget_is_under_way_waits_and_stores_nothing_of_hers(
    app: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    pair = make_pair(runtime)
    links = lesson_links(runtime, pair.anna.subscriber_id, pair.anna.delivery_ids[1], 1)
    clock.set(T0 + timedelta(days=1, hours=2))  # hours after lesson 1 went out

    def rate(_: Runtime) -> Any:
        headers = {"User-Agent": BROWSER_UA}
        return app.test_client().post(links.nee, data={"opmerking": COMMENT}, headers=headers)

    answer = during_forget(runtime, rate)
    assert answer.status_code == 410
    assert MESSAGES["erased"] in answer.get_data(as_text=True)
    assert count(runtime, LessonRating) == 0
    assert erasures_logged(runtime) == (1, 1)


def test_a_booking_reported_while_forget_is_under_way_waits_and_is_refused(
    app: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    token = runtime.tokens.make_conversion(pair.anna.delivery_ids[1])

    def book(_: Runtime) -> Any:
        return app.test_client().post("/api/conversions", json={"token": token})

    answer = during_forget(runtime, book)
    assert answer.status_code == 400
    assert answer.get_json() == {"errors": {"token": MESSAGES["bad_token"]}}
    assert count(runtime, Conversion) == 0


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("uitschrijven", {"reden": "past-niet", "toelichting": COMMENT}),
        ("tijdstip", {"moment": "noon", TIMEZONE_FIELD: "Europe/Amsterdam"}),
    ],
)
def test_a_preference_change_while_forget_is_under_way_waits_and_changes_nothing(
    app: Any, runtime: Runtime, action: str, form: dict[str, str]
) -> None:
    pair = make_pair(runtime)
    anna = pair.anna.subscriber_id
    path = f"/voorkeuren/{runtime.tokens.make_preferences(anna)}/{action}"

    def change(_: Runtime) -> Any:
        return app.test_client().post(path, data=form)

    answer = during_forget(runtime, change)
    assert answer.status_code == 410
    assert PREFERENCES_ERASED in answer.get_data(as_text=True)
    assert count(runtime, PreferenceEvent, PreferenceEvent.subscriber_id == anna) == 0
    assert [event.kind for event in consent_events(runtime, anna)] == []
    assert counter_value(runtime, counters.UNSUBSCRIBES) == 0


def test_a_confirm_posted_while_forget_is_under_way_confirms_nobody(
    app: Any, client: Any, runtime: Runtime
) -> None:
    assert client.post("/subscribe", data=signup_form(email=ERASED)).status_code == 200
    anna = id_of(runtime, ERASED)
    mark_sent(runtime, latest_confirmation(runtime, anna).id)
    link = confirm_path(runtime, anna)

    answer = during_forget(runtime, lambda _: app.test_client().post(link))
    assert answer.status_code == 400
    assert "Deze link werkt niet" in answer.get_data(as_text=True)
    assert [event.kind for event in consent_events(runtime, anna)] == ["signup"]
    assert count(runtime, Enrollment) == 0
    assert counter_value(runtime, counters.CONFIRMATIONS) == 0


def _pending_batch(runtime: Runtime, client: Any, signer: SendGridSigner) -> tuple[Pair, int]:
    """Store a batch of Anna's and Bert's events, not yet ingested; return it."""
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])
    with runtime.session() as session:
        return pair, int(session.scalar(select(func.max(WebhookBatch.id))) or 0)


def _nothing_personal_kept(runtime: Runtime) -> None:
    """Check the batch is set aside, once, and keeps no one's address, agent or link."""
    with runtime.session() as session:
        assert session.scalar(select(WebhookBatch.processed_at)) is not None
    kept = kept_bodies(runtime)
    for personal in (ERASED, BYSTANDER, "anna's phone", "bert's laptop", "voor=anna"):
        assert personal not in kept, personal
    assert counter_value(runtime, SET_ASIDE_COUNTER) == 1


def test_a_batch_set_aside_while_forget_is_under_way_keeps_none_of_her_events(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair, batch_id = _pending_batch(runtime, client, signer)
    assert during_forget(runtime, lambda rt: set_aside(rt, batch_id)) is True
    assert tagged_with(runtime, pair.anna) == []
    _nothing_personal_kept(runtime)


def test_forget_waits_for_a_batch_being_set_aside_then_erases_her_events_from_it(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair, batch_id = _pending_batch(runtime, client, signer)
    with counter_held(runtime, SET_ASIDE_COUNTER) as release:
        setting_aside = Running(lambda rt: set_aside(rt, batch_id), runtime)
        assert wait_for_locks(runtime, 1)  # stopped at its count, the body written
        erasing = start_forget()
        assert wait_for_locks(runtime, 2)
        release()
        assert setting_aside.join() is True
        assert finished(erasing)[0] == 0
    assert tagged_with(runtime, pair.anna) == []
    _nothing_personal_kept(runtime)
