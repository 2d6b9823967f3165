"""Erasure that is complete: after `forget`, no address, name or user agent comes back or stays.

Late signed webhook events (dropped: tests/tracking/test_erased_late_events.py), stored
webhook bodies (in any letter case, on PostgreSQL too), the outbox files of development, and
the name typed with a pending confirmation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from subscribers_support import ADDRESS, confirmations_of, signup_form, subscriber_by_email
from tracking_support import Made, SendGridSigner, body_of, make_subscriber, sg_event

from cli.main import cli
from emails.message import Message, Tags
from runtime import Runtime
from store.models import Delivery, EmailEvent, Subscriber, SubscriberStatus, WebhookBatch
from subscribers.suppression import is_suppressed
from tracking.ingest import ingest_pending

URL = "/webhooks/sendgrid"
SHOUTED = "Anna.Jansen@EXAMPLE.com"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Anna's phone"

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def forget(runtime: Runtime, email: str = ADDRESS) -> None:
    """Run `nurture subscribers forget --yes EMAIL` on the test's runtime."""
    result = CliRunner().invoke(
        cli, ["subscribers", "forget", "--yes", email], obj={"runtime": runtime}
    )
    assert result.exit_code == 0, result.output


def post(client: Any, signer: SendGridSigner, events: list[dict[str, object]]) -> None:
    body = body_of(events)
    response = client.post(URL, data=body, headers=signer.headers(body))
    assert response.status_code == 200, response.get_json()


def late_events(made: Made) -> list[dict[str, object]]:
    """A bounce quoting the address (as the person typed it) and a click from their phone."""
    return [
        sg_event(
            "bounce",
            made,
            1,
            "late-bounce",
            email=SHOUTED,
            type="bounce",
            reason=f"550 5.1.1 <{SHOUTED}>: Recipient address rejected (Anna Jansen)",
            ip="192.0.2.44",
        ),
        sg_event(
            "click",
            made,
            1,
            "late-click",
            email=ADDRESS,
            url=f"https://umoya.example/afspraak?voor={ADDRESS}",
            useragent=PHONE_UA,
            ip="192.0.2.44",
        ),
    ]


def everything_stored(runtime: Runtime) -> str:
    """Return every email event and webhook body as one lower-cased text to search in."""
    with runtime.session() as session:
        events = session.scalars(select(EmailEvent)).all()
        bodies = session.scalars(select(WebhookBatch.body)).all()
    rows = [{c.key: getattr(e, c.key) for c in EmailEvent.__table__.columns} for e in events]
    return json.dumps([rows, bodies], default=str).lower()


def test_late_webhook_events_after_forget_store_no_personal_data(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, ADDRESS, sent_days=1)
    forget(runtime)
    post(client, signer, late_events(made))
    assert ingest_pending(runtime) == 1

    with runtime.session() as session:
        # Nothing of what she did after the erase is stored (tests/tracking has the rest)...
        assert session.scalars(select(EmailEvent)).all() == []
        assert session.get(Subscriber, made.subscriber_id).status == SubscriberStatus.FORGOTTEN
        # ...but the bounced address is on the list, as a hash.
        assert is_suppressed(session, runtime.settings.secret_keys, ADDRESS)
    stored = everything_stored(runtime)
    for personal in (ADDRESS, "anna jansen", "192.0.2.44", "anna's phone", "iphone"):
        assert personal.lower() not in stored, personal


def test_processed_bodies_keep_no_address_ip_or_user_agent(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, ADDRESS, sent_days=1)
    post(client, signer, late_events(made))
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        [body] = session.scalars(select(WebhookBatch.body)).all()
        # A known subscriber's events keep their reason and link in the events table.
        click = session.scalars(select(EmailEvent).where(EmailEvent.kind == "click")).one()
        assert click.user_agent == PHONE_UA and click.url is not None
    kept = json.dumps(body).lower()
    assert ADDRESS not in kept and "192.0.2.44" not in kept and "iphone" not in kept
    # What is not personal stays, for a look at what arrived.
    assert [event["event"] for event in body] == ["bounce", "click"]
    assert body[0]["reason"] == "[erased]" and body[0]["type"] == "bounce"


def test_forget_scrubs_stored_webhook_bodies_whatever_the_case(
    runtime: Runtime, client: Any, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, ADDRESS, sent_days=1)
    bert = make_subscriber(runtime, "bert@example.com", sent_days=1)
    berts_open = sg_event("open", bert, 1, "bert-open", email="bert@example.com", useragent="X")
    with runtime.session() as session:
        # One still pending (SendGrid quoting the address as typed), one processed earlier.
        session.add(
            WebhookBatch(
                body=[*late_events(made), berts_open],
                received_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        )
        session.add(
            WebhookBatch(
                body=[{"event": "bounce", "reason": f"550 <{SHOUTED}> unknown"}],
                received_at=datetime(2026, 1, 4, tzinfo=UTC),
                processed_at=datetime(2026, 1, 4, tzinfo=UTC),
            )
        )
    forget(runtime)
    assert ADDRESS not in everything_stored(runtime)
    with runtime.session() as session:
        pending = session.scalars(
            select(WebhookBatch.body).where(WebhookBatch.processed_at.is_(None))
        ).one()
    # Her events left the pending batch; someone else's is left whole, for its own ingest.
    assert pending == [berts_open]
    # Her bounce listed the address before it went: the ingest could no longer.
    with runtime.session() as session:
        assert is_suppressed(session, runtime.settings.secret_keys, ADDRESS)
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        kinds = session.execute(select(EmailEvent.kind, EmailEvent.subscriber_id)).all()
        assert kinds == [("open", bert.subscriber_id)]
    stored = everything_stored(runtime)
    assert ADDRESS not in stored and "anna jansen" not in stored and "iphone" not in stored


def test_forget_deletes_a_stored_body_too_broken_to_read_that_quotes_the_address(
    runtime: Runtime,
) -> None:
    make_subscriber(runtime, ADDRESS, sent_days=1)
    depth = 3000  # past what Python's JSON parser loads: this batch can never be ingested
    raw = f'[{{"email": "{SHOUTED}", "n": ' + "[" * depth + "]" * depth + "}]"
    with runtime.transaction() as connection:
        connection.execute(
            text("INSERT INTO webhook_batches (body, received_at) VALUES (:body, :at)"),
            {"body": raw, "at": datetime(2026, 1, 5, tzinfo=UTC)},
        )
    forget(runtime)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookBatch)) == 0
    assert subscriber_by_email(runtime, ADDRESS) is None


def lesson_for(to_email: str, to_name: str) -> Message:
    return Message(
        to_email=to_email,
        to_name=to_name,
        subject="Les 1",
        html=f"<p>Hallo {to_name},</p>",
        text=f"Hallo {to_name},",
        from_email="cursus@umoya.example",
        tags=Tags(kind="lesson", course="rugpijn-en-training", day=1),
    )


def test_forget_removes_the_persons_outbox_files(client: Any, runtime: Runtime) -> None:
    client.post("/subscribe", data=signup_form())
    for to_email, name in ((ADDRESS, "Anna"), (SHOUTED, "Anna"), ("bert@example.com", "Bert")):
        runtime.mail.send(lesson_for(to_email, name))
    outbox = runtime.settings.outbox_dir
    assert len(list(outbox.glob("*.eml"))) == 3
    forget(runtime)
    left = sorted(outbox.iterdir())
    assert [path.suffix for path in left] == [".eml", ".html"]
    assert all("Anna" not in path.read_text(encoding="utf-8") for path in left)


def test_forget_erases_the_name_typed_with_a_pending_confirmation(
    client: Any, runtime: Runtime
) -> None:
    client.post("/subscribe", data=signup_form())
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    with runtime.session() as session:
        # A signup for a known address keeps the typed name here until it is confirmed.
        [confirmation] = session.scalars(select(Delivery)).all()
        confirmation.requested_name = "Anna Win een iPhone"
    forget(runtime)
    assert [c.requested_name for c in confirmations_of(runtime, subscriber.id)] == [None]
