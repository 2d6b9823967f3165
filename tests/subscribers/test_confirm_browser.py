"""In Chromium: the confirm page's button confirms, with and without JavaScript; the page's own
script confirms for a browser by itself; a plain HTTP GET (a mail scanner) confirms nothing."""

from __future__ import annotations

import http.client
from contextlib import closing
from typing import Any

import pytest
from browser_support import screenshot_path
from subscribers_support import (
    confirm_path,
    latest_confirmation,
    mark_sent,
    signup_form,
    subscriber_by_email,
)

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import SubscriberStatus
from web import create_app

FOLDER = "subscribers"
VIEWPORT = {"width": 390, "height": 844}


def _sign_up(runtime: Runtime, address: str, name: str) -> tuple[int, str]:
    """Sign ADDRESS up through the app; return the subscriber id and the confirm path."""
    client = create_app(runtime=runtime, RATELIMIT_ENABLED=False).test_client()
    assert client.post("/subscribe", data=signup_form(email=address, name=name)).status_code == 200
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    return subscriber.id, confirm_path(runtime, subscriber.id)


def _id_of(runtime: Runtime, address: str) -> int:
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    return subscriber.id


def _status(runtime: Runtime, address: str) -> str:
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    return subscriber.status


def _errors_of(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.browser
@pytest.mark.slow
def test_confirm_page_in_chromium_with_and_without_javascript_and_a_scanner_get(
    settings: Settings, live_runtime: tuple[str, Runtime], chromium: Any, clock: FrozenClock
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the confirm flow runs on PostgreSQL elsewhere")
    live_server, runtime = live_runtime

    # A mail scanner: a plain GET (and HEAD) of the link, as Safe Links makes it.
    _, scanned = _sign_up(runtime, "gescand@example.com", "Sam")
    host, port = live_server.removeprefix("http://").split(":")
    for method in ("GET", "HEAD", "GET"):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(method, scanned, headers={"User-Agent": "SafeLinks/1.0"})
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        connection.close()
        assert response.status == 200
        if method == "GET":
            assert 'method="post"' in body and "Ja, ik bevestig mijn aanmelding" in body
    assert _status(runtime, "gescand@example.com") == SubscriberStatus.PENDING

    # No JavaScript: the page shows the button and waits; the button confirms.
    _, no_script = _sign_up(runtime, "zonder.js@example.com", "Noor")
    with closing(chromium.new_context(viewport=VIEWPORT, java_script_enabled=False)) as context:
        page = context.new_page()
        errors = _errors_of(page)
        page.goto(live_server + no_script)
        heading = page.get_by_role("heading", name="Bevestig je aanmelding")
        assert heading.is_visible()
        button = page.get_by_role("button", name="Ja, ik bevestig mijn aanmelding")
        assert button.is_visible()
        page.screenshot(
            path=str(screenshot_path("11-confirm-page-no-js.png", FOLDER)), full_page=True
        )
        page.wait_for_timeout(500)  # room for a wrong automatic submit to show up
        assert "Bevestig je aanmelding" in page.content()
        assert _status(runtime, "zonder.js@example.com") == SubscriberStatus.PENDING
        button.click()
        page.wait_for_selector("text=Welkom, Noor!")
        page.screenshot(path=str(screenshot_path("12-confirmed-no-js.png", FOLDER)), full_page=True)
        assert errors == []
    assert _status(runtime, "zonder.js@example.com") == SubscriberStatus.CONFIRMED

    # JavaScript on: the page's own script submits the form by itself.
    _, scripted = _sign_up(runtime, "met.js@example.com", "Mila")
    with closing(chromium.new_context(viewport=VIEWPORT)) as context:
        page = context.new_page()
        errors = _errors_of(page)
        page.goto(live_server + scripted)
        page.wait_for_selector("text=Welkom, Mila!")
        page.screenshot(path=str(screenshot_path("13-confirmed-js.png", FOLDER)), full_page=True)
        assert errors == []  # no CSP violation: the script comes from our own origin
    assert _status(runtime, "met.js@example.com") == SubscriberStatus.CONFIRMED

    # With JavaScript the button itself works too (a page whose script was slow or blocked).
    _, clicked = _sign_up(runtime, "knop@example.com", "Kees")
    with closing(chromium.new_context(viewport=VIEWPORT)) as context:
        page = context.new_page()
        page.route("**/static/confirm.js", lambda route: route.abort())
        page.goto(live_server + clicked)
        page.get_by_role("button", name="Ja, ik bevestig mijn aanmelding").click()
        page.wait_for_selector("text=Welkom, Kees!")
    assert _status(runtime, "knop@example.com") == SubscriberStatus.CONFIRMED
    assert _status(runtime, "gescand@example.com") == SubscriberStatus.PENDING

    # An older link once a newer confirmation went out: a Dutch page, nothing submitted.
    scanned_id = _id_of(runtime, "gescand@example.com")
    mark_sent(runtime, latest_confirmation(runtime, scanned_id).id)
    clock.advance(minutes=15)
    _sign_up(runtime, "gescand@example.com", "Sam")
    mark_sent(runtime, latest_confirmation(runtime, scanned_id).id)
    with closing(chromium.new_context(viewport=VIEWPORT)) as context:
        page = context.new_page()
        page.goto(live_server + scanned)
        page.wait_for_selector("text=Er is een nieuwere link")
        page.wait_for_timeout(500)  # the script must not submit the new-signup form here
        assert page.url == live_server + scanned
        page.screenshot(path=str(screenshot_path("14-outdated-link.png", FOLDER)), full_page=True)
    assert _status(runtime, "gescand@example.com") == SubscriberStatus.PENDING
