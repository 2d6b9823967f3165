"""The preferences page behind every lesson's footer link: a GET changes nothing; each POST
pauses (a week, or until resumed), resumes, sets the hour and zone, restarts from day 1 or
unsubscribes with a reason, and each is appended to the preference (and consent) history."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lessons import deliveries_of, dispatch_pass, enroll
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from subscribers_support import consent_events

from delivery.sender import Sender
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Enrollment,
    EnrollmentStatus,
    PreferenceEvent,
    Subscriber,
    SubscriberStatus,
)
from subscribers.privacy import export_subscriber

# Monday 2 March 2026, 09:00 in Amsterdam: day 1 is due now.
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def reader(runtime: Runtime, clock: FrozenClock) -> int:
    """A confirmed reader whose day 1 is due now."""
    clock.set(START)
    [subscriber_id] = enroll(runtime, 1, START)
    return subscriber_id


def _url(runtime: Runtime, subscriber_id: int, action: str = "") -> str:
    token = runtime.tokens.make_preferences(subscriber_id)
    return f"/voorkeuren/{token}" + (f"/{action}" if action else "")


def _enrollments(runtime: Runtime, subscriber_id: int) -> list[Enrollment]:
    with runtime.session() as session:
        query = select(Enrollment).where(Enrollment.subscriber_id == subscriber_id)
        return list(session.scalars(query.order_by(Enrollment.id)))


def _events(runtime: Runtime, subscriber_id: int) -> list[tuple[str, str, str | None]]:
    with runtime.session() as session:
        query = select(PreferenceEvent).where(PreferenceEvent.subscriber_id == subscriber_id)
        return [
            (e.kind, e.source, e.value) for e in session.scalars(query.order_by(PreferenceEvent.id))
        ]


def _subscriber(runtime: Runtime, subscriber_id: int) -> Subscriber:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


def _send_due_lessons(runtime: Runtime) -> None:
    """Run a dispatcher pass and send what it queued, as a worker would."""
    queued: list[int] = []
    dispatch_pass(runtime, lambda batches: queued.extend(i for b in batches for i in b))
    for delivery_id in queued:
        assert Sender(runtime).deliver(delivery_id) == "sent"


def test_a_get_shows_the_page_and_changes_nothing(
    client: Any, runtime: Runtime, reader: int
) -> None:
    before = _enrollments(runtime, reader)
    for _ in range(2):  # a mail scanner fetches, then the reader
        response = client.get(_url(runtime, reader))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1>Je voorkeuren</h1>" in page
        assert "Pauzeer een week" in page and "Meld mij af" in page
        assert response.headers["Cache-Control"] == "no-store"
    assert [(e.status, e.next_due_at) for e in _enrollments(runtime, reader)] == [
        (e.status, e.next_due_at) for e in before
    ]
    assert _events(runtime, reader) == []
    # A GET of an action address is no way in either.
    assert client.get(_url(runtime, reader, "pauze")).status_code == 405


def test_a_forged_or_borrowed_token_gets_a_dutch_page(
    client: Any, runtime: Runtime, reader: int
) -> None:
    unsubscribe_token = runtime.tokens.make_unsubscribe(reader)
    for path in (
        "/voorkeuren/niet-echt",
        f"/voorkeuren/{unsubscribe_token}",  # another purpose's token is refused
        f"/voorkeuren/{unsubscribe_token}/uitschrijven",
    ):
        response = client.post(path) if path.endswith("uitschrijven") else client.get(path)
        assert response.status_code == 400
        assert "Deze link werkt niet" in response.get_data(as_text=True)
    assert _subscriber(runtime, reader).status == SubscriberStatus.CONFIRMED


def test_pause_a_week_then_the_dispatcher_resumes_it(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    response = client.post(_url(runtime, reader, "pauze"), data={"duur": "week"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("?gedaan=pauze#melding")
    [enrollment] = _enrollments(runtime, reader)
    assert enrollment.status == EnrollmentStatus.PAUSED
    assert enrollment.paused_until == START + timedelta(days=7)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Je cursus staat op pauze." in page
    assert "op pauze tot maandag 9 maart om 09:00" in page
    clock.advance(days=6, hours=23)
    assert dispatch_pass(runtime, lambda batches: None).materialised == 0
    assert _enrollments(runtime, reader)[0].status == EnrollmentStatus.PAUSED
    clock.advance(hours=1)
    dispatch_pass(runtime, lambda batches: None)
    [enrollment] = _enrollments(runtime, reader)
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.paused_until is None
    # Day 1 is due at the next send time after the pause: Tuesday 07:30 in Amsterdam.
    assert enrollment.next_due_at == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert _events(runtime, reader) == [
        ("pause", "page", (START + timedelta(days=7)).isoformat()),
        ("resume", "dispatcher", "auto"),
    ]


def test_pause_until_resumed_and_resume(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    client.post(_url(runtime, reader, "pauze"), data={"duur": "onbepaald"})
    [enrollment] = _enrollments(runtime, reader)
    assert enrollment.status == EnrollmentStatus.PAUSED and enrollment.paused_until is None
    clock.advance(days=60)
    assert dispatch_pass(runtime, lambda batches: None).materialised == 0
    page = client.get(_url(runtime, reader)).get_data(as_text=True)
    assert "op pauze tot je hem hervat" in page and "Hervat nu" in page
    response = client.post(_url(runtime, reader, "hervatten"))
    assert response.headers["Location"].endswith("?gedaan=hervat#melding")
    assert _enrollments(runtime, reader)[0].status == EnrollmentStatus.ACTIVE
    # A second press (a double click) changes nothing and says so.
    again = client.post(_url(runtime, reader, "hervatten"))
    assert again.headers["Location"].endswith("?gedaan=niets#melding")
    assert [kind for kind, _, _ in _events(runtime, reader)] == ["pause", "resume"]


def test_choose_the_evening_in_new_york_and_lessons_follow(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    _send_due_lessons(runtime)  # day 1, now
    form = {"moment": "evening", "timezone": "America/New_York"}
    response = client.post(_url(runtime, reader, "tijdstip"), data=form)
    assert response.status_code == 303
    subscriber = _subscriber(runtime, reader)
    assert (subscriber.send_time, subscriber.timezone) == ("19:00", "America/New_York")
    # Day 2 moves to 19:00 New York time, the next calendar day there (Tuesday 3 March).
    [enrollment] = _enrollments(runtime, reader)
    due = enrollment.next_due_at.astimezone(NEW_YORK)
    assert (due.day, due.hour, due.minute) == (3, 19, 0)
    clock.set(enrollment.next_due_at)
    _send_due_lessons(runtime)
    [_, day2] = deliveries_of(runtime, reader)
    assert day2.sent_at.astimezone(NEW_YORK).hour == 19
    # Day 3 is due Wednesday 19:00; at Wednesday noon the reader picks 06:45. That moment has
    # passed for Wednesday, so day 3 comes Thursday 06:45, New York time.
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=NEW_YORK))
    form = {"moment": "exact", "exact": "06:45", "timezone": "America/New_York"}
    client.post(_url(runtime, reader, "tijdstip"), data=form)
    [enrollment] = _enrollments(runtime, reader)
    assert enrollment.next_due_at == datetime(2026, 3, 5, 6, 45, tzinfo=NEW_YORK)
    page = client.get(_url(runtime, reader)).get_data(as_text=True)
    assert "Dag 3 van 5 komt op donderdag 5 maart om 06:45." in page
    assert [(k, v) for k, _, v in _events(runtime, reader)] == [
        ("send_time", "19:00"),
        ("timezone", "America/New_York"),
        ("send_time", "06:45"),
    ]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"moment": "exact", "exact": "25:00", "timezone": "Europe/Amsterdam"},
            "Kies een tijd tussen 00:00 en 23:59",
        ),
        (
            {"moment": "exact", "exact": "", "timezone": "Europe/Amsterdam"},
            "Kies een tijd tussen 00:00 en 23:59",
        ),
        ({"moment": "nacht", "timezone": "Europe/Amsterdam"}, "Kies een moment van de dag."),
        ({"moment": "noon", "timezone": "Mars/Olympus"}, "Kies een tijdzone uit de lijst."),
        ({"moment": "noon"}, "Kies een tijdzone uit de lijst."),
    ],
)
def test_a_wrong_hour_or_zone_gets_a_dutch_message_and_changes_nothing(
    client: Any, runtime: Runtime, reader: int, form: dict[str, str], message: str
) -> None:
    response = client.post(_url(runtime, reader, "tijdstip"), data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page
    subscriber = _subscriber(runtime, reader)
    assert (subscriber.send_time, subscriber.timezone) == (None, None)
    assert _events(runtime, reader) == []


def test_restart_after_finishing_starts_again_at_day_1(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    with runtime.session() as session:
        enrollment = session.scalars(
            select(Enrollment).where(Enrollment.subscriber_id == reader)
        ).one()
        enrollment.status, enrollment.next_day, enrollment.next_due_at = (
            EnrollmentStatus.COMPLETED,
            6,
            None,
        )
    assert "Je hebt alle 5 lessen ontvangen." in client.get(_url(runtime, reader)).get_data(
        as_text=True
    )
    response = client.post(_url(runtime, reader, "opnieuw"))
    assert response.headers["Location"].endswith("?gedaan=opnieuw#melding")
    finished, again = _enrollments(runtime, reader)
    assert finished.status == EnrollmentStatus.COMPLETED  # its numbers stay as they were
    assert (again.status, again.next_day, again.next_due_at) == (EnrollmentStatus.ACTIVE, 1, START)
    _send_due_lessons(runtime)
    assert [d.day for d in deliveries_of(runtime, reader)] == [1]
    assert [kind for kind, _, _ in _events(runtime, reader)] == ["restart"]


def test_unsubscribe_with_a_reason_is_a_consent_and_a_preference_event(
    client: Any, runtime: Runtime, reader: int
) -> None:
    _send_due_lessons(runtime)  # day 1 went out: the reason counts against day 1
    form = {"reden": "te-veel", "toelichting": "  Te vaak\nvoor mij.  "}
    response = client.post(_url(runtime, reader, "uitschrijven"), data=form)
    assert response.status_code == 200
    assert "Je bent afgemeld" in response.get_data(as_text=True)
    assert _subscriber(runtime, reader).status == SubscriberStatus.UNSUBSCRIBED
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
    page = client.get(_url(runtime, reader)).get_data(as_text=True)
    assert "Je ontvangt geen e-mails van deze cursus" in page and "Meld mij af" not in page
    for action in ("pauze", "opnieuw", "hervatten"):
        assert (
            client.post(_url(runtime, reader, action))
            .headers["Location"]
            .endswith("gedaan=niets#melding")
        )
    assert _enrollments(runtime, reader)[-1].status == EnrollmentStatus.CANCELLED


def test_an_unknown_reason_is_refused_and_no_reason_is_fine(
    client: Any, runtime: Runtime, reader: int
) -> None:
    response = client.post(_url(runtime, reader, "uitschrijven"), data={"reden": "spam"})
    assert response.status_code == 400
    assert "Kies een reden uit de lijst, of geen." in response.get_data(as_text=True)
    assert _subscriber(runtime, reader).status == SubscriberStatus.CONFIRMED
    assert client.post(_url(runtime, reader, "uitschrijven")).status_code == 200
    assert _subscriber(runtime, reader).status == SubscriberStatus.UNSUBSCRIBED
    assert _events(runtime, reader) == []  # no reason given: only the consent event


def test_the_dashboard_shows_the_reasons_per_lesson(
    client: Any, runtime: Runtime, clock: FrozenClock, settings: Any
) -> None:
    clock.set(START)
    ids = enroll(runtime, 4, START)
    _send_due_lessons(runtime)  # day 1 for all four
    leave = [
        (ids[0], {"reden": "te-veel"}),
        (ids[1], {"reden": "te-veel", "toelichting": "Eén per week is genoeg <b>echt</b>"}),
        (ids[2], {"toelichting": "Alleen een opmerking"}),
    ]
    for subscriber_id, form in leave:
        assert (
            client.post(_url(runtime, subscriber_id, "uitschrijven"), data=form).status_code == 200
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
    _send_due_lessons(runtime)
    form = {"reden": "past-niet", "toelichting": "Mijn naam is Anna, bel me op 0612345678"}
    client.post(_url(runtime, reader, "uitschrijven"), data=form)
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
