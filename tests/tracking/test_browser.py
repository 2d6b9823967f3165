"""Chromium opens /admin with the shared password and sees the funnel and both Chart.js charts
(no CSP violations)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from accounts_support import basic
from browser_support import screenshot_path, serve_app
from tracking_support import T0, make_subscriber, sg_event

from providers.sendgrid.webhook import parse_events
from runtime import Runtime
from store.clock import FrozenClock
from tracking.ingest import events_of
from tracking.record import store_events


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


@pytest.mark.browser
def test_clinic_logs_in_and_sees_funnel_and_charts(
    server: str, runtime: Runtime, clock: FrozenClock, chromium: Any
) -> None:
    clock.set(T0 + timedelta(days=4))
    people = [make_subscriber(runtime, f"p{n}@example.com", sent_days=1 + n % 5) for n in range(12)]
    raw = []
    for n, made in enumerate(people):
        raw.append(sg_event("delivered", made, 1, f"d{n}"))
        if n % 2 == 0:
            raw.append(sg_event("open", made, 1, f"o{n}", useragent="Mozilla/5.0 (X11) Firefox"))
        if n % 3 == 0:
            raw.append(sg_event("click", made, 1, f"c{n}", url="https://umoya.example/afspraak"))
    with runtime.session() as session:
        store_events(session, events_of(session, parse_events(raw, runtime.clock)), runtime.now())

    console_errors: list[str] = []
    # Without credentials the dashboard stays shut.
    with closing(chromium.new_context()) as anonymous:
        assert anonymous.request.get(f"{server}/admin").status == 401
    # Scripts and the first owner send the shared password with every request (HTTP Basic).
    headers = basic()
    viewport = {"width": 1200, "height": 1400}
    with closing(chromium.new_context(extra_http_headers=headers, viewport=viewport)) as context:
        page = context.new_page()
        page.on("console", lambda message: console_errors.append(message.text))
        response = page.goto(f"{server}/admin")
        assert response is not None and response.status == 200
        assert page.locator("#signups").inner_text() == "12"
        day1 = page.locator("#day-1 td").all_inner_texts()
        assert day1[:5] == ["12", "12", "6", "0", "4"]
        page.wait_for_function(
            "() => Chart.getChart(document.querySelector('#lesson-chart canvas'))"
            " && Chart.getChart(document.querySelector('#signups-chart canvas'))"
        )
        bars = page.evaluate(
            """() => ['#lesson-chart', '#signups-chart'].map(id => {
                const chart = Chart.getChart(document.querySelector(id + ' canvas'));
                return chart.data.datasets.map(set => set.data.length);
            })"""
        )
        assert bars == [[5] * 5, [30]]  # five series over five days; thirty days of signups
        box = page.locator("#lesson-chart canvas").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        # The stylesheet loaded (CSP allows only 'self'): cards are laid out as a grid.
        display = page.locator(".cards").evaluate("el => getComputedStyle(el).display")
        assert display == "grid"
        page.screenshot(path=str(screenshot_path("tracking-dashboard.png")), full_page=True)
        page.click("text=Inschrijvers")
        page.fill("#q", "p3@")
        page.click("button:has-text('Zoeken')")
        page.click("text=p3@example.com")
        assert page.locator(".timeline li").count() >= 4
    assert not [text for text in console_errors if "Content Security Policy" in text]
