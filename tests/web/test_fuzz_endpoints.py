"""Hypothesis throws hostile input at the confirm page, unsubscribe, the webhook and the admin
search: never a 5xx, and nothing stored that should not be."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import func, select
from tracking_support import SendGridSigner, make_subscriber

from runtime import Runtime
from store.models import Base, WebhookBatch
from web import create_app

EXAMPLES = 120
PASSWORD = "test-admin-password"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# Ids the fuzz may sign: none names a row of this small database.
EDGE_IDS = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 2**70, -(2**63), 10**30]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
foreign_ids = st.one_of(
    st.sampled_from(EDGE_IDS), st.integers().filter(lambda n: not 0 < n < 10_000)
)
payloads = st.one_of(foreign_ids, json_values)
raw_tokens = st.one_of(
    st.text(max_size=120),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", max_size=200
    ),
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.just("x" * 5000),
)
# A plausible SendGrid event: their keys with random values, so more reach the ingest.
event_keys = st.sampled_from(
    [
        "event",
        "timestamp",
        "sg_event_id",
        "sg_message_id",
        "email",
        "delivery_id",
        "subscriber_id",
        "course",
        "day",
        "reason",
        "type",
        "url",
        "useragent",
        "category",
    ]
)
events = st.dictionaries(st.one_of(event_keys, st.text(max_size=8)), json_values, max_size=8)
webhook_bodies = st.one_of(st.lists(events, max_size=4), json_values)

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what 'nothing stored' compares."""
    with runtime.session() as session:
        return {
            table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


def fuzz(*strategies: Any) -> Callable[[Callable[..., None]], Callable[[], None]]:
    return lambda test: hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(*strategies)(test))


@pytest.fixture
def fuzz_client(runtime: Runtime) -> Any:
    make_subscriber(runtime, "anna@example.com", sent_days=2)
    make_subscriber(runtime, "bert@example.com", sent_days=0, confirmed=False)
    app = create_app(runtime=runtime, RATELIMIT_ENABLED=False)
    yield app.test_client()
    app.extensions["nurture_hits"].spool.stop()


def test_confirm_and_unsubscribe_never_break_or_change_anything(
    fuzz_client: Any, runtime: Runtime
) -> None:
    secret = runtime.settings.secret_key
    # Validly signed tokens with payloads no real token carries, beside forged ones.
    signed_confirm = payloads.map(
        lambda value: URLSafeTimedSerializer(secret, salt="nurture.confirm").dumps({"c": value})
    )
    signed_bare = payloads.map(
        lambda value: URLSafeTimedSerializer(secret, salt="nurture.confirm").dumps(value)
    )
    signed_unsubscribe = payloads.map(
        lambda value: URLSafeSerializer(secret, salt="nurture.unsubscribe").dumps(value)
    )
    tokens = st.one_of(raw_tokens, signed_confirm, signed_bare, signed_unsubscribe)
    before = snapshot(runtime)
    seen: set[int] = set()

    @fuzz(tokens, st.sampled_from(["GET /confirm", "POST /confirm", "POST /unsubscribe"]))
    def visit(token: str, where: str) -> None:
        method, path = where.split(" ")
        url = f"{path}/{quote(token, safe='')}"
        response = fuzz_client.open(url, method=method, data={"bevestig": "ja"})
        seen.add(response.status_code)
        assert response.status_code < 500, (url, response.get_data(as_text=True)[:300])

    visit()
    assert snapshot(runtime) == before
    assert seen & {400, 404, 410}


def test_webhook_bodies_never_break_it_and_only_signed_events_are_kept(
    fuzz_client: Any, runtime: Runtime, signer: SendGridSigner
) -> None:
    from tracking.ingest import ingest_pending

    taken: set[tuple[str, bytes]] = set()

    @fuzz(webhook_bodies, st.booleans())
    def post(body_value: Any, signed: bool) -> None:
        body = json.dumps(body_value).encode()
        headers = signer.headers(body) if signed else {"Content-Type": "application/json"}
        # The same body signed in the same second is the same POST: a replay, not stored.
        replay = (headers.get(TIMESTAMP_HEADER, ""), body)
        with runtime.session() as session:
            before = session.scalar(select(func.count()).select_from(WebhookBatch))
        response = fuzz_client.post("/webhooks/sendgrid", data=body, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        with runtime.session() as session:
            after = session.scalar(select(func.count()).select_from(WebhookBatch))
        events_posted = (
            isinstance(body_value, list)
            and len(body_value) > 0
            and all(isinstance(event, dict) for event in body_value)
        )
        if not signed:
            assert response.status_code == 403 and after == before
        elif events_posted:
            assert response.status_code == 200
            assert after == before + (replay not in taken)
            taken.add(replay)
        else:
            assert after == before

    post()
    ingest_pending(runtime)  # whatever was signed and stored is applied without an error
    with runtime.session() as session:
        assert session.scalar(select(func.count()).where(WebhookBatch.processed_at.is_(None))) == 0


def test_admin_search_never_breaks_or_changes_anything(fuzz_client: Any, runtime: Runtime) -> None:
    token = base64.b64encode(f"beheer:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    queries = st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            ["%", "_", "\\", "%_\\%", "\x00", "anna\x00", "'; DROP TABLE x;--", "ä" * 400]
        ),
    )
    pages = st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=10))
    before = snapshot(runtime)

    @fuzz(queries, pages)
    def search(query: str, page: str) -> None:
        response = fuzz_client.get(
            "/admin/subscribers", query_string={"q": query, "page": page}, headers=headers
        )
        assert response.status_code == 200, (query, page, response.get_data(as_text=True)[:300])

    search()
    assert snapshot(runtime) == before
