"""The open pixel and tracked links: always a GIF, no open redirect, every hit counted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tracking_support import (
    BROWSER_UA,
    T0,
    TARGET,
    assert_pixel,
    events,
    make_subscriber,
    ship_spool,
)

from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery
from tracking.hits import drain_hits, queued_hits

pytestmark = pytest.mark.usefixtures("fresh_spool")


def test_pixel_records_an_open(app, client, runtime: Runtime, clock: FrozenClock) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    clock.set(T0.replace(hour=12))
    token = runtime.tokens.make_open(delivery_id)
    for _ in range(2):
        assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
        # A window apart: within one, a client's repeats count once (test_replays.py).
        clock.advance(seconds=runtime.settings.hit_replay_window_seconds)
    ship_spool(app)  # the spool timer may have shipped them already
    assert queued_hits(runtime) == 2
    assert drain_hits(runtime) == 2
    assert queued_hits(runtime) == 0
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert (delivery.human_opens, delivery.machine_opens) == (2, 0)
        assert delivery.first_opened_at == T0.replace(hour=12)
    stored = events(runtime)
    assert [(e.kind, e.source, e.delivery_id, e.machine) for e in stored] == [
        ("open", "pixel", delivery_id, False)
    ] * 2
    assert stored[0].user_agent == BROWSER_UA
    assert stored[0].subscriber_id == made.subscriber_id and stored[0].day == 1


def test_pixel_machine_opens(app, client, runtime: Runtime, clock: FrozenClock) -> None:
    made = make_subscriber(runtime, "bert@example.com", sent_days=1)
    token = runtime.tokens.make_open(made.delivery_ids[1])
    with runtime.session() as session:
        sent_at = session.get(Delivery, made.delivery_ids[1]).sent_at
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    clock.set(sent_at)
    clock.advance(seconds=3)
    client.get(f"/o/{token}.gif", headers={"User-Agent": gmail})  # prefetch: machine
    client.get(f"/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0"})  # Apple MPP: machine
    client.get(f"/o/{token}.gif", headers={"User-Agent": "x" * 2000})  # over-long UA: human
    clock.advance(hours=3)
    client.get(f"/o/{token}.gif", headers={"User-Agent": gmail})  # a reader, via the proxy
    ship_spool(app)
    drain_hits(runtime)
    with runtime.session() as session:
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert (delivery.human_opens, delivery.machine_opens) == (2, 2)
        # The first open by a person was the long-UA fetch; proxy prefetches don't count.
        assert delivery.first_opened_at == sent_at + timedelta(seconds=3)
    assert max(len(e.user_agent or "") for e in events(runtime)) == 500


@pytest.mark.parametrize(
    "token",
    ["forged", "WzFd.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "WzFd", "x" * 500],
)
def test_forged_pixel_gets_the_gif_and_records_nothing(
    app, client, runtime: Runtime, token: str
) -> None:
    make_subscriber(runtime, "carl@example.com", sent_days=1)
    assert_pixel(client.get(f"/o/{token}.gif"))
    ship_spool(app)
    assert queued_hits(runtime) == 0
    drain_hits(runtime)
    assert events(runtime) == []


def test_click_token_for_another_purpose_is_refused(client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "dora@example.com", sent_days=1)
    open_token = runtime.tokens.make_open(made.delivery_ids[1])
    # An open token is validly signed, but for another purpose: not a redirect.
    response = client.get(f"/c/{open_token}")
    assert response.status_code == 404
    assert "Location" not in response.headers


def test_click_redirects_to_the_signed_url_and_is_counted(app, client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "eva@example.com", sent_days=1)
    token = runtime.tokens.make_click(made.delivery_ids[1], TARGET)
    response = client.get(f"/c/{token}", headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 302
    assert response.headers["Location"] == TARGET
    ship_spool(app)
    drain_hits(runtime)
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).clicks == 1
    assert [(e.kind, e.source, e.url) for e in events(runtime)] == [("click", "link", TARGET)]


@pytest.mark.parametrize("how", ["forged", "altered-url", "truncated"])
def test_bad_click_tokens_never_redirect(app, client, runtime: Runtime, how: str) -> None:
    made = make_subscriber(runtime, "fien@example.com", sent_days=1)
    token = runtime.tokens.make_click(made.delivery_ids[1], TARGET)
    _payload, signature = token.rsplit(".", 1)
    bad = {
        "forged": "evil.token",
        "altered-url": runtime.tokens.make_click(
            made.delivery_ids[1], "https://evil.example"
        ).split(".")[0]
        + "."
        + signature,
        "truncated": token[:-3],
    }[how]
    response = client.get(f"/c/{bad}")
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert "Deze link werkt niet" in response.get_data(as_text=True)
    ship_spool(app)
    drain_hits(runtime)
    assert events(runtime) == []
