"""Issue 12, section 3: double opt-in that a link scanner cannot complete, and its evidence.

A GET of the confirm link confirms nothing; the POST does. A link names one confirmation
email, so once a newer one went out the older links stop. Signup, confirmation, unsubscribe
and resubscribe are appended to the consent history, which `subscribers export` shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from click.testing import CliRunner
from helpers import T0
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from subscribers_support import (
    ADDRESS,
    confirm_path,
    confirmations_of,
    consent_events,
    counter_value,
    latest_confirmation,
    mark_sent,
    signup_form,
    subscriber_by_email,
)

from cli.main import cli
from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Enrollment, Subscriber, SubscriberStatus
from subscribers import counters
from subscribers.consent import consent_text_sha256
from web import create_app

VISITOR_IP = "203.0.113.45"
SCANNER_IP = "198.51.100.7"
SCANNER_UA = "Mozilla/5.0 (compatible; Microsoft Office SafeLinks scanner)"


def _signed_up(client: Any, runtime: Runtime, **form: str) -> int:
    response = client.post(
        "/subscribe", data=signup_form(**form), environ_base={"REMOTE_ADDR": VISITOR_IP}
    )
    assert response.status_code == 200
    subscriber = subscriber_by_email(runtime, form.get("email", ADDRESS))
    assert subscriber is not None
    return subscriber.id


def _status(runtime: Runtime, subscriber_id: int) -> str:
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return row.status


def _enrollments(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(Enrollment)) or 0)


def _hmac(settings: Settings, ip: str) -> str:
    return hmac.new(settings.secret_key.encode(), ip.encode(), hashlib.sha256).hexdigest()


def test_a_get_of_the_confirm_link_shows_a_button_and_confirms_nothing(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    path = confirm_path(runtime, subscriber_id)
    for _ in range(3):  # scanners fetch a link more than once, and also ask for HEAD
        response = client.get(
            path, headers={"User-Agent": SCANNER_UA}, environ_base={"REMOTE_ADDR": SCANNER_IP}
        )
        assert response.status_code == 200
        assert client.head(path).status_code == 200
    page = response.get_data(as_text=True)
    assert "Bevestig je aanmelding" in page
    assert f'<form class="confirm-form" method="post" action="{path}" data-auto-submit>' in page
    assert page.count("<button") == 1 and "Ja, ik bevestig mijn aanmelding" in page
    # The self-hosted script that presses the button for a browser; no inline code (CSP).
    assert '<script src="/static/confirm.js" defer></script>' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    script = client.get("/static/confirm.js")
    assert script.status_code == 200 and b"form.submit()" in script.data
    # Nothing happened: still pending, no course, no counter, no confirmation event.
    assert _status(runtime, subscriber_id) == SubscriberStatus.PENDING
    assert _enrollments(runtime) == 0
    assert counter_value(runtime, counters.CONFIRMATIONS) == 0
    assert [e.kind for e in consent_events(runtime, subscriber_id)] == ["signup"]

    clock.advance(minutes=3)
    confirmed = client.post(path, environ_base={"REMOTE_ADDR": VISITOR_IP})
    assert confirmed.status_code == 200 and "Welkom, Anna!" in confirmed.get_data(as_text=True)
    assert _status(runtime, subscriber_id) == SubscriberStatus.CONFIRMED
    assert _enrollments(runtime) == 1
    # After the POST the same link's page says so, still without changing anything.
    again = client.get(path)
    assert again.status_code == 200 and "al bevestigd" in again.get_data(as_text=True)
    assert _enrollments(runtime) == 1


def test_signup_and_confirmation_are_recorded_as_evidence(
    client: Any, runtime: Runtime, settings: Settings, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    clock.advance(minutes=4)
    client.post(confirm_path(runtime, subscriber_id), environ_base={"REMOTE_ADDR": VISITOR_IP})
    course = runtime.courses.get()
    signup, confirmation = consent_events(runtime, subscriber_id)
    assert (signup.kind, signup.source, signup.occurred_at) == ("signup", "form", T0)
    assert (confirmation.kind, confirmation.source) == ("confirmation", "page")
    assert confirmation.occurred_at == clock.current
    for event in (signup, confirmation):
        assert event.consent_version == course.consent_version == "1"
        assert event.consent_text_sha256 == consent_text_sha256(course)
        assert event.consent_text_sha256 == hashlib.sha256(course.consent_text.encode()).hexdigest()
        assert event.ip_hash == _hmac(settings, VISITOR_IP)
    first = latest_confirmation(runtime, subscriber_id)
    assert signup.detail == f"confirmation {first.id}: queued"
    assert confirmation.detail == f"confirmation {first.id}"


def test_signup_sources_form_embed_and_api(
    settings: Settings, make_runtime: Any, redis_url: str
) -> None:
    embedder = "https://www.umoya.example"
    runtime = make_runtime(settings.model_copy(update={"cors_origins": [embedder]}))
    client = create_app(runtime=runtime, RATELIMIT_ENABLED=False).test_client()
    own = {"Origin": "http://nurture.test"}
    client.post("/subscribe", data=signup_form(email="form@example.com"), headers=own)
    client.post(
        "/subscribe", data=signup_form(email="embed@example.com"), headers={"Origin": embedder}
    )
    client.post(
        "/subscribe", json=signup_form(email="api@example.com"), headers={"Origin": embedder}
    )
    for kind in ("form", "embed", "api"):
        subscriber = subscriber_by_email(runtime, f"{kind}@example.com")
        assert subscriber is not None
        [event] = consent_events(runtime, subscriber.id)
        assert (event.kind, event.source) == ("signup", kind)


def test_an_older_link_stops_working_once_a_newer_confirmation_went_out(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    first = latest_confirmation(runtime, subscriber_id)
    mark_sent(runtime, first.id)
    old_link = confirm_path(runtime, subscriber_id)
    clock.advance(minutes=15)
    _signed_up(client, runtime, name="Anneke")
    second = latest_confirmation(runtime, subscriber_id)
    assert second.id != first.id
    # Until the new one is out, the old one is the newest that reached the inbox.
    assert client.get(old_link).status_code == 200
    mark_sent(runtime, second.id)
    new_link = confirm_path(runtime, subscriber_id)
    for method in (client.get, client.post):
        refused = method(old_link)
        assert refused.status_code == 400
        page = refused.get_data(as_text=True)
        assert "Er is een nieuwere link" in page and 'action="/subscribe"' in page
    assert _status(runtime, subscriber_id) == SubscriberStatus.PENDING
    assert _enrollments(runtime) == 0
    confirmed = client.post(new_link)
    assert confirmed.status_code == 200 and "Welkom, Anneke!" in confirmed.get_data(as_text=True)
    assert _status(runtime, subscriber_id) == SubscriberStatus.CONFIRMED


def test_a_link_from_before_links_named_their_email_counts_as_expired(
    client: Any, runtime: Runtime, settings: Settings
) -> None:
    subscriber_id = _signed_up(client, runtime)
    legacy = URLSafeTimedSerializer(settings.secret_key, salt="nurture.confirm").dumps(
        subscriber_id
    )
    for method in (client.get, client.post):
        response = method(f"/confirm/{legacy}")
        assert response.status_code == 410 and "verlopen" in response.get_data(as_text=True)
    assert _status(runtime, subscriber_id) == SubscriberStatus.PENDING


def test_unsubscribes_are_recorded_from_the_page_and_from_one_click(
    client: Any, runtime: Runtime, settings: Settings
) -> None:
    page_id = _signed_up(client, runtime, email="knop@example.com")
    click_id = _signed_up(client, runtime, email="klik@example.com")
    for subscriber_id in (page_id, click_id):
        client.post(confirm_path(runtime, subscriber_id))
    client.post(
        f"/unsubscribe/{runtime.tokens.make_unsubscribe(page_id)}",
        environ_base={"REMOTE_ADDR": VISITOR_IP},
    )
    for _ in range(2):  # a repeat changes nothing, so it adds no event
        client.post(
            f"/unsubscribe/{runtime.tokens.make_unsubscribe(click_id)}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    [by_page] = [e for e in consent_events(runtime, page_id) if e.kind == "unsubscribe"]
    assert by_page.source == "page" and by_page.ip_hash == _hmac(settings, VISITOR_IP)
    [by_click] = [e for e in consent_events(runtime, click_id) if e.kind == "unsubscribe"]
    assert by_click.source == "one-click"
    assert by_click.consent_version == "1"


def test_export_lists_the_whole_consent_history(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    subscriber_id = _signed_up(client, runtime)
    client.post(confirm_path(runtime, subscriber_id), environ_base={"REMOTE_ADDR": VISITOR_IP})
    clock.advance(days=1)
    client.post(f"/unsubscribe/{runtime.tokens.make_unsubscribe(subscriber_id)}")
    clock.advance(days=1)
    _signed_up(client, runtime)
    mark_sent(runtime, latest_confirmation(runtime, subscriber_id).id)
    client.post(confirm_path(runtime, subscriber_id), environ_base={"REMOTE_ADDR": VISITOR_IP})

    result = CliRunner().invoke(cli, ["subscribers", "export", ADDRESS], obj={"runtime": runtime})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    history = data["consent_events"]
    assert [(e["kind"], e["source"]) for e in history] == [
        ("signup", "form"),
        ("confirmation", "page"),
        ("unsubscribe", "page"),
        ("signup", "form"),
        ("confirmation", "page"),
        ("resubscribe", "page"),
    ]
    assert history[0]["occurred_at"].startswith("2026-03-02T09:00:00")
    assert all(e["consent_text_sha256"] and e["consent_version"] == "1" for e in history)
    assert VISITOR_IP not in result.stdout  # only its HMAC is kept
    assert len(confirmations_of(runtime, subscriber_id)) == 2
