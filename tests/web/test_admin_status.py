"""The dashboard's status panel: `nurture doctor`'s checks with Dutch labels; the cheap ones run
on every view, the slow ones (workers, SendGrid, DNS) are shown as the last doctor run stored
them; and a screenshot of the panel in Chromium."""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from accounts_support import basic
from browser_support import screenshot_path, serve_app
from doctor_support import add_webhook_batch, clean_course, healthy_values
from helpers import T0

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from tasks.health import Check, store_remote_checks
from tasks.heartbeat import record_dispatch_pass
from web import create_app

PASSWORD = "test-admin-password"
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"beheer:{PASSWORD}".encode()).decode()}
REMOTE_OK = [
    Check("workers", "workers", "ok", "2 workers answered: w1@host, w2@host"),
    Check("sendgrid", "SendGrid API key", "ok", "valid, with the Mail Send permission"),
    Check("spf", "SPF of kliniek.test", "ok", "kliniek.test's SPF record includes sendgrid.net"),
    Check("dkim", "DKIM of kliniek.test", "ok", "s1 and s2 _domainkey CNAMEs point to SendGrid"),
    Check("dmarc", "DMARC of kliniek.test", "ok", "policy p=quarantine, aligned with DKIM"),
]


@pytest.fixture
def healthy_runtime(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    clock: FrozenClock,
    tmp_path: Path,
) -> Runtime:
    """A healthy deployment, as the panel's own checks see it, at T0."""
    values = healthy_values("127.0.0.1:53", clean_course(tmp_path))
    runtime = make_runtime(
        configure(**values, MAIL_BACKEND="sendgrid", SENDGRID_API_KEY="SG.test-key")
    )
    record_dispatch_pass(runtime)
    add_webhook_batch(runtime, T0 - timedelta(minutes=5))
    return runtime


def dashboard(runtime: Runtime) -> str:
    app = create_app(runtime=runtime)
    try:
        response = app.test_client().get("/admin", headers=HEADERS)
        assert response.status_code == 200
        return response.get_data(as_text=True)
    finally:
        app.extensions["nurture_hits"].spool.stop()


def row(page: str, key: str) -> str:
    start = page.rindex("<tr", 0, page.index(f'data-check="{key}"'))
    return page[start : page.index("</tr>", start)]


def test_the_panel_shows_the_live_checks_with_dutch_labels(runtime: Runtime, clock) -> None:
    # The tests' default settings: plain http on a public name, the shipped example course.
    page = dashboard(runtime)
    assert 'id="status-panel"' in page
    assert "Systeemstatus" in page
    assert "check-error" in row(page, "course") and "Cursusinhoud" in row(page, "course")
    assert "fout" in row(page, "course")
    assert "course.toml:16" in row(page, "course")
    assert "Fix: replace the example postal address" in row(page, "course")
    assert "is plain http" in row(page, "base_url")
    assert "in orde" in row(page, "database") and "Database" in row(page, "database")
    assert "let op" in row(page, "dispatcher")
    # Open when something is wrong, with the count in Dutch.
    assert 'class="status status-error" id="status-panel" open' in page
    assert "fouten" in page
    # The slow checks never ran: the panel says how to run them instead of running them.
    assert "nog niet gecontroleerd" in page
    assert 'data-check="workers"' not in page


def test_the_slow_checks_are_shown_as_the_last_doctor_run_stored_them(
    healthy_runtime: Runtime,
) -> None:
    stored = [
        *REMOTE_OK[:1],
        Check(
            "sendgrid",
            "SendGrid API key",
            "error",
            "refused: SendGrid 401: The provided authorization grant is invalid",
            "create an API key with the Mail Send permission",
        ),
        *REMOTE_OK[2:],
    ]
    store_remote_checks(healthy_runtime, stored)
    page = dashboard(healthy_runtime)
    # T0 is 09:00 UTC, 10:00 in Amsterdam.
    assert "gecontroleerd door <code>nurture doctor</code> op 02-03-2026 10:00" in page
    assert "SendGrid-sleutel" in row(page, "sendgrid")
    assert "fout" in row(page, "sendgrid")
    assert "The provided authorization grant is invalid" in row(page, "sendgrid")
    assert "2 workers answered" in row(page, "workers")
    assert "1 fout" in page
    assert "status-error" in page


def test_a_healthy_deployment_shows_all_in_order_and_stays_folded(
    healthy_runtime: Runtime,
) -> None:
    store_remote_checks(healthy_runtime, REMOTE_OK)
    page = dashboard(healthy_runtime)
    assert "Alles in orde" in page
    assert 'class="status status-ok" id="status-panel">' in page
    assert "let op" not in page.split('id="status-panel"')[1].split("</details>")[0]
    assert page.count('class="badge badge-ok"') == 16 + 1  # every check, and the summary


def test_each_view_runs_the_cheap_checks_again(healthy_runtime: Runtime, clock) -> None:
    store_remote_checks(healthy_runtime, REMOTE_OK)
    assert "in orde" in row(dashboard(healthy_runtime), "dispatcher")
    clock.advance(minutes=30)  # beat stopped: no pass for half an hour
    late = row(dashboard(healthy_runtime), "dispatcher")
    assert "let op" in late
    assert "last pass 30 min ago" in late


@pytest.mark.browser
def test_the_panel_in_chromium(healthy_runtime: Runtime, chromium: Any) -> None:
    stored = [
        REMOTE_OK[0],
        REMOTE_OK[1],
        Check(
            "spf",
            "SPF of kliniek.test",
            "warning",
            'kliniek.test\'s SPF record "v=spf1 include:_spf.google.com ~all" does not allow '
            "SendGrid",
            "add include:sendgrid.net before its all mechanism",
        ),
        REMOTE_OK[3],
        Check(
            "dmarc",
            "DMARC of kliniek.test",
            "error",
            "no DMARC record for kliniek.test",
            'publish a TXT record on _dmarc.kliniek.test: "v=DMARC1; p=none; rua=mailto:…"',
        ),
    ]
    store_remote_checks(healthy_runtime, stored)
    app = create_app(runtime=healthy_runtime)
    # Sent with every request, as a script would: a browser without it gets the login form.
    credentials = basic(PASSWORD)
    try:
        with (
            serve_app(lambda _base_url: app) as server,
            closing(
                chromium.new_context(
                    extra_http_headers=credentials, viewport={"width": 1200, "height": 900}
                )
            ) as context,
        ):
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text))
            assert page.goto(f"{server}/admin").status == 200
            panel = page.locator("#status-panel")
            assert panel.get_attribute("open") is not None
            assert page.locator("#status-summary").inner_text() == "1 fout en 1 waarschuwing"
            # The stylesheet applies (CSP: 'self' only): the error badge is red.
            colour = page.locator("tr.check-error .badge").evaluate(
                "el => getComputedStyle(el).color"
            )
            assert colour == "rgb(201, 42, 42)"
            panel.screenshot(path=str(screenshot_path("admin-status-panel.png", "web")))
            page.locator("#status-panel summary").click()  # folds away
            assert page.locator("#status-panel table").is_hidden()
    finally:
        app.extensions["nurture_hits"].spool.stop()
    assert not [text for text in errors if "Content Security Policy" in text]
