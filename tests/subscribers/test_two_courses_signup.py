"""A known address signing up for a second course: its own double opt-in, nobody's record.

Anonymous requests never change a person: a confirmed reader of one course who is signed
up for another gets a confirmation for that course (its consent text is its own), and the
name typed waits for it. Every kind of address gets the same answer and runs the same SQL.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event
from subscribers_support import (
    confirmations_of,
    consent_events,
    mark_sent,
    signup_form,
    subscriber_by_email,
)
from two_courses_support import FIRST, SECOND, SECOND_TITLE, enrollments_by_course, make_two_courses

from config import Settings, load_settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import DeliveryState
from web import create_app

READER = "lezer@example.com"


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path, monkeypatch) -> Settings:
    """This test's settings, with two course folders side by side."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


def _client(runtime: Runtime) -> Any:
    return create_app(runtime=runtime, RATELIMIT_ENABLED=False).test_client()


def _confirm_latest(client: Any, runtime: Runtime, course: str) -> str:
    """Send (as a worker would) and confirm the newest confirmation of COURSE; return the page."""
    [confirmation] = [
        c
        for c in confirmations_of(runtime)
        if c.course_slug == course and c.state == DeliveryState.QUEUED
    ]
    mark_sent(runtime, confirmation.id)
    path = f"/confirm/{runtime.tokens.make_confirm(confirmation.id)}"
    page: str = client.post(path).get_data(as_text=True)
    return page


def test_a_confirmed_reader_joins_a_second_course_through_its_own_opt_in(
    runtime: Runtime, clock: FrozenClock
) -> None:
    client = _client(runtime)
    client.post("/subscribe", data=signup_form(email=READER, name="Anna", course=FIRST))
    assert "Je aanmelding is bevestigd" in _confirm_latest(client, runtime, FIRST)
    first = subscriber_by_email(runtime, READER)
    assert first is not None and first.first_name == "Anna"
    clock.advance(minutes=1)  # well within the 10 minutes between two mails of one course

    answers = {
        client.post("/subscribe", data=signup_form(email=READER, name="Mallory", course=slug))
        .get_data(as_text=True)
        .replace(SECOND_TITLE, "Rugpijn en training")  # the page names the course it is for
        for slug in (FIRST, SECOND)
    }
    assert len(answers) == 1  # the same answer for "already in it" and "welcome to this one"
    first_again, second = confirmations_of(runtime)[1:]
    assert (first_again.course_slug, first_again.state) == (FIRST, DeliveryState.SKIPPED)
    assert first_again.last_error == "not sent: already in this course"
    assert (second.course_slug, second.state) == (SECOND, DeliveryState.QUEUED)
    # Nothing about the person changed: the name typed waits for the confirmation.
    unchanged = subscriber_by_email(runtime, READER)
    assert unchanged is not None
    assert (unchanged.first_name, unchanged.status) == ("Anna", first.status)
    assert enrollments_by_course(runtime, first.id) == {FIRST: ["active"]}

    # The confirm page and its answer name the second course.
    mark_sent(runtime, second.id)
    path = f"/confirm/{runtime.tokens.make_confirm(second.id)}"
    assert f"e-mailcursus {SECOND_TITLE} wilt ontvangen" in client.get(path).get_data(as_text=True)
    answer = client.post(path).get_data(as_text=True)
    assert (
        "Je aanmelding is bevestigd" in answer
        and f"<title>Aanmelding bevestigd – {SECOND_TITLE}" in answer
    )
    reader = subscriber_by_email(runtime, READER)
    assert reader is not None
    # One person: the first consent's fields stay; the history records each course's.
    assert (reader.confirmed_at, reader.course_slug) == (first.confirmed_at, FIRST)
    assert reader.first_name == "Mallory"  # the mailbox owner confirmed what was typed
    assert enrollments_by_course(runtime, reader.id) == {FIRST: ["active"], SECOND: ["active"]}
    history = [(e.kind, e.course_slug) for e in consent_events(runtime, reader.id)]
    assert history == [
        ("signup", FIRST),
        ("confirmation", FIRST),
        ("signup", FIRST),
        ("signup", SECOND),
        ("confirmation", SECOND),
    ]
    # The first course's link still says "already", and a third signup mails nobody.
    assert "al bevestigd" in client.post(path).get_data(as_text=True)
    clock.advance(minutes=11)
    client.post("/subscribe", data=signup_form(email=READER, course=SECOND))
    assert confirmations_of(runtime)[-1].state == DeliveryState.SKIPPED


def _statements(runtime: Runtime, client: Any, form: dict[str, str]) -> list[str]:
    """Return the SQL a signup of FORM runs (bound values and SET values left out).

    The one UPDATE sets a value or keeps it (subscribers.signup): the same statement.
    """
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(re.sub(r" SET .*? WHERE ", " SET ... WHERE ", re.sub(r"\s+", " ", statement)))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        assert client.post("/subscribe", data=form).status_code == 200
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    return seen


def test_new_and_known_addresses_do_the_same_work_for_a_second_course(
    runtime: Runtime, clock: FrozenClock
) -> None:
    client = _client(runtime)
    for address in ("in-first@example.com", "in-both@example.com"):
        client.post("/subscribe", data=signup_form(email=address, course=FIRST))
        _confirm_latest(client, runtime, FIRST)
    client.post("/subscribe", data=signup_form(email="in-both@example.com", course=SECOND))
    _confirm_latest(client, runtime, SECOND)
    clock.advance(minutes=11)
    work = {
        address: _statements(runtime, client, signup_form(email=address, course=SECOND))
        for address in ("nieuw@example.com", "in-first@example.com", "in-both@example.com")
    }
    assert len(work["nieuw@example.com"]) > 5  # the insert, the look-ups, the rows written
    assert work["nieuw@example.com"] == work["in-first@example.com"] == work["in-both@example.com"]
    states = [c.state for c in confirmations_of(runtime)[-3:]]
    assert states == [DeliveryState.QUEUED, DeliveryState.QUEUED, DeliveryState.SKIPPED]


def test_the_preferences_page_is_about_the_newest_course_and_restarts_only_that(
    runtime: Runtime, clock: FrozenClock
) -> None:
    client = _client(runtime)
    client.post("/subscribe", data=signup_form(email=READER, course=FIRST))
    _confirm_latest(client, runtime, FIRST)
    client.post("/subscribe", data=signup_form(email=READER, course=SECOND))
    _confirm_latest(client, runtime, SECOND)
    reader = subscriber_by_email(runtime, READER)
    assert reader is not None
    path = f"/voorkeuren/{runtime.tokens.make_preferences(reader.id)}"
    page = client.get(path).get_data(as_text=True)
    assert f"Voor de e-mailcursus {SECOND_TITLE}" in page
    clock.advance(minutes=1)
    assert client.post(f"{path}/opnieuw").status_code == 303
    assert enrollments_by_course(runtime, reader.id) == {
        FIRST: ["active"],
        SECOND: ["cancelled", "active"],
    }


def test_a_new_address_signed_up_for_both_confirms_each_in_any_order(
    runtime: Runtime, clock: FrozenClock
) -> None:
    client = _client(runtime)
    client.post("/subscribe", data=signup_form(email=READER, course=FIRST))
    client.post("/subscribe", data=signup_form(email=READER, course=SECOND))
    first, second = confirmations_of(runtime)
    assert (first.state, second.state) == (DeliveryState.QUEUED, DeliveryState.QUEUED)
    for confirmation in (first, second):
        mark_sent(runtime, confirmation.id)
    # A later mail of another course does not outdate this one: each course has its own link.
    second_link = f"/confirm/{runtime.tokens.make_confirm(second.id)}"
    first_link = f"/confirm/{runtime.tokens.make_confirm(first.id)}"
    assert "Je aanmelding is bevestigd" in client.post(second_link).get_data(as_text=True)
    assert "Je aanmelding is bevestigd" in client.post(first_link).get_data(as_text=True)
    reader = subscriber_by_email(runtime, READER)
    assert reader is not None and reader.course_slug == FIRST
    assert enrollments_by_course(runtime, reader.id) == {SECOND: ["active"], FIRST: ["active"]}
    assert "al bevestigd" in client.post(first_link).get_data(as_text=True)
