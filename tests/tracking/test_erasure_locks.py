"""PostgreSQL: an erase and an ingest (or a drain of hits) that overlap take turns, cleanly.

Each test pauses one side just before its commit (erasure_locks_support), starts the other
(`nurture subscribers forget` as a process, or a drain in a thread), and lets go. Whichever
started first wins; the other sees its result.
SQLite needs none of this: every transaction takes the write lock at BEGIN (store.db).
"""

from __future__ import annotations

from typing import Any

import pytest
from erasure_locks_support import (
    WAIT_SECONDS,
    Running,
    counter_held,
    finished,
    lock_waits,
    start_forget,
)
from erasure_support import (
    ERASED,
    LINK,
    PHONE_UA,
    Pair,
    annas_events,
    berts_open,
    erasures_logged,
    kept_bodies,
    links_to,
    make_pair,
    store_batch,
    tagged_with,
)
from helpers import wait_until
from tracking_support import SendGridSigner

from runtime import Runtime
from subscribers import counters
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending
from tracking.tallies import HIT_PREFIX, event_counter

pytestmark = [
    pytest.mark.usefixtures("signer", "fresh_spool"),
    pytest.mark.parametrize(
        "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
    ),
]


def spool_hits(app: Any, client: Any, runtime: Runtime, pair: Pair) -> None:
    """Open and click lesson 1 as Anna and as Bert, and ship the hits to the Redis queue."""
    for made in (pair.anna, pair.bert):
        delivery_id = made.delivery_ids[1]
        headers = {"User-Agent": PHONE_UA}
        client.get(f"/o/{runtime.tokens.make_open(delivery_id)}.gif", headers=headers)
        client.get(f"/c/{runtime.tokens.make_click(delivery_id, LINK)}", headers=headers)
    app.extensions["nurture_hits"].spool.ship()


def test_hits_drained_while_forget_is_under_way_wait_and_are_dropped(
    app: Any, client: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    spool_hits(app, client, runtime, pair)
    erased_before = links_to(runtime, pair.anna)
    with counter_held(runtime, counters.FORGOTTEN) as release:
        erasing = start_forget()  # stops at its count, with all its erasing done
        assert wait_until(lambda: lock_waits(runtime) == 1, WAIT_SECONDS)
        drainer = Running(drain_hits, runtime)
        assert wait_until(lambda: lock_waits(runtime) == 2, WAIT_SECONDS)
        release()
        assert finished(erasing)[0] == 0
        assert drainer.join() == 4
    # The erase committed first: the hits found her forgotten and stored nothing of hers.
    assert links_to(runtime, pair.anna) == erased_before
    assert len(links_to(runtime, pair.bert)["events"]) == 2
    assert erasures_logged(runtime) == (1, 1)


def test_forget_waits_for_hits_being_stored_then_erases_them(
    app: Any, client: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    spool_hits(app, client, runtime, pair)
    with counter_held(runtime, HIT_PREFIX + "click") as release:
        drainer = Running(drain_hits, runtime)  # stops at its count, events inserted
        assert wait_until(lambda: lock_waits(runtime) == 1, WAIT_SECONDS)
        erasing = start_forget()
        assert wait_until(lambda: lock_waits(runtime) == 2, WAIT_SECONDS)
        release()
        assert drainer.join() == 4
        assert finished(erasing)[0] == 0
    # The hits committed first, so they are hers from before the erase: kept, without text.
    events = links_to(runtime, pair.anna)["events"]
    assert sorted(kind for kind, _, _ in events) == ["click", "open"]
    assert all(agent is None and url is None for _, agent, url in events)
    assert erasures_logged(runtime) == (1, 1)


def test_forget_waits_for_an_ingest_under_way_and_erases_what_it_stored(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])
    with counter_held(runtime, event_counter("open")) as release:
        ingest = Running(ingest_pending, runtime)
        assert wait_until(lambda: lock_waits(runtime) == 1, WAIT_SECONDS)
        erasing = start_forget()
        assert wait_until(lambda: lock_waits(runtime) == 2, WAIT_SECONDS)
        release()
        assert ingest.join() == 1
        assert finished(erasing)[0] == 0
    events = links_to(runtime, pair.anna)["events"]
    assert sorted(kind for kind, _, _ in events) == ["click", "delivered", "open"]
    assert all(agent is None and url is None for _, agent, url in events)
    # The processed body keeps nothing of hers, and nobody's user agent came back into it.
    assert tagged_with(runtime, pair.anna) == []
    kept = kept_bodies(runtime)
    assert ERASED not in kept and "bert's laptop" not in kept and "voor=anna" not in kept


def test_an_ingest_while_forget_is_under_way_waits_and_drops_her_events(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])
    erased_before = links_to(runtime, pair.anna)
    with counter_held(runtime, counters.FORGOTTEN) as release:
        erasing = start_forget()
        assert wait_until(lambda: lock_waits(runtime) == 1, WAIT_SECONDS)
        ingest = Running(ingest_pending, runtime)
        assert wait_until(lambda: lock_waits(runtime) == 2, WAIT_SECONDS)
        release()
        assert finished(erasing)[0] == 0
        assert ingest.join() == 1
    assert links_to(runtime, pair.anna) == erased_before
    assert len(links_to(runtime, pair.bert)["events"]) == 1
    assert tagged_with(runtime, pair.anna) == []


def test_two_forgets_at_once_erase_and_log_once(runtime: Runtime) -> None:
    make_pair(runtime)
    with counter_held(runtime, counters.FORGOTTEN) as release:
        first = start_forget()
        assert wait_until(lambda: lock_waits(runtime) == 1, WAIT_SECONDS)
        second = start_forget()
        assert wait_until(lambda: lock_waits(runtime) == 2, WAIT_SECONDS)
        release()
        assert finished(first)[0] == 0
        code, output = finished(second)
    assert code != 0 and "no subscriber" in output
    assert erasures_logged(runtime) == (1, 1)
