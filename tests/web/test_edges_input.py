"""The edges, malformed input: deeply nested JSON is a 400 and a signup body over a few KB a 413.

The findings: deeply nested JSON on POST /subscribe or the webhook raised RecursionError (a
500), and /subscribe read bodies up to 1 MB although a signup is three short fields.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from subscribers_support import ADDRESS, all_subscribers, signup_form
from tracking_support import SendGridSigner, body_of

from config import Settings
from runtime import Runtime
from store.models import WebhookBatch
from web import create_app
from web.public import MESSAGES

WEBHOOK = "/webhooks/sendgrid"

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def nested(depth: int) -> str:
    """Return a JSON array nested DEPTH levels deep."""
    return "[" * depth + "]" * depth


def batches(runtime: Runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(WebhookBatch)) or 0


def test_deeply_nested_json_signup_is_a_dutch_400(client, runtime: Runtime) -> None:
    # Within the size limit, and far deeper than the parser's recursion allows.
    body = '{"email": "' + ADDRESS + '", "consent": true, "name": ' + nested(4000) + "}"
    assert len(body) < runtime.settings.subscribe_max_bytes
    response = client.post("/subscribe", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"errors": {"body": MESSAGES["too_deep"]}}
    assert all_subscribers(runtime) == []


def test_deeply_nested_json_signup_is_a_400_at_any_size_limit(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(configure(subscribe_max_bytes=1_000_000))
    client = create_app(runtime=runtime).test_client()
    body = '{"email": ' + nested(200_000) + "}"
    response = client.post(
        "/subscribe", data=body, content_type="application/json", headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert "te diep genest" in response.get_data(as_text=True)
    assert all_subscribers(runtime) == []


@pytest.mark.parametrize("kind", ["form", "json"])
def test_signup_bodies_over_the_limit_are_a_dutch_413(client, runtime: Runtime, kind: str) -> None:
    limit = runtime.settings.subscribe_max_bytes
    assert limit <= 16 * 1024  # "a few KB"
    fields = signup_form(name="Anna", notes="x" * limit)
    if kind == "form":
        response = client.post("/subscribe", data=fields)
        assert "te groot" in response.get_data(as_text=True)
    else:
        response = client.post("/subscribe", json=fields)
        assert response.json == {"errors": {"body": MESSAGES["too_large"]}}
    assert response.status_code == 413
    assert all_subscribers(runtime) == []


def test_a_chunked_signup_body_cannot_pass_the_limit(client, runtime: Runtime) -> None:
    """No Content-Length to check up front: reading stops at the limit."""
    body = json.dumps(signup_form(notes="x" * 3 * runtime.settings.subscribe_max_bytes)).encode()
    response = client.post(
        "/subscribe",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert all_subscribers(runtime) == []


def test_a_signup_within_the_limit_still_works(client, runtime: Runtime) -> None:
    response = client.post("/subscribe", data=signup_form(name="Anna " + "x" * 30))
    assert response.status_code == 200
    assert [subscriber.email for subscriber in all_subscribers(runtime)] == [ADDRESS]


def test_deeply_nested_webhook_body_is_a_400(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    for body in (
        nested(100_000).encode(),
        body_of([{"event": "open", "x": json.loads(nested(40))}]),
    ):
        response = client.post(WEBHOOK, data=body, headers=signer.headers(body))
        assert response.status_code == 400
        assert response.json == {"error": "body is nested too deeply"}
    assert batches(runtime) == 0


def test_webhook_keeps_its_own_larger_limit(
    client, runtime: Runtime, signer: SendGridSigner
) -> None:
    events: list[dict[str, Any]] = [
        {"event": "processed", "sg_event_id": f"big-{n}", "email": "x@example.com"}
        for n in range(400)
    ]
    body = body_of(events)
    assert len(body) > 2 * runtime.settings.subscribe_max_bytes
    response = client.post(WEBHOOK, data=body, headers=signer.headers(body))
    assert response.status_code == 200
    assert batches(runtime) == 1
