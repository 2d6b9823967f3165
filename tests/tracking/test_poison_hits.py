"""One bad hit never blocks the ones behind it: a pixel or click hit the database refuses is
set aside (logged, counted, parked in Redis) and every other hit is stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import exc as sql_errors
from sqlalchemy import select
from tracking_support import T0, make_subscriber

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Counter, Delivery
from tracking.hits import PROCESSING_KEY, QUEUE_KEY, drain_hits, push_lines, queued_hits
from tracking.poison import POISON_COUNTER, POISON_KEY

pytestmark = pytest.mark.usefixtures("fresh_spool")

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://umoya.example/afspraak"
REDIS_DOWN = "redis://127.0.0.1:1/0"
DATABASE_DOWN = "postgresql://nobody@127.0.0.1:1/none"


def poison_line(delivery_id: int, kind: str = "open") -> bytes:
    """A hit of the queue's shape that no database stores: a lone surrogate (JSON allows it)."""
    stamp = (T0 + timedelta(hours=5)).timestamp()
    return f'["{kind}", {delivery_id}, "poison-{kind}", {stamp}, "\\ud800", ""]'.encode()


def good_line(delivery_id: int, key: str, kind: str = "open") -> bytes:
    stamp = (T0 + timedelta(hours=5)).timestamp()
    url = TARGET if kind == "click" else ""
    return json.dumps([kind, delivery_id, key, stamp, BROWSER_UA, url]).encode()


def poison_count(runtime: Runtime) -> int:
    with runtime.session() as session:
        value = session.scalar(select(Counter.value).where(Counter.name == POISON_COUNTER))
        return int(value or 0)


def opens_and_clicks(runtime: Runtime, delivery_id: int) -> tuple[int, int]:
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        return delivery.human_opens, delivery.clicks


def test_poison_hits_are_set_aside_and_the_queue_flows_on(
    app,
    client,
    runtime: Runtime,
    settings: Settings,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    r = redis.Redis.from_url(settings.redis_url)
    # A poison open and a poison click first in the queue, genuine hits behind them.
    r.rpush(QUEUE_KEY, poison_line(delivery_id), poison_line(delivery_id, "click"))
    clock.set(T0 + timedelta(hours=5))
    open_token = runtime.tokens.make_open(delivery_id)
    click_token = runtime.tokens.make_click(delivery_id, TARGET)
    client.get(f"/o/{open_token}.gif", headers={"User-Agent": BROWSER_UA})
    assert client.get(f"/c/{click_token}", headers={"User-Agent": BROWSER_UA}).status_code == 302
    app.extensions["nurture_hits"].spool.ship()
    with caplog.at_level(logging.ERROR, logger="tracking.poison"):
        assert drain_hits(runtime) == 4
    assert opens_and_clicks(runtime, delivery_id) == (1, 1)
    assert queued_hits(runtime) == 0
    assert poison_count(runtime) == 2
    parked = [json.loads(raw) for raw in r.lrange(POISON_KEY, 0, -1)]
    assert sorted(hit[0] for hit in parked) == ["click", "open"]
    assert sum("set aside" in record.getMessage() for record in caplog.records) == 2
    # Later hits are not held up either: the drain after it is an ordinary one.
    r.rpush(QUEUE_KEY, good_line(delivery_id, "later"))
    assert drain_hits(runtime) == 1
    assert opens_and_clicks(runtime, delivery_id) == (2, 1)


def test_a_poison_hit_in_a_large_batch_costs_only_itself(
    runtime: Runtime, settings: Settings
) -> None:
    made = make_subscriber(runtime, "bert@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    lines = [good_line(delivery_id, f"k{n}") for n in range(30)]
    lines.insert(15, poison_line(delivery_id))
    redis.Redis.from_url(settings.redis_url).rpush(QUEUE_KEY, *lines)
    assert drain_hits(runtime) == 31
    assert opens_and_clicks(runtime, delivery_id) == (30, 0)
    assert poison_count(runtime) == 1


def test_with_redis_down_poison_is_set_aside_from_the_direct_write(
    runtime: Runtime,
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
) -> None:
    made = make_subscriber(runtime, "carl@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    down = make_runtime(configure(redis_url=REDIS_DOWN))
    lines = [poison_line(delivery_id), good_line(delivery_id, "direct", "click")]
    assert push_lines(down, lines) is False  # stored in the database, not queued
    assert opens_and_clicks(runtime, delivery_id) == (0, 1)
    assert poison_count(runtime) == 1


def test_an_unreachable_database_sets_nothing_aside(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    settings: Settings,
    clean_spool: Callable[[Settings], Any],
) -> None:
    down_settings = configure(database_url=DATABASE_DOWN)
    clean_spool(down_settings)
    down = make_runtime(down_settings)
    r = redis.Redis.from_url(settings.redis_url)
    r.rpush(QUEUE_KEY, good_line(1, "a"), good_line(2, "b"))
    # The database being down is no fault of the hits: they stay queued for the next drain.
    with pytest.raises(sql_errors.OperationalError):
        drain_hits(down)
    assert r.llen(PROCESSING_KEY) + r.llen(QUEUE_KEY) == 2
    assert r.llen(POISON_KEY) == 0
