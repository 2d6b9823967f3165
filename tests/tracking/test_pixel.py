"""The open pixel and tracked links: always a GIF, no open redirect, every hit counted once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import wait_until
from sqlalchemy import func, select
from tracking_support import T0, make_subscriber

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, EmailEvent
from tracking.hits import PROCESSING_KEY, QUEUE_KEY, drain_hits, queued_hits, store_hits
from web.tracking import PIXEL_GIF

pytestmark = pytest.mark.usefixtures("fresh_spool")

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://umoya.example/afspraak?utm_source=cursus"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# Nothing listens here: Redis and PostgreSQL "down".
REDIS_DOWN = "redis://127.0.0.1:1/0"
DATABASE_DOWN = "postgresql://nobody@127.0.0.1:1/none"


def events(runtime: Runtime) -> list[EmailEvent]:
    with runtime.session() as session:
        return list(session.scalars(select(EmailEvent).order_by(EmailEvent.id)))


def ship_spool(app) -> int:
    """Seal the app's spool file and ship it, as its timer does every second."""
    return app.extensions["nurture_hits"].spool.ship()


def assert_pixel(response) -> None:
    assert response.status_code == 200
    assert response.data == PIXEL_GIF
    assert response.mimetype == "image/gif"
    assert response.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, private"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Expires"] == "0"


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


def test_hits_survive_a_drainer_that_died(
    app, client, runtime: Runtime, settings: Settings
) -> None:
    made = make_subscriber(runtime, "gert@example.com", sent_days=1)
    token = runtime.tokens.make_open(made.delivery_ids[1])
    for n in range(3):  # three readers: one reader's repeats would count once
        client.get(f"/o/{token}.gif", headers={"User-Agent": f"{BROWSER_UA} {n}"})
    ship_spool(app)
    r = redis.Redis.from_url(settings.redis_url)
    # A drainer moved two hits to the processing list, stored them, and died before cleanup.
    moved = [r.lmove(QUEUE_KEY, PROCESSING_KEY, "LEFT", "RIGHT") for _ in range(2)]
    store_hits(runtime, [json.loads(raw) for raw in moved])
    assert drain_hits(runtime) == 3
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 3
        assert session.scalar(select(func.count()).select_from(EmailEvent)) == 3
    assert queued_hits(runtime) == 0


def test_redis_down_falls_back_to_the_database(
    runtime: Runtime,
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    make_app: Callable[[Runtime], Any],
    clean_spool: Callable[[Settings], Path],
) -> None:
    made = make_subscriber(runtime, "hans@example.com", sent_days=1)
    settings = configure(redis_url=REDIS_DOWN)
    clean_spool(settings)
    down = make_runtime(settings)
    app = make_app(down)
    client = app.test_client()
    token = down.tokens.make_open(made.delivery_ids[1])
    assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
    click = down.tokens.make_click(made.delivery_ids[1], TARGET)
    assert client.get(f"/c/{click}").status_code == 302
    # The spool took both hits; with Redis down, shipping stores them in the database.
    assert ship_spool(app) == 2
    with runtime.session() as session:
        delivery = session.get(Delivery, made.delivery_ids[1])
        assert (delivery.human_opens, delivery.clicks) == (1, 1)


def test_malformed_queue_entries_do_not_jam_the_drain(
    app, client, runtime: Runtime, settings: Settings
) -> None:
    made = make_subscriber(runtime, "ida@example.com", sent_days=1)
    r = redis.Redis.from_url(settings.redis_url)
    r.rpush(QUEUE_KEY, "not json", '["open", "x", "id", "soon", "", ""]', "[1, 2]")
    r.rpush(QUEUE_KEY, '["open", 1, "id", 1e300, "", ""]')
    token = runtime.tokens.make_open(made.delivery_ids[1])
    client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA})
    ship_spool(app)
    assert drain_hits(runtime) == 5
    assert queued_hits(runtime) == 0
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1


def test_pixel_still_answers_when_redis_and_database_are_down(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    make_app: Callable[[Runtime], Any],
    clean_spool: Callable[[Settings], Path],
) -> None:
    settings = configure(redis_url=REDIS_DOWN, database_url=DATABASE_DOWN)
    clean_spool(settings)
    down = make_runtime(settings)
    client = make_app(down).test_client()
    assert_pixel(client.get(f"/o/{down.tokens.make_open(1)}.gif"))
    response = client.get(f"/c/{down.tokens.make_click(1, TARGET)}")
    assert response.status_code == 302 and response.headers["Location"] == TARGET


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int, path: str = "/ping") -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path) -> Iterator[int]:
    """Run the web app as deployed (gunicorn, one worker) with ENV; yield its port."""
    port = _free_port()
    command = [
        str(PROJECT_ROOT / ".venv/bin/gunicorn"),
        "--workers=1",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "web:create_app()",
    ]
    with log_path.open("ab") as log:
        # Its own session, so that the master and its workers can be signalled at once.
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_until(lambda: _answers(port), timeout=30), log_path.read_text()
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_hits_of_a_killed_worker_are_shipped_from_its_spool(
    settings: Settings,
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    clean_spool: Callable[[Settings], Path],
    tmp_path: Path,
) -> None:
    if not settings.is_sqlite:
        # A spool folder of its own (one per database URL and Redis URL): on the shared
        # PostgreSQL database, the spool timer of an earlier test's app in this process
        # would ship the dead worker's file before this test looks for it.
        settings = configure(database_url=f"{settings.database_url}?application_name=spooltest")
    runtime = make_runtime(settings)
    fresh_spool = clean_spool(settings)
    made = make_subscriber(runtime, "jan@example.com", sent_days=1)
    token = runtime.tokens.make_open(made.delivery_ids[1])
    # A web worker that would not ship for ten minutes: the kill lands before any shipping,
    # however slowly this machine gets from the requests to the kill.
    env = {**os.environ, "NURTURE_HIT_SHIP_SECONDS": "600"}
    with gunicorn(env, tmp_path / "gunicorn.log") as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for n in range(5):  # five readers: one reader's repeats would count once
            connection.request("GET", f"/o/{token}.gif", headers={"User-Agent": f"Firefox/128.{n}"})
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, PIXEL_GIF)
        connection.close()
        # The web worker appended the hits to its own spool file, named after its pid.
        [spooled] = fresh_spool.glob("*.open")
        pid = int(spooled.name.split("-", 1)[0])
        os.kill(pid, signal.SIGKILL)  # no shutdown, no seal, no ship
        assert wait_until(lambda: _pid_gone(pid), timeout=10), "the master did not reap it"
    # Nothing reached Redis: the hits are only in the dead worker's spool file.
    assert queued_hits(runtime) == 0
    assert len(spooled.read_bytes().splitlines()) == 5
    assert drain_hits(runtime) == 5
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 5


def test_unwritable_spool_falls_back_to_redis(client, runtime: Runtime, fresh_spool: Path) -> None:
    made = make_subscriber(runtime, "kees@example.com", sent_days=1)
    fresh_spool.parent.mkdir(parents=True, exist_ok=True)
    fresh_spool.write_text("a file where the spool folder should be")
    try:
        token = runtime.tokens.make_open(made.delivery_ids[1])
        assert_pixel(client.get(f"/o/{token}.gif", headers={"User-Agent": BROWSER_UA}))
        assert queued_hits(runtime) == 1
    finally:
        fresh_spool.unlink()
    assert drain_hits(runtime) == 1
    with runtime.session() as session:
        assert session.get(Delivery, made.delivery_ids[1]).human_opens == 1
