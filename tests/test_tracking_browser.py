"""Chromium logs in to /admin and sees the funnel and both SVG charts (no CSP violations)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_tracking_support import T0, make_subscriber, own_redis, sg_event
from werkzeug.serving import make_server

from config import Settings
from store.clock import FrozenClock, set_clock
from store.db import session_scope
from tracking.ingest import sendgrid_events
from tracking.record import store_events
from web import create_app

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Use this helper's own Redis database, so other suites flushing db 13 can't interfere."""
    yield from own_redis(7)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    app = create_app(settings)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.mark.browser
def test_clinic_logs_in_and_sees_funnel_and_charts(server: str, settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    set_clock(FrozenClock(T0 + timedelta(days=4)))
    people = [make_subscriber(f"p{n}@example.com", sent_days=1 + n % 5) for n in range(12)]
    raw = []
    for n, made in enumerate(people):
        raw.append(sg_event("delivered", made, 1, f"d{n}"))
        if n % 2 == 0:
            raw.append(sg_event("open", made, 1, f"o{n}", useragent="Mozilla/5.0 (X11) Firefox"))
        if n % 3 == 0:
            raw.append(sg_event("click", made, 1, f"c{n}", url="https://umoya.example/afspraak"))
    with session_scope() as session:
        store_events(session, sendgrid_events(session, raw))

    OUTPUT.mkdir(exist_ok=True)
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            # Without credentials the dashboard stays shut.
            anonymous = browser.new_context()
            assert anonymous.request.get(f"{server}/admin").status == 401
            anonymous.close()
            context = browser.new_context(
                http_credentials={"username": "beheer", "password": "test-admin-password"},
                viewport={"width": 1200, "height": 1400},
            )
            page = context.new_page()
            page.on("console", lambda message: console_errors.append(message.text))
            response = page.goto(f"{server}/admin")
            assert response is not None and response.status == 200
            assert page.locator("#signups").inner_text() == "12"
            day1 = page.locator("#day-1 td").all_inner_texts()
            assert day1[:5] == ["12", "12", "6", "0", "4"]
            assert page.locator("#lesson-chart svg rect").count() > 5
            assert page.locator("#signups-chart svg rect").count() >= 30
            box = page.locator("#lesson-chart svg").bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            # The stylesheet loaded (CSP allows only 'self'): cards are laid out as a grid.
            display = page.locator(".cards").evaluate("el => getComputedStyle(el).display")
            assert display == "grid"
            page.screenshot(path=str(OUTPUT / "tracking-dashboard.png"), full_page=True)
            page.click("text=Inschrijvers")
            page.fill("#q", "p3@")
            page.click("button:has-text('Zoeken')")
            page.click("text=p3@example.com")
            assert page.locator(".timeline li").count() >= 4
        finally:
            browser.close()
    assert not [text for text in console_errors if "Content Security Policy" in text]
