"""The /admin dashboard: password, funnel numbers, complaint warning, timeline and CSV exports."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from tracking_support import COURSE, T0, make_subscriber

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, DeliveryState, EmailEvent, Enrollment, Subscriber
from tracking.record import NewEvent, store_events
from tracking.stats import funnel

PASSWORD = "test-admin-password"


def auth(password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"beheer:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(app, clock: FrozenClock):
    clock.set(T0 + timedelta(days=6))
    return app.test_client()


def add_events(runtime: Runtime, *events: NewEvent) -> None:
    with runtime.session() as session:
        store_events(session, list(events), runtime.now())


def event(kind: str, made, day: int, key: str, **extra) -> NewEvent:
    return NewEvent(
        kind=kind,
        source="sendgrid",
        event_key=key,
        occurred_at=T0 + timedelta(days=day - 1, hours=2),
        delivery_id=made.delivery_ids[day],
        subscriber_id=made.subscriber_id,
        course_slug=COURSE,
        day=day,
        **extra,
    )


def test_admin_is_refused_while_no_password_is_set(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime], make_app: Any
) -> None:
    client = make_app(make_runtime(configure(admin_password=""))).test_client()
    for path in ("/admin", "/admin/subscribers", "/admin/export/events.csv"):
        response = client.get(path, headers=auth(""))
        assert response.status_code == 403
        assert "NURTURE_ADMIN_PASSWORD" in response.get_data(as_text=True)


def test_admin_asks_for_the_password(client) -> None:
    response = client.get("/admin")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/admin", headers=auth("wrong")).status_code == 401
    assert client.get("/admin/export/subscribers.csv").status_code == 401
    assert client.get("/admin", headers=auth()).status_code == 200


def test_repeated_wrong_passwords_are_paused(client) -> None:
    for _ in range(10):
        assert client.get("/admin", headers=auth("guess")).status_code == 401
    response = client.get("/admin", headers=auth())
    assert response.status_code == 429
    assert "Te veel" in response.get_data(as_text=True)


def build_scenario(runtime: Runtime) -> None:
    """Four signups, three confirmed; lessons, opens, clicks, a bounce, a complaint."""
    anna = make_subscriber(runtime, "anna@example.com", sent_days=5)
    bert = make_subscriber(runtime, "bert@example.com", sent_days=2)
    carl = make_subscriber(runtime, "carl@example.com", sent_days=1)
    make_subscriber(runtime, "dora@example.com", sent_days=0, confirmed=False)
    add_events(
        runtime,
        event("delivered", anna, 1, "a-d1"),
        event("delivered", anna, 2, "a-d2"),
        event("delivered", bert, 1, "b-d1"),
        event("delivered", carl, 1, "c-d1"),
        event("open", anna, 1, "a-o1"),
        event("open", anna, 1, "a-o1b"),  # a second human open of the same lesson
        event("open", bert, 1, "b-o1", machine=True),
        event("open", carl, 1, "c-o1", machine=True),
        event("open", carl, 1, "c-o1b"),
        event("click", anna, 1, "a-c1", url="https://umoya.example/afspraak"),
        event("click", anna, 1, "a-c1b", url="https://umoya.example/afspraak"),
        event("bounce", bert, 2, "b-b2", reason="550 unknown user"),
        event("spamreport", carl, 1, "c-s1"),
    )


def test_funnel_numbers(runtime: Runtime) -> None:
    build_scenario(runtime)
    with runtime.session() as session:
        numbers = funnel(session, runtime.courses, COURSE)
    assert (numbers.signups, numbers.confirmed, numbers.completed) == (4, 3, 1)
    day1, day2, day3 = numbers.lessons[:3]
    assert (day1.sent, day1.delivered, day1.human_opened, day1.machine_opened, day1.clicked) == (
        3,
        3,
        2,
        2,
        1,
    )
    assert (day1.complaints, day1.bounces, day1.unsubscribes) == (1, 0, 0)
    assert (day2.sent, day2.delivered, day2.bounces) == (2, 1, 1)
    assert (day3.sent, day3.human_opened) == (1, 0)
    assert [lesson.day for lesson in numbers.lessons] == [1, 2, 3, 4, 5]
    # One complaint on four delivered lessons.
    assert numbers.complaint_rate == pytest.approx(1 / 4)
    assert numbers.complaint_warning


def test_dashboard_shows_the_funnel_and_charts(client, runtime: Runtime) -> None:
    build_scenario(runtime)
    page = client.get("/admin", headers=auth()).get_data(as_text=True)
    assert '<span class="value" id="signups">4</span>' in page
    assert '<span class="value" id="confirmed">3</span>' in page
    row = page.split('<tr id="day-1">')[1].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    assert cells == ["3", "3", "2", "2", "1", "0", "0", "1"]
    # Two Chart.js charts, each with its data as JSON and its numbers as a table.
    assert page.count('<canvas aria-hidden="true">') == 2
    assert page.count('type="application/json"') == 2
    assert "vendor/chartjs/chart.umd.min.js" in page
    lesson = page.split('id="lesson-chart-data">')[1].split("</script>")[0]
    assert json.loads(lesson)["series"][0] == {
        "label": "Verzonden",
        "colour": "#9aa5b1",
        "values": [3, 2, 1, 1, 1],
    }
    table = page.split('id="lesson-chart"')[1].split("</table>")[0]
    assert '<tr><th scope="row">Dag 1</th><td>3</td><td>3</td><td>2</td>' in table
    assert "<script>" not in page  # the CSP would block an inline script
    assert 'id="complaint-warning"' in page
    assert "style=" not in page  # the CSP would block it


def test_site_unsubscribe_is_counted_against_the_last_lesson(runtime: Runtime) -> None:
    made = make_subscriber(runtime, "eef@example.com", sent_days=3)
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = T0 + timedelta(days=2, hours=5)
    with runtime.session() as session:
        numbers = funnel(session, runtime.courses, COURSE)
    assert [lesson.unsubscribes for lesson in numbers.lessons] == [0, 0, 1, 0, 0]


def _bulk_delivered(runtime: Runtime, count: int) -> None:
    """Insert COUNT delivered lessons for as many subscribers, in a few statements."""
    with runtime.session() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"bulk{n}@example.com",
                    "status": "confirmed",
                    "course_slug": COURSE,
                    "created_at": T0,
                    "confirmed_at": T0,
                }
                for n in range(count)
            ],
        )
        ids = [row[0] for row in session.execute(Subscriber.__table__.select()).all()]
        session.execute(
            insert(Enrollment),
            [{"subscriber_id": i, "course_slug": COURSE, "started_at": T0} for i in ids],
        )
        enrollments = session.execute(Enrollment.__table__.select()).all()
        session.execute(
            insert(Delivery),
            [
                {
                    "enrollment_id": row.id,
                    "subscriber_id": row.subscriber_id,
                    "course_slug": COURSE,
                    "day": 1,
                    "state": DeliveryState.SENT,
                    "created_at": T0,
                    "not_before": T0,
                    "sent_at": T0,
                    "delivered_at": T0,
                }
                for row in enrollments
            ],
        )


@pytest.mark.parametrize(("delivered", "warned"), [(1001, False), (1000, True)])
def test_complaint_warning_at_one_in_a_thousand(
    client, runtime: Runtime, delivered: int, warned: bool
) -> None:
    _bulk_delivered(runtime, delivered)
    with runtime.session() as session:
        session.execute(
            insert(EmailEvent),
            [
                {
                    "kind": "spamreport",
                    "source": "sendgrid",
                    "event_key": "complaint-1",
                    "subscriber_id": 1,
                    "course_slug": COURSE,
                    "day": 1,
                    "occurred_at": T0,
                    "recorded_at": T0,
                }
            ],
        )
    page = client.get("/admin", headers=auth()).get_data(as_text=True)
    assert ('id="complaint-warning"' in page) is warned


def test_subscriber_search_and_timeline(client, runtime: Runtime) -> None:
    build_scenario(runtime)
    page = client.get("/admin/subscribers?q=ERT@", headers=auth()).get_data(as_text=True)
    assert "bert@example.com" in page and "anna@example.com" not in page
    page = client.get("/admin/subscribers?q=100%25", headers=auth()).get_data(as_text=True)
    assert "Geen inschrijvers gevonden" in page
    with runtime.session() as session:
        bert = session.query(Subscriber).filter_by(email="bert@example.com").one()
    page = client.get(f"/admin/subscribers/{bert.id}", headers=auth()).get_data(as_text=True)
    order = [
        "Aangemeld",
        "Aanmelding bevestigd",
        "Les 1 verzonden",
        "Les 1: Geopend (machine)",
        "Les 2 verzonden",
        "Les 2: Bounce",
    ]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert client.get("/admin/subscribers/999999", headers=auth()).status_code == 404


def test_subscriber_list_is_paginated(client, runtime: Runtime) -> None:
    _bulk_delivered(runtime, 120)
    first = client.get("/admin/subscribers", headers=auth()).get_data(as_text=True)
    assert "pagina 1 van 3" in first
    last = client.get("/admin/subscribers?page=3", headers=auth()).get_data(as_text=True)
    assert last.count("bulk") == 20


def test_csv_exports(client, runtime: Runtime) -> None:
    build_scenario(runtime)
    make_subscriber(runtime, "=HYPERLINK(evil)@example.com", sent_days=0)
    with runtime.session() as session:
        session.query(Subscriber).filter_by(email="anna@example.com").update(
            {"first_name": "@SUM(A1)"}
        )
    response = client.get("/admin/export/subscribers.csv", headers=auth())
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 5
    by_email = {row["email"]: row for row in rows}
    assert "'=HYPERLINK(evil)@example.com" in by_email
    assert by_email["anna@example.com"]["first_name"] == "'@SUM(A1)"
    assert by_email["dora@example.com"]["confirmed_at"] == ""
    events = client.get("/admin/export/events.csv", headers=auth()).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(events)))
    assert len(rows) == 13
    kinds = sorted(row["kind"] for row in rows)
    assert kinds.count("open") == 5 and kinds.count("click") == 2
    assert {row["url"] for row in rows if row["kind"] == "click"} == {
        "https://umoya.example/afspraak"
    }
