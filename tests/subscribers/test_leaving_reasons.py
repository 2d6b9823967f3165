"""Leaving from the preferences page: the reason and comment are a consent and a preference
event, the dashboard shows the reasons per lesson, and `forget` erases the comment."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from lessons import enroll
from preferences_support import (
    START,
    enrollments_of,
    events_of,
    preferences_url,
    send_due_lessons,
    subscriber_of,
)
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from subscribers_support import consent_events

from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    EnrollmentStatus,
    PreferenceEvent,
    Subscriber,
    SubscriberStatus,
)
from subscribers.privacy import export_subscriber


def test_unsubscribe_with_a_reason_is_a_consent_and_a_preference_event(
    client: Any, runtime: Runtime, reader: int
) -> None:
    send_due_lessons(runtime)  # day 1 went out: the reason counts against day 1
    form = {"reden": "te-veel", "toelichting": "  Te vaak\nvoor mij.  "}
    response = client.post(preferences_url(runtime, reader, "uitschrijven"), data=form)
    assert response.status_code == 200
    assert "Je bent afgemeld" in response.get_data(as_text=True)
    assert subscriber_of(runtime, reader).status == SubscriberStatus.UNSUBSCRIBED
    assert [(e.kind, e.source) for e in consent_events(runtime, reader)] == [
        ("unsubscribe", "page")
    ]
    with runtime.session() as session:
        [event] = session.scalars(
            select(PreferenceEvent).where(PreferenceEvent.subscriber_id == reader)
        )
        assert (event.kind, event.day, event.value, event.comment) == (
            "unsubscribe_reason",
            1,
            "te-veel",
            "Te vaak voor mij.",
        )
    # Afterwards the page offers nothing but a new signup; the actions change nothing.
    page = client.get(preferences_url(runtime, reader)).get_data(as_text=True)
    assert "Je ontvangt geen e-mails van deze cursus" in page and "Meld mij af" not in page
    for action in ("pauze", "opnieuw", "hervatten"):
        assert (
            client.post(preferences_url(runtime, reader, action))
            .headers["Location"]
            .endswith("gedaan=niets#melding")
        )
    assert enrollments_of(runtime, reader)[-1].status == EnrollmentStatus.CANCELLED


def test_an_unknown_reason_is_refused_and_no_reason_is_fine(
    client: Any, runtime: Runtime, reader: int
) -> None:
    response = client.post(preferences_url(runtime, reader, "uitschrijven"), data={"reden": "spam"})
    assert response.status_code == 400
    assert "Kies een reden uit de lijst, of geen." in response.get_data(as_text=True)
    assert subscriber_of(runtime, reader).status == SubscriberStatus.CONFIRMED
    assert client.post(preferences_url(runtime, reader, "uitschrijven")).status_code == 200
    assert subscriber_of(runtime, reader).status == SubscriberStatus.UNSUBSCRIBED
    assert events_of(runtime, reader) == []  # no reason given: only the consent event


def test_the_dashboard_shows_the_reasons_per_lesson(
    client: Any, runtime: Runtime, clock: FrozenClock, settings: Any
) -> None:
    clock.set(START)
    ids = enroll(runtime, 4, START)
    send_due_lessons(runtime)  # day 1 for all four
    leave = [
        (ids[0], {"reden": "te-veel"}),
        (ids[1], {"reden": "te-veel", "toelichting": "Eén per week is genoeg <b>echt</b>"}),
        (ids[2], {"toelichting": "Alleen een opmerking"}),
    ]
    for subscriber_id, form in leave:
        assert (
            client.post(
                preferences_url(runtime, subscriber_id, "uitschrijven"), data=form
            ).status_code
            == 200
        )
    auth = {"Authorization": "Basic " + base64.b64encode(b"admin:test-admin-password").decode()}
    page = client.get("/admin/", headers=auth).get_data(as_text=True)
    assert "Redenen om af te melden" in page
    row = page[page.index('id="reasons-day-1"') :].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    # te-veel, past-niet, geholpen, niet-aangemeld, anders, none chosen, total
    assert cells == ["2", "0", "0", "0", "0", "1", "3"]
    assert "Eén per week is genoeg &lt;b&gt;echt&lt;/b&gt;" in page  # escaped, never markup
    assert "Alleen een opmerking" in page


def test_forget_erases_the_comment_keeps_the_reason_and_the_history_is_append_only(
    client: Any, runtime: Runtime, reader: int, runner: Any, settings: Any
) -> None:
    send_due_lessons(runtime)
    form = {"reden": "past-niet", "toelichting": "Mijn naam is Anna, bel me op 0612345678"}
    client.post(preferences_url(runtime, reader, "uitschrijven"), data=form)
    with runtime.session() as session:
        subscriber = session.get(Subscriber, reader)
        assert subscriber is not None
        exported = export_subscriber(session, subscriber)
    assert [e["comment"] for e in exported["preference_events"]] == [form["toelichting"]]
    result = runner("subscribers", "forget", "lezer0@example.org", "--yes")
    assert result.exit_code == 0, result.output
    with runtime.session() as session:
        [event] = session.scalars(select(PreferenceEvent))
        assert (event.kind, event.day, event.value, event.comment) == (
            "unsubscribe_reason",
            1,
            "past-niet",
            None,
        )
    if settings.is_sqlite:
        return
    # On PostgreSQL a trigger refuses any other change, whatever the code does.
    for statement in (
        update(PreferenceEvent).values(value="te-veel"),
        update(PreferenceEvent).values(comment="nieuw"),
        delete(PreferenceEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"), runtime.session() as session:
            session.execute(statement)
