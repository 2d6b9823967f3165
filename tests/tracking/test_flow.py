"""End to end: signed SendGrid batches and pixel hits through a real Celery worker, then the
dashboard and `nurture stats` show them, and a bounced subscriber gets no further lesson."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import admin_headers, run_cli, wait_until
from lessons import collect_ids
from sqlalchemy import func, select
from tracking_support import (
    COURSE,
    T0,
    SendGridSigner,
    body_of,
    make_subscriber,
    sg_event,
)
from workers import thread_worker

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Delivery,
    EmailEvent,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    WebhookBatch,
)
from tracking.hits import queued_hits

pytestmark = pytest.mark.usefixtures("fresh_spool", "signer")
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"


@pytest.mark.slow
def test_webhook_batches_and_hits_are_applied_by_a_real_worker(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, "wim@example.com", sent_days=1)
    with thread_worker(runtime, concurrency=2):
        body = body_of(
            [
                sg_event("processed", made, 1, "w-processed"),
                sg_event("delivered", made, 1, "w-delivered"),
            ]
        )
        assert (
            client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body)).status_code
            == 200
        )
        token = runtime.tokens.make_open(made.delivery_ids[1])
        for n in range(3):  # three readers: one reader's repeats would count once
            client.get(f"/o/{token}.gif", headers={"User-Agent": f"{BROWSER_UA} {n}"})
        click = runtime.tokens.make_click(made.delivery_ids[1], "https://umoya.example/afspraak")
        assert client.get(f"/c/{click}", headers={"User-Agent": BROWSER_UA}).status_code == 302

        def applied() -> bool:
            with runtime.session() as session:
                delivery = session.get(Delivery, made.delivery_ids[1])
                pending = session.scalar(
                    select(func.count()).where(WebhookBatch.processed_at.is_(None))
                )
                return (
                    pending == 0
                    and delivery.delivered_at is not None
                    and delivery.human_opens == 3
                    and delivery.clicks == 1
                )

        # The worker applies the batch at once and drains the hits about a second later.
        assert wait_until(applied, timeout=20), "the worker did not apply the batch and hits"
    assert queued_hits(runtime) == 0
    with runtime.session() as session:
        kinds = sorted(session.scalars(select(EmailEvent.kind)))
    assert kinds == ["click", "delivered", "open", "open", "open", "processed"]


def test_done_when_signed_batch_shows_up_and_bounced_subscriber_gets_nothing(
    client, runtime: Runtime, signer: SendGridSigner, clock: FrozenClock
) -> None:
    from delivery.dispatcher import run_dispatch_pass

    clock.set(T0 + timedelta(hours=3))
    reader = make_subscriber(runtime, "lezer@example.com", sent_days=1)
    bouncer = make_subscriber(runtime, "bounce@example.com", sent_days=1)
    events = [
        sg_event("delivered", reader, 1, "r-delivered"),
        sg_event("open", reader, 1, "r-open", useragent=BROWSER_UA),
        sg_event("open", reader, 1, "r-open-mpp", useragent="Mozilla/5.0", sg_machine_open=True),
        sg_event("click", reader, 1, "r-click", url="https://umoya.example/afspraak"),
        sg_event("bounce", bouncer, 1, "b-bounce", type="bounce", reason="550 5.1.1 unknown"),
    ]
    body = body_of(events)
    response = client.post(
        "/webhooks/sendgrid",
        data=body,
        headers=signer.headers(body, int((T0 + timedelta(hours=3)).timestamp())),
    )
    assert response.status_code == 200
    # No worker runs here: the dashboard applies pending batches itself before counting.
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    row = page.split('<tr id="day-1">')[1].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    # sent, delivered, human opened, machine opened, clicked, unsubscribes, bounces, complaints
    assert cells == ["2", "1", "1", "1", "1", "0", "1", "0"]

    result = run_cli("stats", "--course", COURSE)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "Dag 1" in line)
    numbers = [part.strip() for part in line.split("│")[2:-1]]
    assert numbers == ["2", "1", "1", "1", "1", "0", "1", "0"]
    assert "2 aanmeldingen" in result.output

    with runtime.session() as session:
        assert session.get(Subscriber, bouncer.subscriber_id).status == SubscriberStatus.SUPPRESSED
        assert session.get(Enrollment, bouncer.enrollment_id).status == EnrollmentStatus.CANCELLED
    # A dispatcher pass a day later creates day 2 for the reader only.
    enqueued: list[int] = []
    run_dispatch_pass(runtime, collect_ids(enqueued), now=T0 + timedelta(days=1, hours=1))
    with runtime.session() as session:
        days = {
            (row.subscriber_id, row.day)
            for row in session.execute(select(Delivery.subscriber_id, Delivery.day))
        }
    assert (reader.subscriber_id, 2) in days
    assert (bouncer.subscriber_id, 2) not in days


def test_stats_names_an_unknown_course(settings: Settings) -> None:
    result = run_cli("stats", "--course", "no-such-course")
    assert result.exit_code == 2
    assert "unknown course 'no-such-course'" in result.output
