"""Hits are never lost: a drainer that died, Redis or the database down, bad queue entries, a
killed gunicorn worker's spool, an unwritable spool."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import wait_until
from sqlalchemy import func, select
from tracking_support import (
    BROWSER_UA,
    DATABASE_DOWN,
    REDIS_DOWN,
    TARGET,
    assert_pixel,
    make_subscriber,
    ship_spool,
)

from config import Settings
from runtime import Runtime
from store.models import Delivery, EmailEvent
from tracking.hits import PROCESSING_KEY, QUEUE_KEY, drain_hits, queued_hits, store_hits
from web.tracking import PIXEL_GIF

pytestmark = pytest.mark.usefixtures("fresh_spool")

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


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
