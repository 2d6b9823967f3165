"""In Chromium, at phone and desktop widths: a second course's own signup page, its confirm
link from the outbox, and the unsubscribe page of that course with "stop all mail"."""

from __future__ import annotations

import email
import email.policy
import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from browser_support import basic_auth_header, screenshot_path
from helpers import wait_until
from subscribers_support import subscriber_by_email
from two_courses_support import (
    FIRST,
    SECOND,
    SECOND_CONSENT,
    SECOND_TITLE,
    enrollments_by_course,
    make_two_courses,
)
from workers import thread_worker

from config import Settings, load_settings
from runtime import Runtime
from store.models import SubscriberStatus

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path, monkeypatch) -> Settings:
    """This test's settings, with two course folders side by side (live_runtime reads them)."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


def _confirm_links(outbox: Path) -> list[str]:
    links = []
    for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(r"https?://\S+/confirm/[A-Za-z0-9_.\-]+", body.get_content())
        if found:
            links.append(found.group(0))
    return links


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_path(f"h7-{name}.png", "courses")), full_page=True)


@pytest.mark.browser
@pytest.mark.slow
def test_second_course_signup_and_stop_all_mail_in_chromium(
    settings: Settings, live_runtime: tuple[str, Runtime], chromium: Any
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the flows run on PostgreSQL elsewhere")
    live_server, runtime = live_runtime
    outbox = runtime.settings.outbox_dir
    with thread_worker(runtime, concurrency=2):
        for n, (width, viewport) in enumerate(WIDTHS.items()):
            address = f"{width}@example.com"
            with closing(chromium.new_context(viewport=viewport)) as context:
                page = context.new_page()
                errors: list[str] = []
                page.on(
                    "console",
                    lambda m, seen=errors: seen.append(m.text) if m.type == "error" else None,
                )
                page.goto(f"{live_server}/cursus/{SECOND}")
                assert page.locator("h1").inner_text() == SECOND_TITLE
                assert page.locator("#consent-text").inner_text() == SECOND_CONSENT
                _shot(page, f"course-page-{width}")
                page.get_by_role("textbox", name="E-mailadres").fill(address)
                page.get_by_role("textbox", name="Voornaam").fill("Bea")
                page.locator("#consent").check()
                page.get_by_role("button", name="Ja, ik doe mee").click()
                page.wait_for_selector("text=Check je inbox")
                assert SECOND_TITLE in page.title()

                assert wait_until(lambda c=n + 1: len(_confirm_links(outbox)) == c, timeout=30)
                page.goto(_confirm_links(outbox)[-1])
                page.wait_for_selector("text=Welkom, Bea!")
                assert SECOND_TITLE in page.title()

                subscriber = subscriber_by_email(runtime, address)
                assert subscriber is not None
                assert enrollments_by_course(runtime, subscriber.id) == {SECOND: ["active"]}
                token = runtime.tokens.make_unsubscribe(subscriber.id, SECOND)
                page.goto(f"{live_server}/unsubscribe/{token}")
                assert page.get_by_role("button", name="Ja, stop deze cursus").is_visible()
                stop_all = page.get_by_role("button", name="Stop alle e-mail van UMOYA")
                assert stop_all.is_visible()
                _shot(page, f"unsubscribe-{width}")
                stop_all.click()
                page.wait_for_selector("text=Je ontvangt geen e-mails van UMOYA meer.")
                _shot(page, f"unsubscribed-all-{width}")
                assert errors == []
            gone = subscriber_by_email(runtime, address)
            assert gone is not None and gone.status == SubscriberStatus.UNSUBSCRIBED
            assert enrollments_by_course(runtime, gone.id) == {SECOND: ["cancelled"]}
    assert FIRST not in enrollments_by_course(runtime, gone.id)


@pytest.fixture
def no_default(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave NURTURE_COURSE empty, so / lists the courses (live_runtime reads it)."""
    monkeypatch.setenv("NURTURE_COURSE", "")


@pytest.mark.browser
@pytest.mark.slow
def test_course_list_and_embed_page_in_chromium(
    settings: Settings, no_default: None, live_runtime: tuple[str, Runtime], chromium: Any
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the pages are tested on PostgreSQL elsewhere")
    live_server, _runtime = live_runtime
    login = {"username": "beheer", "password": "test-admin-password"}
    for width, viewport in WIDTHS.items():
        with closing(
            chromium.new_context(viewport=viewport, extra_http_headers=basic_auth_header(login))
        ) as context:
            page = context.new_page()
            failed: list[str] = []
            page.on(
                "response", lambda r, seen=failed: seen.append(r.url) if r.status >= 400 else None
            )
            page.goto(f"{live_server}/")
            assert page.locator("h1").inner_text() == "Gratis e-mailcursussen"
            _shot(page, f"course-list-{width}")
            page.get_by_role("link", name=SECOND_TITLE).click()
            page.wait_for_url(f"{live_server}/cursus/{SECOND}")
            assert page.locator("#consent-text").inner_text() == SECOND_CONSENT
            page.goto(f"{live_server}/admin/embed?course={SECOND}")
            assert f'value="{SECOND}"' in page.locator("#embed-snippet").inner_text()
            _shot(page, f"embed-{width}")
            # Every file loads (the admin pages have no favicon; browsers ask all the same).
            assert [url for url in failed if not url.endswith("/favicon.ico")] == []
