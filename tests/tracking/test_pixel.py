"""The open pixel and tracked links: always a GIF, no open redirect, every hit counted once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select
from test_tracking_support import T0, fresh_spool, make_subscriber, redis_url

from config import Settings, reset_settings_cache
from emails.tokens import make_click_token, make_open_token
from store.clock import FrozenClock, set_clock
from store.db import session_scope
from store.models import Delivery, EmailEvent
from tracking.hits import PROCESSING_KEY, QUEUE_KEY, drain_hits, queued_hits, store_hits
from tracking.spool import ship_spool
from web import create_app
from web.tracking import PIXEL_GIF

pytestmark = pytest.mark.usefixtures("fresh_spool")
_ = (fresh_spool, redis_url)  # fixtures, imported so pytest finds them here

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://umoya.example/afspraak?utm_source=cursus"


@pytest.fixture
def client(settings: Settings):
    return create_app(settings).test_client()


def events() -> list[EmailEvent]:
    with session_scope() as session:
        return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


def assert_pixel(response) -> None:
    assert response.status_code == 200
    assert response.data == PIXEL_GIF
    assert response.mimetype == "image/gif"
    assert response.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, private"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Expires"] == "0"


def test_pixel_records_an_open(client) -> None:
    made = make_subscriber("anna@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    set_clock(FrozenClock(T0.replace(hour=12)))
    token = make_open_token(delivery_id)
    for _ in range(2):
        assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
    ship_spool()  # the spool timer may have shipped them already
    assert queued_hits() == 2
    assert drain_hits() == 2
    assert queued_hits() == 0
    with session_scope() as session:
        delivery = session.get(Delivery, delivery_id)
        assert (delivery.human_opens, delivery.machine_opens) == (2, 0)
        assert delivery.first_opened_at == T0.replace(hour=12)
    stored = events()
    assert [(e.kind, e.source, e.delivery_id, e.machine) for e in stored] == [
        ("open", "pixel", delivery_id, False)
    ] * 2
    assert stored[0].user_agent == BROWSER_UA
    assert stored[0].subscriber_id == made.subscriber_id and stored[0].day == 1


def test_pixel_machine_opens(client) -> None:
    made = make_subscriber("bert@example.com", sent_days=1)
    token = make_open_token(made.delivery_ids[1])
    with session_scope() as session:
        sent_at = session.get(Delivery, made.delivery_ids[1]).sent_at
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    clock = FrozenClock(sent_at)
    set_clock(clock)
    clock.advance(seconds=3)
    client.get(f"/o/{token}.gif", headers={"User-Agent": gmail})  # prefetch: machine
    client.get(f"/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0"})  # Apple MPP: machine
    client.get(f"/o/{token}.gif", headers={"User-Agent": "x" * 2000})  # over-long UA: human
    clock.advance(hours=3)
    client.get(f"/o/{token}.gif", headers={"User-Agent": gmail})  # a reader, via the proxy
    drain_hits()
    with session_scope() as session:
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert (delivery.human_opens, delivery.machine_opens) == (2, 2)
        # The first open by a person was the long-UA fetch; proxy prefetches don't count.
        assert delivery.first_opened_at == sent_at + timedelta(seconds=3)
    assert max(len(e.user_agent or "") for e in events()) == 500


@pytest.mark.parametrize(
    "token",
    ["forged", "WzFd.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "WzFd", "x" * 500],
)
def test_forged_pixel_gets_the_gif_and_records_nothing(client, token: str) -> None:
    make_subscriber("carl@example.com", sent_days=1)
    assert_pixel(client.get(f"/o/{token}.gif"))
    ship_spool()
    assert queued_hits() == 0
    drain_hits()
    assert events() == []


def test_click_token_for_another_purpose_is_refused(client) -> None:
    made = make_subscriber("dora@example.com", sent_days=1)
    open_token = make_open_token(made.delivery_ids[1])
    # An open token is validly signed, but for another purpose: not a redirect.
    response = client.get(f"/c/{open_token}")
    assert response.status_code == 404
    assert "Location" not in response.headers


def test_click_redirects_to_the_signed_url_and_is_counted(client) -> None:
    made = make_subscriber("eva@example.com", sent_days=1)
    token = make_click_token(made.delivery_ids[1], TARGET)
    response = client.get(f"/c/{token}", headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 302
    assert response.headers["Location"] == TARGET
    drain_hits()
    with session_scope() as session:
        assert session.get(Delivery, made.delivery_ids[1]).clicks == 1
    assert [(e.kind, e.source, e.url) for e in events()] == [("click", "link", TARGET)]


@pytest.mark.parametrize("how", ["forged", "altered-url", "truncated"])
def test_bad_click_tokens_never_redirect(client, how: str) -> None:
    made = make_subscriber("fien@example.com", sent_days=1)
    token = make_click_token(made.delivery_ids[1], TARGET)
    _payload, signature = token.rsplit(".", 1)
    bad = {
        "forged": "evil.token",
        "altered-url": make_click_token(made.delivery_ids[1], "https://evil.example").split(".")[0]
        + "."
        + signature,
        "truncated": token[:-3],
    }[how]
    response = client.get(f"/c/{bad}")
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert "Deze link werkt niet" in response.get_data(as_text=True)
    drain_hits()
    assert events() == []


def test_hits_survive_a_drainer_that_died(client, settings: Settings) -> None:
    made = make_subscriber("gert@example.com", sent_days=1)
    token = make_open_token(made.delivery_ids[1])
    for _ in range(3):
        client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA})
    ship_spool()
    r = redis.Redis.from_url(settings.redis_url)
    # A drainer moved two hits to the processing list, stored them, and died before cleanup.
    moved = [r.lmove(QUEUE_KEY, PROCESSING_KEY, "LEFT", "RIGHT") for _ in range(2)]
    store_hits([json.loads(raw) for raw in moved])
    assert drain_hits() == 3
    with session_scope() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 3
        assert session.scalar(select(func.count()).select_from(EmailEvent)) == 3
    assert queued_hits() == 0


def test_redis_down_falls_back_to_the_database(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_subscriber("hans@example.com", sent_days=1)
    monkeypatch.setenv("NURTURE_REDIS_URL", "redis://127.0.0.1:1/0")
    reset_settings_cache()
    client = create_app().test_client()
    token = make_open_token(made.delivery_ids[1])
    assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
    click = make_click_token(made.delivery_ids[1], TARGET)
    assert client.get(f"/c/{click}").status_code == 302
    # The spool took both hits; with Redis down, shipping stores them in the database.
    assert ship_spool() == 2
    with session_scope() as session:
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert (delivery.human_opens, delivery.clicks) == (1, 1)


def test_malformed_queue_entries_do_not_jam_the_drain(client, settings: Settings) -> None:
    made = make_subscriber("ida@example.com", sent_days=1)
    r = redis.Redis.from_url(settings.redis_url)
    r.rpush(QUEUE_KEY, "not json", '["open", "x", "id", "soon", "", ""]', "[1, 2]")
    r.rpush(QUEUE_KEY, '["open", 1, "id", 1e300, "", ""]')
    token = make_open_token(made.delivery_ids[1])
    client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA})
    assert drain_hits() == 5
    assert queued_hits() == 0
    with session_scope() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1


def test_pixel_still_answers_when_redis_and_database_are_down(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("NURTURE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    reset_settings_cache()
    client = create_app().test_client()
    assert_pixel(client.get(f"/o/{make_open_token(1)}.gif"))
    response = client.get(f"/c/{make_click_token(1, TARGET)}")
    assert response.status_code == 302 and response.headers["Location"] == TARGET


def test_hits_of_a_killed_worker_are_shipped_from_its_spool(settings: Settings) -> None:
    made = make_subscriber("jan@example.com", sent_days=1)
    script = (
        "import os, signal\n"
        "from tracking.hits import record_hit\n"
        f"for _ in range(5): record_hit('open', {made.delivery_ids[1]}, 'Firefox/128.0')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # no shutdown, no seal, no ship
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=dict(os.environ))
    assert done.returncode == -signal.SIGKILL
    assert drain_hits() == 5
    with session_scope() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 5


def test_unwritable_spool_falls_back_to_redis(
    client, settings: Settings, fresh_spool: Path
) -> None:
    made = make_subscriber("kees@example.com", sent_days=1)
    fresh_spool.parent.mkdir(parents=True, exist_ok=True)
    fresh_spool.write_text("a file where the spool folder should be")
    try:
        token = make_open_token(made.delivery_ids[1])
        assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
        assert queued_hits() == 1
    finally:
        fresh_spool.unlink()
    assert drain_hits() == 1
    with session_scope() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1
