"""In Chromium: open /, sign up, take the confirm link from the outbox, follow it, be confirmed;
then one-click unsubscribe with a raw HTTP POST against the live server, as Gmail sends it."""

from __future__ import annotations

import email
import email.policy
import http.client
import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from browser_support import screenshot_path
from helpers import wait_until
from sqlalchemy import select
from subscribers_support import confirmations_of, subscriber_by_email
from workers import thread_worker

from config import Settings
from runtime import Runtime
from store.models import DeliveryState, Enrollment, EnrollmentStatus, SubscriberStatus

ADDRESS = "browser.test@example.com"


def _newest_confirm_link(outbox: Path) -> str | None:
    messages = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
    if not messages:
        return None
    parsed = email.message_from_bytes(messages[-1].read_bytes(), policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/confirm/[A-Za-z0-9_.\-]+", body.get_content())
    return found.group(0) if found else None


@pytest.mark.browser
@pytest.mark.slow
def test_signup_confirm_in_chromium_then_one_click_unsubscribe(
    settings: Settings, live_runtime: tuple[str, Runtime], chromium: Any
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the flows run on PostgreSQL elsewhere")
    live_server, runtime = live_runtime
    outbox = runtime.settings.outbox_dir
    viewport = {"width": 390, "height": 844}
    with (
        thread_worker(runtime, concurrency=2),
        closing(chromium.new_context(viewport=viewport)) as context,
    ):
        page = context.new_page()
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

        page.goto(live_server + "/")
        assert page.locator("h1").inner_text() == "Rugpijn en training"
        page.screenshot(path=str(screenshot_path("01-signup.png", "subscribers")), full_page=True)

        page.get_by_role("button", name="Ja, ik doe mee").click()  # empty form: errors first
        page.wait_for_selector("#email-error")
        assert page.locator("#email").get_attribute("aria-describedby") == "email-error"
        page.screenshot(path=str(screenshot_path("02-errors.png", "subscribers")), full_page=True)

        page.get_by_role("textbox", name="E-mailadres").fill(ADDRESS)
        page.get_by_role("textbox", name="Voornaam").fill("Bram")
        page.locator("#consent").check()
        page.get_by_role("button", name="Ja, ik doe mee").click()
        page.wait_for_selector("text=Check je inbox")
        page.screenshot(
            path=str(screenshot_path("03-check-inbox.png", "subscribers")), full_page=True
        )

        assert wait_until(lambda: _newest_confirm_link(outbox) is not None, timeout=30)
        link = _newest_confirm_link(outbox)
        assert link is not None and link.startswith(live_server + "/confirm/")
        page.goto(link)
        page.wait_for_selector("text=Welkom, Bram!")
        page.screenshot(
            path=str(screenshot_path("04-confirmed.png", "subscribers")), full_page=True
        )
        # No CSP violations or missing files; the deliberate 400 of the empty form is expected.
        assert [e for e in console_errors if "400 (BAD REQUEST)" not in e] == []

    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED
    # The confirmation went out as a delivery of its own, recorded as sent.
    assert wait_until(
        lambda: [c.state for c in confirmations_of(runtime, subscriber.id)] == [DeliveryState.SENT],
        timeout=10,
    )
    with runtime.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.next_day == 1

    # RFC 8058 as Gmail does it: a bare POST, no cookies, no Origin, form-encoded body.
    host, port = live_server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    body = "List-Unsubscribe=One-Click"
    connection.request(
        "POST",
        f"/unsubscribe/{runtime.tokens.make_unsubscribe(subscriber.id)}",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    assert response.status == 200
    assert "Je bent afgemeld" in response.read().decode("utf-8")
    connection.close()
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None and subscriber.status == SubscriberStatus.UNSUBSCRIBED
