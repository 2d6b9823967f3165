"""Chromium: log in with an account, see the dashboard's Chart.js charts (whole-number axis,
tooltips, a table for screen readers), at desktop and phone widths; an editor sees no personal
data; logging out ends the session; the shared password still opens the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from accounts_support import (
    EDITOR_EMAIL,
    EDITOR_PASSWORD,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    SHARED_PASSWORD,
    make_owner_and_editor,
)
from browser_support import screenshot_path, serve_app
from tracking_support import T0, make_subscriber

from runtime import Runtime
from store.clock import FrozenClock

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Signups per day, counted back from the dashboard's "today": the old hand-drawn axis read
# 0, 1, 2, 3, 5 for a top of 5 and drew the bar of 1 below its "1" line.
SIGNUPS = {2: 5, 1: 1, 0: 3}


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


@pytest.fixture
def dashboard_data(runtime: Runtime, clock: FrozenClock) -> None:
    today = T0 + timedelta(days=2)
    clock.set(today + timedelta(hours=2))
    n = 0
    for days_ago, count in SIGNUPS.items():
        for _ in range(count):
            make_subscriber(
                runtime, f"p{n}@example.com", sent_days=1, created_at=today - timedelta(days_ago)
            )
            n += 1
    make_owner_and_editor(runtime)


def log_in(page: Any, server: str, email: str, password: str) -> None:
    page.goto(f"{server}/admin")
    assert page.url.startswith(f"{server}/admin/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Inloggen')")
    page.wait_for_url(f"{server}/admin")


def chart_state(page: Any, selector: str) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """selector => {
                const chart = Chart.getChart(document.querySelector(selector + ' canvas'));
                const y = chart.scales.y;
                const bars = chart.getDatasetMeta(0).data;
                return {
                    ticks: y.ticks.map(t => t.value),
                    tickPixels: y.ticks.map(t => y.getPixelForValue(t.value)),
                    barTops: bars.map(b => b.y),
                    barX: bars.map(b => b.x),
                    area: chart.chartArea,
                    values: chart.data.datasets[0].data,
                    onePixel: y.getPixelForValue(1),
                    labels: chart.data.labels,
                };
            }""",
            selector,
        )
    )


@pytest.mark.browser
@pytest.mark.usefixtures("dashboard_data")
def test_owner_logs_in_and_sees_the_charts(server: str, chromium: Any) -> None:
    console: list[str] = []
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        # Reduced motion: charts.js then draws without animation, so bars are measured at rest.
        with closing(chromium.new_context(viewport=viewport, reduced_motion="reduce")) as context:
            page = context.new_page()
            page.on("console", lambda message: console.append(message.text))
            page.goto(f"{server}/admin/login")
            page.screenshot(path=str(screenshot_path(f"h6-login-{name}.png")), full_page=True)
            log_in(page, server, OWNER_EMAIL, OWNER_PASSWORD)
            assert OWNER_EMAIL in page.locator(".admin-header").inner_text()
            page.wait_for_function(
                "() => Chart.getChart(document.querySelector('#signups-chart canvas'))"
            )
            state = chart_state(page, "#signups-chart")
            # Whole numbers at even steps, starting at 0, and the bar of 1 ends on the "1" line.
            ticks = state["ticks"]
            assert ticks[0] == 0 and all(int(t) == t for t in ticks)
            steps = {ticks[i + 1] - ticks[i] for i in range(len(ticks) - 1)}
            assert len(steps) == 1 and max(ticks) >= 5
            pixels = state["tickPixels"]
            gaps = [pixels[i] - pixels[i + 1] for i in range(len(pixels) - 1)]
            assert max(gaps) - min(gaps) < 0.5
            one = state["values"].index(1)
            assert state["barTops"][one] == pytest.approx(state["onePixel"], abs=0.5)
            assert state["labels"][-3:] == ["2 mrt", "3 mrt", "4 mrt"]
            # The table stays for screen readers, hidden from sight once the chart is drawn.
            table = page.locator("#signups-chart .chart-table")
            assert "visually-hidden" in (table.get_attribute("class") or "")
            assert table.locator("tbody tr").count() == 30
            assert page.locator("#signups-chart canvas").bounding_box()["width"] > 300
            # A tooltip on hover: over the last day's bar, it names the day and the count.
            page.locator("#signups-chart canvas").scroll_into_view_if_needed()
            box = page.locator("#signups-chart canvas").bounding_box()
            bar = state["barX"][-1], (state["area"]["top"] + state["area"]["bottom"]) / 2
            page.mouse.move(box["x"] + bar[0], box["y"] + bar[1], steps=4)
            page.wait_for_function(
                "() => Chart.getChart(document.querySelector('#signups-chart canvas'))"
                ".tooltip.opacity > 0"
            )
            tooltip = page.evaluate(
                """() => {
                    const canvas = document.querySelector('#signups-chart canvas');
                    const tip = Chart.getChart(canvas).tooltip;
                    const body = tip.body.map(b => b.lines).flat();
                    return {opacity: tip.opacity, title: tip.title, body: body};
                }"""
            )
            assert tooltip["opacity"] > 0
            assert tooltip["title"] == ["4 mrt"] and tooltip["body"] == [" Aanmeldingen: 3"]
            lesson = chart_state(page, "#lesson-chart")
            assert lesson["labels"][0] == "Dag 1" and lesson["values"][0] == 9
            page.locator("#lesson-chart").scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot_path(f"h6-dashboard-{name}.png")), full_page=True)
            charts = page.locator(".charts")
            charts.screenshot(path=str(screenshot_path(f"h6-charts-{name}.png")))
            page.mouse.move(0, 0)
            page.locator(".admin-header").screenshot(
                path=str(screenshot_path(f"h6-header-{name}.png"))
            )
    assert not [text for text in console if "Content Security Policy" in text], console


@pytest.mark.browser
@pytest.mark.usefixtures("dashboard_data")
def test_editor_sees_no_personal_data_and_logs_out(server: str, chromium: Any) -> None:
    with closing(chromium.new_context(viewport=DESKTOP)) as context:
        page = context.new_page()
        log_in(page, server, EDITOR_EMAIL, EDITOR_PASSWORD)
        header = page.locator(".admin-header").inner_text()
        assert "redacteur" in header and "Inschrijvers" not in header
        response = page.goto(f"{server}/admin/subscribers")
        assert response is not None and response.status == 403
        assert "eigenaar" in page.locator("#message").inner_text()
        page.screenshot(path=str(screenshot_path("h6-editor-refused.png")))
        page.goto(f"{server}/admin")
        page.click("button:has-text('Uitloggen')")
        page.wait_for_url(f"{server}/admin/login?uitgelogd=1")
        assert "Je bent uitgelogd" in page.content()
        page.goto(f"{server}/admin")
        assert page.url.startswith(f"{server}/admin/login")


@pytest.mark.browser
@pytest.mark.usefixtures("dashboard_data")
def test_wrong_password_and_the_shared_password(server: str, chromium: Any) -> None:
    with closing(chromium.new_context(viewport=PHONE)) as context:
        page = context.new_page()
        page.goto(f"{server}/admin/login")
        page.fill("#email", OWNER_EMAIL)
        page.fill("#password", "niet-het-goede-wachtwoord")
        page.click("button:has-text('Inloggen')")
        assert page.locator("#login-error").inner_text() == "Onjuist e-mailadres of wachtwoord."
        page.screenshot(path=str(screenshot_path("h6-login-wrong-phone.png")), full_page=True)
    credentials = {"username": "beheer", "password": SHARED_PASSWORD}
    with closing(chromium.new_context(http_credentials=credentials)) as context:
        page = context.new_page()
        page.goto(f"{server}/admin/login")
        page.click("#shared-login")
        page.wait_for_url(f"{server}/admin/")
        assert page.locator("#signups").inner_text() == "9"
        # The shared password is an owner: personal data opens.
        response = page.goto(f"{server}/admin/subscribers")
        assert response is not None and response.status == 200


@pytest.mark.browser
@pytest.mark.usefixtures("dashboard_data")
def test_owner_adds_an_account_in_the_browser(server: str, chromium: Any) -> None:
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        with closing(chromium.new_context(viewport=viewport)) as context:
            page = context.new_page()
            log_in(page, server, OWNER_EMAIL, OWNER_PASSWORD)
            page.click(".admin-header >> text=Accounts")
            page.wait_for_url(f"{server}/admin/accounts")
            new = f"assistent-{name}@kliniek.example"
            page.fill("#new-email", new)
            page.select_option("#new-role", "editor")
            page.fill("#new-password", "kort")
            page.click("button:has-text('Toevoegen')")
            # The browser's own check (minlength) keeps a short password from being sent.
            assert page.url == f"{server}/admin/accounts"
            assert page.locator(f"#accounts >> text={new}").count() == 0
            page.fill("#new-password", "een-lang-eerste-wachtwoord")
            page.click("button:has-text('Toevoegen')")
            page.wait_for_selector("p.notice")
            assert f"Account voor {new} aangemaakt." in page.locator("p.notice").inner_text()
            row = page.locator("#accounts tr", has_text=new)
            assert "redacteur" in row.inner_text()
            assert page.locator("#accounts tr", has_text=OWNER_EMAIL).inner_text().endswith("(jij)")
            page.screenshot(path=str(screenshot_path(f"h6-accounts-{name}.png")), full_page=True)


@pytest.mark.browser
@pytest.mark.usefixtures("dashboard_data")
def test_without_javascript_the_tables_show_the_numbers(server: str, chromium: Any) -> None:
    with closing(chromium.new_context(viewport=PHONE, java_script_enabled=False)) as context:
        page = context.new_page()
        log_in(page, server, OWNER_EMAIL, OWNER_PASSWORD)
        for chart in ("#lesson-chart", "#signups-chart"):
            assert page.locator(f"{chart} .chart-box").is_hidden()
            assert page.locator(f"{chart} .chart-table table").is_visible()
        assert page.locator("#signups-chart tbody tr").last.inner_text().split() == [
            "4",
            "mrt",
            "3",
        ]
        page.locator("#signups-chart").screenshot(path=str(screenshot_path("h6-no-js-phone.png")))
