"""Chromium: the dashboard's alert banners and the closing email, at phone and desktop widths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alerts_support import events, sent_mail
from browser_support import basic_auth_header, screenshot_path, serve_app
from closing_support import content_with_closing
from helpers import T0

from course.loader import load_course_from
from emails.render import Recipient
from runtime import Runtime
from store.clock import FrozenClock
from store.models import DeliveryState
from tasks.heartbeat import record_dispatch_pass

VIEWPORTS = {"desktop": (1280, 900), "phone": (375, 740)}


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_path(name, "alerts")), full_page=True)


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_dashboard_banners_in_chromium(
    server: str, runtime: Runtime, clock: FrozenClock, chromium: Any, viewport: str
) -> None:
    record_dispatch_pass(runtime)
    readers = sent_mail(runtime, 200, T0)
    events(runtime, "spamreport", readers[:1], T0)
    events(runtime, "bounce", readers[1:6], T0)
    sent_mail(runtime, 1, T0, state=DeliveryState.FAILED)
    clock.advance(minutes=7)
    width, height = VIEWPORTS[viewport]
    credentials = {"username": "beheer", "password": "test-admin-password"}
    console: list[str] = []
    with closing(
        chromium.new_context(
            extra_http_headers=basic_auth_header(credentials),
            viewport={"width": width, "height": height},
        )
    ) as context:
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        response = page.goto(f"{server}/admin")
        assert response is not None and response.status == 200
        banners = page.locator(".alert-banner")
        ids = banners.evaluate_all("els => els.map(el => el.id)")
        assert ids == [
            "alert-complaints",
            "alert-bounces",
            "alert-delivery_failed",
            "alert-dispatcher_stopped",
        ]
        assert page.locator("#alert-complaints").inner_text().startswith("Spamklachten boven 0,1%")
        # Styled by the stylesheet (CSP: 'self' only), and nothing wider than the screen.
        colour = page.locator("#alert-bounces").evaluate(
            "el => getComputedStyle(el).borderLeftColor"
        )
        assert colour == "rgb(230, 119, 0)"
        for box in (banners.nth(n).bounding_box() for n in range(4)):
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        _shot(page, f"h4-banners-{viewport}.png")
        close = screenshot_path(f"h4-banners-{viewport}-close.png", "alerts")
        page.locator(".alerts").screenshot(path=str(close))
    assert not [text for text in console if "Content Security Policy" in text]


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_closing_email_in_chromium(
    runtime: Runtime, chromium: Any, tmp_path: Path, viewport: str
) -> None:
    course = load_course_from(content_with_closing(tmp_path / "courses") / "rugpijn-en-training")
    [message] = runtime.renderer.closing_bulk(
        course, [Recipient(7, "anna@example.nl", "Anna", 42)]
    ).messages
    width, height = VIEWPORTS[viewport]
    with closing(chromium.new_context(viewport={"width": width, "height": height})) as context:
        context.route("**/*", lambda route: route.abort())  # no remote loads from a mail
        page = context.new_page()
        page.set_content(message.html, wait_until="load")
        assert page.locator("p.greeting").inner_text() == "Hallo Anna,"
        assert "dank je wel voor het lezen" in page.locator("div.lesson").inner_text()
        button = page.locator("a.button")
        assert button.inner_text() == "Plan een beoordeling"
        assert (button.get_attribute("href") or "").startswith("http://nurture.test/c/")
        assert "Hierna sturen we je niets meer." in page.locator("td.footer").inner_text()
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        _shot(page, f"h4-closing-{viewport}.png")
    assert message.subject == "Bedankt voor het volgen van de cursus"
