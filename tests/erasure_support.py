"""Helpers of the erasure-race tests: a reader and a bystander, their events, and what links.

"Links to the erased person" means any row that points at their subscriber row or one of
their deliveries, or a delivery counter that moved after the erase.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select
from tracking_support import Made, SendGridSigner, body_of, make_subscriber, sg_event

from cli.main import cli
from runtime import Runtime
from store.models import (
    AdminAuditEntry,
    ConsentEvent,
    Counter,
    Delivery,
    EmailEvent,
    WebhookBatch,
)
from subscribers import counters
from subscribers.suppression import is_suppressed

ERASED = "anna.jansen@example.com"
BYSTANDER = "bert@example.com"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Anna's phone"
LINK = "https://umoya.example/afspraak?voor=anna"


@dataclass
class Pair:
    """The person who will be erased and someone whose events share their batches."""

    anna: Made
    bert: Made


def make_pair(runtime: Runtime) -> Pair:
    """Make Anna (to be erased) and Bert, each with lesson 1 sent."""
    return Pair(make_subscriber(runtime, ERASED), make_subscriber(runtime, BYSTANDER))


def annas_events(pair: Pair, prefix: str = "a") -> list[dict[str, object]]:
    """Anna's delivered, open and click (all placed by our tags), quoting her address."""
    anna = pair.anna
    return [
        sg_event("delivered", anna, 1, f"{prefix}-delivered", email=ERASED),
        sg_event("open", anna, 1, f"{prefix}-open", email=ERASED, useragent=PHONE_UA),
        sg_event("click", anna, 1, f"{prefix}-click", email=ERASED, url=LINK, useragent=PHONE_UA),
    ]


def annas_failures(pair: Pair, prefix: str = "a") -> list[dict[str, object]]:
    """A hard bounce and a spam report of Anna's address."""
    return [
        sg_event("bounce", pair.anna, 1, f"{prefix}-bounce", email=ERASED, type="bounce"),
        sg_event("spamreport", pair.anna, 1, f"{prefix}-spam", email=ERASED),
    ]


def berts_open(pair: Pair, key: str = "b-open") -> dict[str, object]:
    """Bert's open, in the same batch as Anna's events."""
    return sg_event("open", pair.bert, 1, key, email=BYSTANDER, useragent="Bert's laptop")


def store_batch(client: Any, signer: SendGridSigner, events: list[dict[str, object]]) -> None:
    """Post EVENTS to the signed webhook: stored, not ingested yet."""
    body = body_of(events)
    response = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    assert response.status_code == 200, response.get_json()


def forget(runtime: Runtime, email: str = ERASED) -> Any:
    """Run `nurture subscribers forget --yes EMAIL` on the test's runtime."""
    return CliRunner().invoke(
        cli, ["subscribers", "forget", "--yes", email], obj={"runtime": runtime}
    )


def links_to(runtime: Runtime, made: Made) -> dict[str, Any]:
    """Return what points at MADE: their events, consent entries and delivery counters."""
    deliveries = list(made.delivery_ids.values())
    with runtime.session() as session:
        events = session.execute(
            select(EmailEvent.kind, EmailEvent.user_agent, EmailEvent.url).where(
                (EmailEvent.subscriber_id == made.subscriber_id)
                | EmailEvent.delivery_id.in_(deliveries)
            )
        ).all()
        consent = session.scalars(
            select(ConsentEvent.kind).where(ConsentEvent.subscriber_id == made.subscriber_id)
        ).all()
        engagement = session.execute(
            select(
                Delivery.human_opens, Delivery.machine_opens, Delivery.clicks, Delivery.delivered_at
            ).where(Delivery.id.in_(deliveries))
        ).all()
    return {
        "events": sorted(tuple(row) for row in events),
        "consent": sorted(consent),
        "engagement": [tuple(row) for row in engagement],
    }


def kept_bodies(runtime: Runtime) -> str:
    """Return every kept webhook body as one lower-cased JSON text."""
    with runtime.session() as session:
        return json.dumps(session.scalars(select(WebhookBatch.body)).all()).lower()


def tagged_with(runtime: Runtime, made: Made) -> list[dict[str, Any]]:
    """Return the kept webhook events carrying MADE's subscriber tag."""
    with runtime.session() as session:
        bodies = session.scalars(select(WebhookBatch.body)).all()
    tag = str(made.subscriber_id)
    return [
        event
        for body in bodies
        for event in (body if isinstance(body, list) else [])
        if isinstance(event, dict) and str(event.get("subscriber_id")) == tag
    ]


def erasures_logged(runtime: Runtime) -> tuple[int, int]:
    """Return (audit entries of a forget, the anonymous forgotten counter)."""
    with runtime.session() as session:
        audit = session.scalar(
            select(func.count())
            .select_from(AdminAuditEntry)
            .where(AdminAuditEntry.action == "subscriber.forget")
        )
        counter = session.get(Counter, counters.FORGOTTEN)
        return int(audit or 0), counter.value if counter else 0


def suppressed(runtime: Runtime, email: str = ERASED) -> bool:
    """Tell whether EMAIL is on the hashed suppression list."""
    with runtime.session() as session:
        return is_suppressed(session, runtime.settings.secret_keys, email)
