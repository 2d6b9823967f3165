"""Events that arrive for a person after `forget` link nothing to them, and lose no one else's.

The race, played as an ordering: a webhook batch (or a pixel or click hit) of Anna is stored
before she is erased and taken in after. Her events are dropped; Bert's, in the same batch
or drain, are stored; nothing fails or waits for a retry; a bounce or complaint of hers
still lands on the hashed suppression list; the erasure is logged once.
"""

from __future__ import annotations

from typing import Any

import pytest
from erasure_support import (
    BYSTANDER,
    ERASED,
    LINK,
    PHONE_UA,
    annas_events,
    annas_failures,
    berts_open,
    erasures_logged,
    forget,
    kept_bodies,
    links_to,
    make_pair,
    store_batch,
    suppressed,
    tagged_with,
)
from sqlalchemy import select
from tracking_support import SendGridSigner

from runtime import Runtime
from store.models import EmailEvent, WebhookBatch
from tracking.hits import drain_hits
from tracking.ingest import ingest_pending

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer", "fresh_spool")


def stored_kinds(runtime: Runtime, subscriber_id: int) -> list[str]:
    with runtime.session() as session:
        kinds = session.scalars(
            select(EmailEvent.kind).where(EmailEvent.subscriber_id == subscriber_id)
        )
        return sorted(kinds)


def all_processed(runtime: Runtime) -> bool:
    with runtime.session() as session:
        pending = session.scalars(
            select(WebhookBatch.id).where(WebhookBatch.processed_at.is_(None))
        )
        return list(pending) == []


def test_a_batch_stored_before_forget_and_ingested_after_links_nothing_to_her(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])
    before = links_to(runtime, pair.anna)
    assert forget(runtime).exit_code == 0
    erased = links_to(runtime, pair.anna)

    assert ingest_pending(runtime) == 1
    assert all_processed(runtime)
    # Nothing new points at her: no event, no consent entry, no counter moved.
    assert links_to(runtime, pair.anna) == erased
    assert erased["events"] == [] and erased["engagement"] == before["engagement"]
    # Bert's open, from the same batch, is stored as ever.
    assert stored_kinds(runtime, pair.bert.subscriber_id) == ["open"]
    # The kept body keeps nothing of hers, not even her tags.
    assert tagged_with(runtime, pair.anna) == []
    kept = kept_bodies(runtime)
    for personal in (ERASED, "anna's phone", "voor=anna"):
        assert personal not in kept, personal
    assert erasures_logged(runtime) == (1, 1)


def test_a_batch_that_arrives_after_forget_links_nothing_to_her(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    assert forget(runtime).exit_code == 0
    erased = links_to(runtime, pair.anna)
    # In flight during the erase: stored after it, still quoting her address.
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])

    assert ingest_pending(runtime) == 1
    assert links_to(runtime, pair.anna) == erased
    assert stored_kinds(runtime, pair.bert.subscriber_id) == ["open"]
    assert tagged_with(runtime, pair.anna) == []
    assert ERASED not in kept_bodies(runtime)


def test_a_bounce_stored_before_forget_still_suppresses_her_address(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_failures(pair), berts_open(pair)])
    assert forget(runtime).exit_code == 0
    erased = links_to(runtime, pair.anna)
    # The erase took her address out of the pending body: it listed its hash then.
    assert ERASED not in kept_bodies(runtime)
    assert suppressed(runtime)

    assert ingest_pending(runtime) == 1
    assert suppressed(runtime) and not suppressed(runtime, BYSTANDER)
    assert links_to(runtime, pair.anna) == erased
    assert stored_kinds(runtime, pair.bert.subscriber_id) == ["open"]


def test_a_bounce_that_arrives_after_forget_suppresses_without_linking_her(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    assert forget(runtime).exit_code == 0
    erased = links_to(runtime, pair.anna)
    store_batch(client, signer, annas_failures(pair))

    assert ingest_pending(runtime) == 1
    assert suppressed(runtime)
    # No suppression entry in her consent history, no bounce event: the list holds a hash.
    assert links_to(runtime, pair.anna) == erased
    assert ERASED not in kept_bodies(runtime)


def test_hits_spooled_before_forget_and_drained_after_store_nothing_of_her(
    app: Any, client: Any, runtime: Runtime
) -> None:
    pair = make_pair(runtime)
    headers = {"User-Agent": PHONE_UA}
    for made in (pair.anna, pair.bert):
        delivery_id = made.delivery_ids[1]
        client.get(f"/o/{runtime.tokens.make_open(delivery_id)}.gif", headers=headers)
        client.get(f"/c/{runtime.tokens.make_click(delivery_id, LINK)}", headers=headers)
    before = links_to(runtime, pair.anna)
    assert forget(runtime).exit_code == 0

    app.extensions["nurture_hits"].spool.ship()
    assert drain_hits(runtime) == 4
    assert links_to(runtime, pair.anna) == before
    assert before["events"] == []
    # Bert's open and click, drained with hers, are stored.
    assert stored_kinds(runtime, pair.bert.subscriber_id) == ["click", "open"]


def test_forget_takes_her_events_out_of_bodies_already_processed(
    client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    pair = make_pair(runtime)
    store_batch(client, signer, [*annas_events(pair), berts_open(pair)])
    assert ingest_pending(runtime) == 1
    # A processed body keeps no address, but our tags and the link she clicked.
    assert len(tagged_with(runtime, pair.anna)) == 3 and "voor=anna" in kept_bodies(runtime)
    assert forget(runtime).exit_code == 0
    assert tagged_with(runtime, pair.anna) == [] and "voor=anna" not in kept_bodies(runtime)
    assert len(tagged_with(runtime, pair.bert)) == 1


def test_forget_twice_logs_one_erasure(runtime: Runtime) -> None:
    make_pair(runtime)
    assert forget(runtime).exit_code == 0
    again = forget(runtime)
    assert again.exit_code != 0
    assert erasures_logged(runtime) == (1, 1)
