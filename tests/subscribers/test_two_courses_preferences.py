"""The preferences page of a reader following two courses: the 'Voorkeuren' link of a lesson
is about that lesson's course, even when the other course is the newer one.

A real Celery worker sends through the real sendgrid client to the fake; the links used are
the ones in the mail the fake received. Pausing, restarting and leaving through one course's
link change that course only, and the mail that goes out afterwards shows it. The hour is the
reader's own, one for both courses. A link from before links named their course still works.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import wait_until
from sqlalchemy import select
from subscribers_support import ADDRESS, consent_events, subscriber_by_email
from two_courses_support import (
    FIRST,
    SECOND,
    SECOND_TITLE,
    enrollments_by_course,
    lesson_days,
    link_in,
    mail_to,
    make_two_courses,
    sends_in_flight,
    sign_up_and_confirm,
)

from config import Settings, load_settings
from runtime import Runtime
from store.models import ConsentEventKind, Enrollment, PreferenceEvent, SubscriberStatus
from tasks.dispatch import dispatch_once

FIRST_TITLE = "Rugpijn en training"
MONDAY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 07:00 in Amsterdam


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path: Any, monkeypatch: Any) -> Settings:
    """This test's settings, with two course folders side by side."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


def _mails(fake: Any) -> int:
    return sum(len(accepted.recipients) for accepted in fake.accepted)


def _send_at(runtime: Runtime, clock: Any, fake: Any, when: datetime, expected: int) -> None:
    """Move the clock to WHEN, dispatch, and wait for EXPECTED mails in all (and no more)."""
    # A claim in flight while the clock jumps would look stale: let the worker record it first.
    assert wait_until(lambda: sends_in_flight(runtime) == 0, 30)
    clock.set(when)
    dispatch_once(runtime)
    assert wait_until(lambda: _mails(fake) == expected, 30)
    assert wait_until(lambda: sends_in_flight(runtime) == 0, 30)
    assert _mails(fake) == expected


def _due(runtime: Runtime, course: str) -> datetime | None:
    with runtime.session() as session:
        return session.scalars(
            select(Enrollment.next_due_at)
            .where(Enrollment.course_slug == course)
            .order_by(Enrollment.id.desc())
        ).first()


def _status(runtime: Runtime) -> str:
    reader = subscriber_by_email(runtime, ADDRESS)
    assert reader is not None
    return reader.status


def _preference_events(runtime: Runtime) -> list[tuple[str, str | None, int | None]]:
    with runtime.session() as session:
        rows = session.scalars(select(PreferenceEvent).order_by(PreferenceEvent.id))
        return [(row.kind, row.course_slug, row.day) for row in rows]


def test_each_lessons_preferences_link_acts_on_its_own_course(
    client: Any, runtime: Runtime, fake_sendgrid: Any, celery_worker: Any, clock: Any
) -> None:
    clock.set(MONDAY)
    sign_up_and_confirm(client, fake_sendgrid, 1, FIRST)
    sign_up_and_confirm(client, fake_sendgrid, 2, SECOND)  # the second is the newest
    reader = subscriber_by_email(runtime, ADDRESS)
    assert reader is not None
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 2, 6, 31, tzinfo=UTC), 4)
    first = link_in(mail_to(fake_sendgrid, 4, course=FIRST, kind="1"), "voorkeuren")
    second = link_in(mail_to(fake_sendgrid, 4, course=SECOND, kind="1"), "voorkeuren")

    page = client.get(first).get_data(as_text=True)
    assert f"Voor de e-mailcursus {FIRST_TITLE}" in page and "Dag 2 van 5" in page
    assert 'id="elsewhere"' in page and 'id="stop-course"' in page and 'id="stop-all"' in page
    page = client.get(second).get_data(as_text=True)
    assert f"Voor de e-mailcursus {SECOND_TITLE}" in page and "Dag 2 van 2" in page

    # Pause the first course through its own link: the newer second one keeps going.
    assert client.post(f"{first}/pauze", data={"duur": "onbepaald"}).status_code == 303
    assert enrollments_by_course(runtime, reader.id) == {FIRST: ["paused"], SECOND: ["active"]}
    # The evening, chosen on the first course's page, is the reader's: the second moves too.
    form = {"moment": "evening", "timezone": "Europe/Amsterdam"}
    assert client.post(f"{first}/tijdstip", data=form).status_code == 303
    assert _due(runtime, SECOND) == datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # 19:00 there
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 3, 6, 31, tzinfo=UTC), 4)
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 3, 18, 1, tzinfo=UTC), 5)
    assert (lesson_days(fake_sendgrid, FIRST), lesson_days(fake_sendgrid, SECOND)) == (
        ["1"],
        ["1", "2"],
    )

    # Restart through each course's link: each starts its own course again at day 1.
    assert client.post(f"{first}/opnieuw").status_code == 303
    assert enrollments_by_course(runtime, reader.id) == {
        FIRST: ["cancelled", "active"],
        SECOND: ["completed"],
    }
    assert client.post(f"{second}/opnieuw").status_code == 303
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 4, 18, 1, tzinfo=UTC), 7)
    assert lesson_days(fake_sendgrid, FIRST) == ["1", "1"]
    assert lesson_days(fake_sendgrid, SECOND) == ["1", "1", "2"]

    # 'Stop deze cursus' on the first course's page stops the first course only.
    left = client.post(f"{first}/uitschrijven", data={"reden": "te-veel"})
    assert f"geen e-mails van de cursus {FIRST_TITLE} meer" in left.get_data(as_text=True)
    assert enrollments_by_course(runtime, reader.id) == {
        FIRST: ["cancelled", "cancelled"],
        SECOND: ["completed", "active"],
    }
    assert _status(runtime) == SubscriberStatus.CONFIRMED
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 5, 18, 1, tzinfo=UTC), 8)
    assert lesson_days(fake_sendgrid, FIRST) == ["1", "1"]
    assert lesson_days(fake_sendgrid, SECOND) == ["1", "1", "2", "2"]

    # The page of the course left offers signing up again, not a restart (its double opt-in).
    page = client.get(first).get_data(as_text=True)
    assert "je hebt hem gestopt" in page and "Begin opnieuw" not in page
    assert 'id="stop-course"' not in page and 'id="stop-all"' in page
    again = client.post(f"{first}/opnieuw")
    assert again.headers["Location"].endswith("gedaan=niets#melding")
    assert enrollments_by_course(runtime, reader.id)[FIRST] == ["cancelled", "cancelled"]

    # 'Stop alle e-mail' stays: it ends the second course as well.
    done = client.post(f"{second}/uitschrijven", data={"scope": "all"})
    assert "Je ontvangt geen e-mails van UMOYA meer" in done.get_data(as_text=True)
    assert _status(runtime) == SubscriberStatus.UNSUBSCRIBED
    opt_outs = [
        event.course_slug
        for event in consent_events(runtime, reader.id)
        if event.kind == ConsentEventKind.UNSUBSCRIBE
    ]
    assert opt_outs == [FIRST, SECOND]
    # Each change is in the history under the course of its page, at that course's lesson.
    assert _preference_events(runtime) == [
        ("pause", FIRST, 1),
        ("send_time", FIRST, 1),
        ("timezone", FIRST, 1),
        ("restart", FIRST, 1),
        ("restart", SECOND, 2),
        ("unsubscribe_reason", FIRST, 1),
    ]
    # Day 1 of each and day 2 of the second came twice: the restarts, and nothing more.
    assert fake_sendgrid.stats()["duplicates"] == 3


def test_a_link_without_a_course_still_works_on_the_newest_course(
    client: Any, runtime: Runtime, fake_sendgrid: Any, celery_worker: Any, clock: Any
) -> None:
    clock.set(MONDAY)
    sign_up_and_confirm(client, fake_sendgrid, 1, FIRST)
    sign_up_and_confirm(client, fake_sendgrid, 2, SECOND)
    reader = subscriber_by_email(runtime, ADDRESS)
    assert reader is not None
    old_link = f"/voorkeuren/{runtime.tokens.make_preferences(reader.id)}"
    page = client.get(old_link).get_data(as_text=True)
    assert f"Voor de e-mailcursus {SECOND_TITLE}" in page
    assert "Meld mij af" in page and 'id="stop-course"' not in page
    assert client.post(f"{old_link}/pauze", data={"duur": "week"}).status_code == 303
    assert enrollments_by_course(runtime, reader.id) == {FIRST: ["active"], SECOND: ["paused"]}
    _send_at(runtime, clock, fake_sendgrid, datetime(2026, 3, 2, 6, 31, tzinfo=UTC), 3)
    assert (lesson_days(fake_sendgrid, FIRST), lesson_days(fake_sendgrid, SECOND)) == (["1"], [])
    # A course's unsubscribe page offers that course's preferences page.
    unsubscribe = client.get(f"/unsubscribe/{runtime.tokens.make_unsubscribe(reader.id, FIRST)}")
    named = runtime.tokens.make_preferences(reader.id, FIRST)
    assert f'href="/voorkeuren/{named}"' in unsubscribe.get_data(as_text=True)
    # Its one button stops all mail, as it always did.
    client.post(f"{old_link}/uitschrijven")
    assert enrollments_by_course(runtime, reader.id) == {
        FIRST: ["cancelled"],
        SECOND: ["cancelled"],
    }
