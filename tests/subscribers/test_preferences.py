"""The preferences page behind every lesson's footer link: a GET changes nothing; each POST
pauses (a week, or until resumed), resumes, sets the hour and zone, restarts from day 1 or
unsubscribes with a reason, and each is appended to the preference (and consent) history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lessons import deliveries_of, dispatch_pass
from preferences_support import (
    NEW_YORK,
    START,
    enrollments_of,
    events_of,
    preferences_url,
    send_due_lessons,
    subscriber_of,
)
from sqlalchemy import select

from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Enrollment,
    EnrollmentStatus,
    SubscriberStatus,
)


def test_a_get_shows_the_page_and_changes_nothing(
    client: Any, runtime: Runtime, reader: int
) -> None:
    before = enrollments_of(runtime, reader)
    for _ in range(2):  # a mail scanner fetches, then the reader
        response = client.get(preferences_url(runtime, reader))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1>Je voorkeuren</h1>" in page
        assert "Pauzeer een week" in page and "Meld mij af" in page
        assert response.headers["Cache-Control"] == "no-store"
    assert [(e.status, e.next_due_at) for e in enrollments_of(runtime, reader)] == [
        (e.status, e.next_due_at) for e in before
    ]
    assert events_of(runtime, reader) == []
    # A GET of an action address is no way in either.
    assert client.get(preferences_url(runtime, reader, "pauze")).status_code == 405


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
    assert subscriber_of(runtime, reader).status == SubscriberStatus.CONFIRMED


def test_pause_a_week_then_the_dispatcher_resumes_it(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    response = client.post(preferences_url(runtime, reader, "pauze"), data={"duur": "week"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("?gedaan=pauze#melding")
    [enrollment] = enrollments_of(runtime, reader)
    assert enrollment.status == EnrollmentStatus.PAUSED
    assert enrollment.paused_until == START + timedelta(days=7)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Je cursus staat op pauze." in page
    assert "op pauze tot maandag 9 maart om 09:00" in page
    clock.advance(days=6, hours=23)
    assert dispatch_pass(runtime, lambda batches: None).materialised == 0
    assert enrollments_of(runtime, reader)[0].status == EnrollmentStatus.PAUSED
    clock.advance(hours=1)
    dispatch_pass(runtime, lambda batches: None)
    [enrollment] = enrollments_of(runtime, reader)
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.paused_until is None
    # Day 1 is due at the next send time after the pause: Tuesday 07:30 in Amsterdam.
    assert enrollment.next_due_at == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert events_of(runtime, reader) == [
        ("pause", "page", (START + timedelta(days=7)).isoformat()),
        ("resume", "dispatcher", "auto"),
    ]


def test_pause_until_resumed_and_resume(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    client.post(preferences_url(runtime, reader, "pauze"), data={"duur": "onbepaald"})
    [enrollment] = enrollments_of(runtime, reader)
    assert enrollment.status == EnrollmentStatus.PAUSED and enrollment.paused_until is None
    clock.advance(days=60)
    assert dispatch_pass(runtime, lambda batches: None).materialised == 0
    page = client.get(preferences_url(runtime, reader)).get_data(as_text=True)
    assert "op pauze tot je hem hervat" in page and "Hervat nu" in page
    response = client.post(preferences_url(runtime, reader, "hervatten"))
    assert response.headers["Location"].endswith("?gedaan=hervat#melding")
    assert enrollments_of(runtime, reader)[0].status == EnrollmentStatus.ACTIVE
    # A second press (a double click) changes nothing and says so.
    again = client.post(preferences_url(runtime, reader, "hervatten"))
    assert again.headers["Location"].endswith("?gedaan=niets#melding")
    assert [kind for kind, _, _ in events_of(runtime, reader)] == ["pause", "resume"]


def test_choose_the_evening_in_new_york_and_lessons_follow(
    client: Any, runtime: Runtime, reader: int, clock: FrozenClock
) -> None:
    send_due_lessons(runtime)  # day 1, now
    form = {"moment": "evening", "timezone": "America/New_York"}
    response = client.post(preferences_url(runtime, reader, "tijdstip"), data=form)
    assert response.status_code == 303
    subscriber = subscriber_of(runtime, reader)
    assert (subscriber.send_time, subscriber.timezone) == ("19:00", "America/New_York")
    # Day 2 moves to 19:00 New York time, the next calendar day there (Tuesday 3 March).
    [enrollment] = enrollments_of(runtime, reader)
    due = enrollment.next_due_at.astimezone(NEW_YORK)
    assert (due.day, due.hour, due.minute) == (3, 19, 0)
    clock.set(enrollment.next_due_at)
    send_due_lessons(runtime)
    [_, day2] = deliveries_of(runtime, reader)
    assert day2.sent_at.astimezone(NEW_YORK).hour == 19
    # Day 3 is due Wednesday 19:00; at Wednesday noon the reader picks 06:45. That moment has
    # passed for Wednesday, so day 3 comes Thursday 06:45, New York time.
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=NEW_YORK))
    form = {"moment": "exact", "exact": "06:45", "timezone": "America/New_York"}
    client.post(preferences_url(runtime, reader, "tijdstip"), data=form)
    [enrollment] = enrollments_of(runtime, reader)
    assert enrollment.next_due_at == datetime(2026, 3, 5, 6, 45, tzinfo=NEW_YORK)
    page = client.get(preferences_url(runtime, reader)).get_data(as_text=True)
    assert "Dag 3 van 5 komt op donderdag 5 maart om 06:45." in page
    assert [(k, v) for k, _, v in events_of(runtime, reader)] == [
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
    response = client.post(preferences_url(runtime, reader, "tijdstip"), data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page
    subscriber = subscriber_of(runtime, reader)
    assert (subscriber.send_time, subscriber.timezone) == (None, None)
    assert events_of(runtime, reader) == []


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
    assert "Je hebt alle 5 lessen ontvangen." in client.get(
        preferences_url(runtime, reader)
    ).get_data(as_text=True)
    response = client.post(preferences_url(runtime, reader, "opnieuw"))
    assert response.headers["Location"].endswith("?gedaan=opnieuw#melding")
    finished, again = enrollments_of(runtime, reader)
    assert finished.status == EnrollmentStatus.COMPLETED  # its numbers stay as they were
    assert (again.status, again.next_day, again.next_due_at) == (EnrollmentStatus.ACTIVE, 1, START)
    send_due_lessons(runtime)
    assert [d.day for d in deliveries_of(runtime, reader)] == [1]
    assert [kind for kind, _, _ in events_of(runtime, reader)] == ["restart"]
