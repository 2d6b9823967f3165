"""End to end: lessons sent by a real Celery worker to the fake SendGrid; the reader's clicks on
the mail's own links (call to action, rating, trap) go through the app, the spool and Redis,
a worker drains them, and the dashboard shows the numbers; the booking page reports a booking."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from feedback_support import (
    BROWSER_UA,
    SCANNER_UA,
    admin_headers,
    links_in,
    ref_of,
    row_cells,
    visit,
)
from helpers import wait_until
from lessons import delivery_states, emails_in, enroll
from sqlalchemy import func, select
from workers import thread_worker

from cli.main import cli
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Conversion, Delivery, EmailEvent, LessonRating, Subscriber
from tasks.dispatch import dispatch_once
from tracking.hits import queued_hits

pytestmark = pytest.mark.usefixtures("fresh_spool")
START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)


def reader_delivery(runtime: Runtime) -> int:
    """Return the delivery id of lezer0's lesson 1."""
    with runtime.session() as session:
        return int(
            session.scalar(
                select(Delivery.id)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Subscriber.email == "lezer0@example.org")
            )
        )


def stored_clicks(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).where(EmailEvent.kind == "click")) or 0)


@pytest.mark.slow
def test_lesson_links_from_the_sent_mail_through_a_worker_to_the_dashboard(
    app: Any, client: Any, runtime: Runtime, fake_sendgrid: Any, clock: FrozenClock
) -> None:
    clock.set(START)
    enroll(runtime, 2, START)
    with thread_worker(runtime, concurrency=2):
        assert dispatch_once(runtime).enqueued >= 1
        assert wait_until(lambda: emails_in(fake_sendgrid) == 2, 20)
        # Sent means committed, with sent_at on the frozen clock: only then does time move.
        assert wait_until(lambda: delivery_states(runtime) == {"sent": 2}, 20)
        mails = {m["to"]: m for r in fake_sendgrid.accepted for m in r.messages}
        reader = links_in(runtime, mails["lezer0@example.org"]["html"])
        scanned = links_in(runtime, mails["lezer1@example.org"]["html"])
        assert reader.cta and reader.trap and reader.ja and reader.nee
        # The text part has the rating links but no trap: no person may ever meet it.
        text = mails["lezer0@example.org"]["text"]
        assert runtime.settings.base_url + reader.ja in text
        assert runtime.settings.base_url + reader.trap not in text

        clock.advance(minutes=30)
        cta = visit(client, reader.cta, BROWSER_UA)
        assert cta.status_code == 302
        # The booking page gets the reference of this email, and nothing personal.
        target = cta.headers["Location"]
        assert target.startswith("https://umoya.example/afspraak?nurture_ref=")
        assert runtime.tokens.read_conversion(ref_of(target)) == reader_delivery(runtime)
        clock.advance(minutes=1)  # back in the mail, the reader answers the question
        assert visit(client, reader.ja, BROWSER_UA).status_code == 200
        client.post(reader.ja, headers={"User-Agent": BROWSER_UA, "Accept": "application/json"})
        # Lesson 1 of the other reader is walked by a scanner: every link, the trap too.
        for path in [*scanned.every_tracked, scanned.ja, scanned.nee]:
            visit(client, path, SCANNER_UA, "192.0.2.10")
        # The app asked the worker to drain as the hits reached Redis.
        assert wait_until(lambda: stored_clicks(runtime) == 6, 20), stored_clicks(runtime)
    assert queued_hits(runtime) == 0

    # The booking page reports the booking with the reference the CTA carried.
    ref = ref_of(target)
    assert client.post("/api/conversions", json={"token": ref}).status_code == 201
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    # human clicks, readers who clicked, first click in this lesson, scanner clicks, bookings
    assert row_cells(page, "cta-day-1") == ["1", "1", "1", "1", "1"]
    assert row_cells(page, "feedback-day-1") == ["100%", "1"]
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(LessonRating)) == 1


def test_conversions_count_once_per_mail_and_refuse_bad_tokens_and_sites(
    client: Any, runtime: Runtime, configure: Any, make_runtime: Any, make_app: Any
) -> None:
    from tracking_support import make_subscriber

    made = make_subscriber(runtime, "boeker@example.com", sent_days=2)
    ref = runtime.tokens.make_conversion(made.delivery_ids[2])
    assert client.post("/api/conversions", json={"token": ref}).get_json() == {"status": "recorded"}
    again = client.post("/api/conversions", data={"token": ref})
    assert (again.status_code, again.get_json()) == (200, {"status": "already"})
    for body in ({"token": ref + "x"}, {"token": runtime.tokens.make_click(1, "https://x.nl")}, {}):
        refused = client.post("/api/conversions", json=body)
        assert refused.status_code == 400
        assert refused.get_json() == {
            "errors": {"token": "De boekingscode ontbreekt of klopt niet."}
        }
    other_site = client.post(
        "/api/conversions", json={"token": ref}, headers={"Origin": "https://elders.example"}
    )
    assert other_site.status_code == 403
    # The clinic's booking site, once allowed, may report from the browser (CORS).
    allowed = make_app(make_runtime(configure(cors_origins='["https://umoya.example"]')))
    site = allowed.test_client()
    origin = {"Origin": "https://umoya.example"}
    preflight = site.options("/api/conversions", headers=origin)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://umoya.example"
    ref1 = runtime.tokens.make_conversion(made.delivery_ids[1])
    reported = site.post("/api/conversions", json={"token": ref1}, headers=origin)
    assert reported.status_code == 201
    assert reported.headers["Access-Control-Allow-Origin"] == "https://umoya.example"
    with runtime.session() as session:
        days = sorted(session.scalars(select(Conversion.day)))
    assert days == [1, 2]
    # An access request shows the person's bookings too.
    export = CliRunner().invoke(
        cli, ["subscribers", "export", "boeker@example.com"], obj={"runtime": runtime}
    )
    assert export.exit_code == 0, export.output
    assert sorted(b["day"] for b in json.loads(export.output)["bookings"]) == [1, 2]
