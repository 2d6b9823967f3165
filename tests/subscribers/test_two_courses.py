"""Two courses at once: signup, confirm, lessons and unsubscribing from one of them.

A real Celery worker sends through the real sendgrid client to the fake; the links used are
the ones in the mail the fake received. One address follows both courses: one subscriber,
an enrollment per course, a double opt-in per course (their consent texts differ), and the
one-click unsubscribe of a lesson stops that lesson's course only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import wait_until
from subscribers_support import ADDRESS, consent_events, subscriber_by_email
from two_courses_support import (
    FIRST,
    SECOND,
    SECOND_CONSENT,
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
from store.models import ConsentEventKind, SubscriberStatus
from subscribers.consent import consent_text_sha256
from tasks.dispatch import dispatch_once
from tracking.stats import funnel

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Amsterdam


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path, monkeypatch) -> Settings:
    """This test's settings, with two course folders side by side."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


def _unsubscribes(runtime: Runtime) -> dict[str, list[int]]:
    """Return each course's unsubscribes per lesson day, as the dashboard shows them."""
    with runtime.session() as session:
        return {
            slug: [day.unsubscribes for day in funnel(session, runtime.courses, slug).lessons]
            for slug in (FIRST, SECOND)
        }


def _next_day(runtime: Runtime, clock, fake, expected: int) -> None:
    """Move to the next 07:30 send time, dispatch, and wait for EXPECTED mails in all."""
    # The fake holds a mail before the worker has recorded it as sent; jumping a day while
    # that commit is under way would make the claim look stale (as a worker stuck that long).
    assert wait_until(lambda: sends_in_flight(runtime) == 0, 30)
    day = clock.current.date()
    clock.set(datetime(day.year, day.month, day.day + 1, 6, 31, tzinfo=UTC))
    dispatch_once(runtime)
    assert wait_until(lambda: sum(len(a.recipients) for a in fake.accepted) == expected, 30)


def test_one_reader_two_courses_and_leaving_one(
    client, runtime: Runtime, fake_sendgrid, celery_worker, clock
) -> None:
    clock.set(START)
    sign_up_and_confirm(client, fake_sendgrid, 1, FIRST)
    # A confirmed reader signing up for the second course gets its own double opt-in.
    sign_up_and_confirm(client, fake_sendgrid, 2, SECOND)
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    assert (subscriber.status, subscriber.course_slug) == (SubscriberStatus.CONFIRMED, FIRST)
    assert enrollments_by_course(runtime, subscriber.id) == {FIRST: ["active"], SECOND: ["active"]}

    # Day 1 of both courses goes out at the reader's 07:30.
    clock.set(datetime(2026, 3, 2, 6, 31, tzinfo=UTC))
    dispatch_once(runtime)
    second_day1 = mail_to(fake_sendgrid, 4, course=SECOND, kind="1")
    assert lesson_days(fake_sendgrid, FIRST) == ["1"]

    # The mail client's one-click unsubscribe of the second course's lesson stops that one.
    header = second_day1["headers"]["List-Unsubscribe"]
    path = "/unsubscribe/" + header.split("/unsubscribe/", 1)[1].split(">", 1)[0]
    for _ in range(2):  # a repeated POST changes and records nothing more
        response = client.post(
            path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        page = response.get_data(as_text=True)
        assert f"geen e-mails van de cursus {SECOND_TITLE} meer" in page
    assert enrollments_by_course(runtime, subscriber.id) == {
        FIRST: ["active"],
        SECOND: ["cancelled"],
    }
    reader = subscriber_by_email(runtime, ADDRESS)
    assert reader is not None and reader.status == SubscriberStatus.CONFIRMED

    # The dashboard counts the opt-out against the second course's day 1 only.
    assert _unsubscribes(runtime) == {FIRST: [0, 0, 0, 0, 0], SECOND: [1, 0]}

    # The next morning only the first course goes on.
    _next_day(runtime, clock, fake_sendgrid, 5)
    assert lesson_days(fake_sendgrid, FIRST) == ["1", "2"]
    assert lesson_days(fake_sendgrid, SECOND) == ["1"]

    # The consent history names each course, under each course's own text.
    events = [
        (e.kind, e.course_slug, e.consent_text_sha256) for e in consent_events(runtime, reader.id)
    ]
    first, second = runtime.courses.get(FIRST), runtime.courses.get(SECOND)
    assert second.consent_text == SECOND_CONSENT
    assert events == [
        (ConsentEventKind.SIGNUP, FIRST, consent_text_sha256(first)),
        (ConsentEventKind.CONFIRMATION, FIRST, consent_text_sha256(first)),
        (ConsentEventKind.SIGNUP, SECOND, consent_text_sha256(second)),
        (ConsentEventKind.CONFIRMATION, SECOND, consent_text_sha256(second)),
        (ConsentEventKind.UNSUBSCRIBE, SECOND, consent_text_sha256(second)),
    ]

    # "Stop all mail from the clinic" on the first course's unsubscribe page ends the rest.
    lesson = mail_to(fake_sendgrid, 5, course=FIRST, kind="2")
    unsubscribe = link_in(lesson, "unsubscribe")
    page = client.get(unsubscribe).get_data(as_text=True)
    assert "Ja, stop deze cursus" in page and "Stop alle e-mail van UMOYA" in page
    response = client.post(unsubscribe, data={"scope": "all"})
    assert "Je ontvangt geen e-mails van UMOYA meer" in response.get_data(as_text=True)
    reader = subscriber_by_email(runtime, ADDRESS)
    assert reader is not None and reader.status == SubscriberStatus.UNSUBSCRIBED
    assert enrollments_by_course(runtime, reader.id) == {
        FIRST: ["cancelled"],
        SECOND: ["cancelled"],
    }
    assert _unsubscribes(runtime) == {FIRST: [0, 1, 0, 0, 0], SECOND: [1, 0]}
    _next_day(runtime, clock, fake_sendgrid, 5)  # nothing more goes out
    assert wait_until(lambda: False, 1) is False
    assert sum(len(a.recipients) for a in fake_sendgrid.accepted) == 5
    assert fake_sendgrid.stats()["duplicates"] == 0
