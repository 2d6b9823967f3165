"""Replays inflate nothing: a leaked pixel or click counts once per client and minute, and an
exact replay of a signed webhook batch is acknowledged without being stored again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tracking_support import T0, SendGridSigner, body_of, make_subscriber, sg_event

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, EmailEvent, WebhookBatch
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending

pytestmark = pytest.mark.usefixtures("fresh_spool", "signer")

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://umoya.example/afspraak"
OTHER_TARGET = "https://umoya.example/oefeningen"
CLIENT_A, CLIENT_B = "203.0.113.7", "198.51.100.9"
WEBHOOK = "/webhooks/sendgrid"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
REDIS_DOWN = "redis://127.0.0.1:1/0"


def fetch(client: Any, path: str, address: str, clock: FrozenClock, times: int) -> None:
    """Fetch PATH TIMES times from ADDRESS, a quarter second apart (50 s for 200)."""
    for _ in range(times):
        response = client.get(
            path, headers={"User-Agent": BROWSER_UA}, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code in (200, 302)
        clock.advance(seconds=0.25)


def store_all(app: Any, runtime: Runtime) -> None:
    app.extensions["nurture_hits"].spool.ship()
    drain_hits(runtime)


def counts(runtime: Runtime, delivery_id: int) -> tuple[int, int, int]:
    """Return (human opens, clicks, events stored) of DELIVERY_ID."""
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        events = session.scalar(select(func.count()).where(EmailEvent.delivery_id == delivery_id))
        return delivery.human_opens, delivery.clicks, int(events or 0)


def test_a_leaked_pixel_counts_once_per_client_and_minute(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    pixel = f"/o/{runtime.tokens.make_open(delivery_id)}.gif"
    clock.set(T0.replace(hour=12))  # the start of a minute
    fetch(client, pixel, CLIENT_A, clock, 200)
    store_all(app, runtime)
    assert counts(runtime, delivery_id) == (1, 0, 1)  # 200 requests, one open

    clock.set(T0.replace(hour=12, second=10))
    fetch(client, pixel, CLIENT_B, clock, 200)  # another client, same minute
    store_all(app, runtime)
    assert counts(runtime, delivery_id) == (2, 0, 2)

    clock.set(T0.replace(hour=12) + timedelta(seconds=runtime.settings.hit_replay_window_seconds))
    fetch(client, pixel, CLIENT_A, clock, 3)  # the first client, a window later
    store_all(app, runtime)
    assert counts(runtime, delivery_id) == (3, 0, 3)


def test_a_leaked_link_counts_once_per_client_url_and_minute(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "bert@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    link = f"/c/{runtime.tokens.make_click(delivery_id, TARGET)}"
    other = f"/c/{runtime.tokens.make_click(delivery_id, OTHER_TARGET)}"
    clock.set(T0.replace(hour=12))
    fetch(client, link, CLIENT_A, clock, 200)
    fetch(client, other, CLIENT_A, clock, 5)  # another link of the same mail: its own click
    fetch(client, link, CLIENT_B, clock, 5)
    store_all(app, runtime)
    assert counts(runtime, delivery_id) == (0, 3, 3)
    clock.advance(minutes=1)
    fetch(client, link, CLIENT_A, clock, 5)
    store_all(app, runtime)
    assert counts(runtime, delivery_id) == (0, 4, 4)


def test_hit_keys_hold_no_address_or_user_agent(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "carl@example.com", sent_days=1)
    clock.set(T0.replace(hour=12))
    fetch(client, f"/o/{runtime.tokens.make_open(made.delivery_ids[1])}.gif", CLIENT_A, clock, 1)
    store_all(app, runtime)
    with runtime.session() as session:
        [key] = session.scalars(select(EmailEvent.event_key))
    assert CLIENT_A not in key and "Firefox" not in key
    assert len(key) <= 100


def test_exact_replay_of_a_signed_batch_is_acknowledged_and_not_stored(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, "dora@example.com", sent_days=1)
    body = body_of(
        [
            sg_event("delivered", made, 1, "r-delivered"),
            sg_event("open", made, 1, "r-open", useragent="Mozilla/5.0 Firefox/120"),
        ]
    )
    headers = signer.headers(body)
    first = client.post(WEBHOOK, data=body, headers=headers)
    assert first.status_code == 200 and first.get_json()["stored"] == 2
    for _ in range(3):
        replay = client.post(WEBHOOK, data=body, headers=headers)
        assert replay.status_code == 200
        assert replay.get_json()["stored"] == 0
    # A fresh signature over the same timestamp and body signs the same POST: a replay too.
    resigned = signer.headers(body, int(headers[TIMESTAMP_HEADER]))
    assert resigned != headers
    assert client.post(WEBHOOK, data=body, headers=resigned).get_json()["stored"] == 0
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookBatch)) == 1
    assert ingest_pending(runtime) == 1
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1


def test_a_new_post_of_the_same_events_is_stored_and_counted_once(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    made = make_subscriber(runtime, "eva@example.com", sent_days=1)
    body = body_of([sg_event("open", made, 1, "n-open", useragent="Mozilla/5.0 Firefox/120")])
    stamp = int(signer.headers(body)[TIMESTAMP_HEADER])
    # SendGrid retrying signs again with a new timestamp: not the same POST, so it is stored.
    for offset in (0, 1):
        response = client.post(WEBHOOK, data=body, headers=signer.headers(body, stamp + offset))
        assert response.get_json()["stored"] == 1
    ingest_pending(runtime)
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1


def test_with_redis_down_a_replay_is_stored_but_counted_once(
    runtime: Runtime,
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    make_app: Callable[[Runtime], Any],
    signer: SendGridSigner,
) -> None:
    made = make_subscriber(runtime, "fien@example.com", sent_days=1)
    down = make_runtime(
        configure(redis_url=REDIS_DOWN, sendgrid_webhook_public_key=signer.public_key)
    )
    client = make_app(down).test_client()
    body = body_of([sg_event("open", made, 1, "d-open", useragent="Mozilla/5.0 Firefox/120")])
    headers = signer.headers(body)
    for _ in range(2):
        assert client.post(WEBHOOK, data=body, headers=headers).status_code == 200
    ingest_pending(runtime)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookBatch)) == 2
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1
