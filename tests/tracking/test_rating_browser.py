"""In Chromium: the lesson's rating block and hidden trap, the rating page with and without
JavaScript at phone and desktop width, a headless scanner that runs the page's script, and the
dashboard's new sections. Screenshots go to test-output/tracking/."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from browser_support import basic_auth_header, screenshot_path, serve_app
from feedback_support import BROWSER_UA, PHONE_UA, lesson_links
from helpers import wait_until
from sqlalchemy import select
from tracking_support import COURSE, make_subscriber

from config import Settings
from emails.render import Recipient
from runtime import Runtime
from store.models import LessonRating
from web import create_app

FOLDER = "tracking"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot under test-output/tracking/."""
    page.screenshot(path=str(screenshot_path(name, FOLDER)), full_page=full_page)


@pytest.fixture
def live(configure: Any, make_runtime: Any, fresh_spool: Any) -> Iterator[tuple[str, Runtime]]:
    """Serve the real app on a free port with BASE_URL pointing at it."""
    built: list[Runtime] = []

    def app_at(base_url: str) -> Any:
        built.append(make_runtime(configure(base_url=base_url)))
        return create_app(runtime=built[0], RATELIMIT_ENABLED=False)

    with serve_app(app_at) as base_url:
        yield base_url, built[0]
        create_app(runtime=built[0]).extensions["nurture_hits"].spool.stop()


def answers(runtime: Runtime) -> list[tuple[int | None, bool, str | None]]:
    with runtime.session() as session:
        rows = session.scalars(select(LessonRating).order_by(LessonRating.id))
        return [(r.subscriber_id, r.useful, r.comment) for r in rows]


def _errors_of(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.browser
@pytest.mark.slow
def test_rating_in_chromium_phone_and_desktop_with_and_without_javascript(
    settings: Settings, live: tuple[str, Runtime], chromium: Any
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the rating flow runs on PostgreSQL elsewhere")
    base, runtime = live
    anna = make_subscriber(runtime, "anna@example.com", sent_days=1)
    noor = make_subscriber(runtime, "noor@example.com", sent_days=1)
    scan = make_subscriber(runtime, "scan@example.com", sent_days=1)

    # The lesson as mailed: the rating block before the footer, the trap invisible to all.
    course = runtime.courses.get(COURSE)
    recipient = Recipient(anna.subscriber_id, "anna@example.com", "Anna", anna.delivery_ids[1])
    html = runtime.renderer.lesson(course, 1, recipient).html
    for name, viewport in (
        ("lesson-rating-phone.png", PHONE),
        ("lesson-rating-desktop.png", DESKTOP),
    ):
        with closing(chromium.new_context(viewport=viewport, java_script_enabled=False)) as context:
            page = context.new_page()
            page.set_content(html)
            question = page.get_by_text("Was deze les nuttig?")
            assert question.is_visible()
            assert page.get_by_role("link", name="Ja", exact=True).is_visible()
            assert page.get_by_role("link", name="Nee", exact=True).is_visible()
            trap = page.locator("a.trap")
            assert trap.count() == 1 and not trap.is_visible()
            # Not in the accessibility tree: a screen reader never offers it.
            assert trap.get_attribute("aria-hidden") == "true"
            assert trap.get_attribute("tabindex") == "-1" and trap.inner_text() == ""
            question.scroll_into_view_if_needed()
            shot(page, name, full_page=False)

    # Desktop, JavaScript on: one click in the mail saves the answer; a comment can follow.
    links = lesson_links(runtime, anna.subscriber_id, anna.delivery_ids[1], 1)
    with closing(chromium.new_context(viewport=DESKTOP, user_agent=BROWSER_UA)) as context:
        page = context.new_page()
        errors = _errors_of(page)
        page.goto(base + links.ja)
        page.wait_for_selector("text=Je antwoord is opgeslagen.")
        assert answers(runtime) == [(anna.subscriber_id, True, None)]
        shot(page, "rating-desktop.png")
        page.get_by_label("Wil je nog iets kwijt over deze les?").fill(
            "Heel duidelijk.\n<b>Meer</b> oefeningen graag!"
        )
        page.get_by_role("button", name="Verstuur").click()
        page.wait_for_selector("text=Je antwoord en je opmerking zijn opgeslagen.")
        shot(page, "rated-desktop.png")
        assert errors == []  # no CSP violation: the script comes from our own origin
    assert answers(runtime) == [
        (anna.subscriber_id, True, "Heel duidelijk.\n<b>Meer</b> oefeningen graag!")
    ]

    # Phone, JavaScript off: the page waits; its button saves the answer.
    noor_links = lesson_links(runtime, noor.subscriber_id, noor.delivery_ids[1], 1)
    with closing(
        chromium.new_context(viewport=PHONE, user_agent=PHONE_UA, java_script_enabled=False)
    ) as context:
        page = context.new_page()
        page.goto(base + noor_links.nee)
        assert page.get_by_role("heading", name="Bedankt voor je antwoord!").is_visible()
        page.wait_for_timeout(500)
        assert len(answers(runtime)) == 1  # nothing saved by opening the page
        shot(page, "rating-phone-nojs.png")
        page.get_by_role("button", name="Verstuur").click()
        page.wait_for_selector("text=Je antwoord is opgeslagen.")
        shot(page, "rated-phone.png")
    assert answers(runtime)[1] == (noor.subscriber_id, False, None)

    # Phone, JavaScript on, for the screenshot of what most readers see. A person changes
    # their answer seconds later, not within a second (that is a scanner walking both links).
    time.sleep(1.5)
    with closing(chromium.new_context(viewport=PHONE, user_agent=PHONE_UA)) as context:
        page = context.new_page()
        page.goto(base + noor_links.ja)
        page.wait_for_selector("text=Je antwoord is opgeslagen.")
        shot(page, "rating-phone.png")
    assert answers(runtime)[1] == (noor.subscriber_id, True, None)

    # A scanner's sandbox that runs scripts (headless Chromium as it is): nothing is saved.
    scan_links = lesson_links(runtime, scan.subscriber_id, scan.delivery_ids[1], 1)
    with closing(chromium.new_context(viewport=DESKTOP)) as context:
        page = context.new_page()
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.goto(base + scan_links.ja)
        assert posted.value.ok
    assert wait_until(lambda: len(answers(runtime)) == 2, 1)
    assert [a[0] for a in answers(runtime)] == [anna.subscriber_id, noor.subscriber_id]

    # Anna books from the mail: the button's redirect, as her browser would follow it.
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", links.cta, headers={"User-Agent": BROWSER_UA})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 302 and "nurture_ref=" in response.getheader("Location", "")

    # The dashboard's new sections, comments escaped, at both widths.
    credentials = {"username": "beheer", "password": "test-admin-password"}
    for name, viewport in (
        ("dashboard-feedback-desktop.png", DESKTOP),
        ("dashboard-feedback-phone.png", PHONE),
    ):
        with closing(
            chromium.new_context(
                viewport=viewport, extra_http_headers=basic_auth_header(credentials)
            )
        ) as context:
            page = context.new_page()
            page.goto(base + "/admin")
            # The dashboard stores waiting hits first: Anna's click is there.
            assert page.locator("#cta-day-1 td").first.inner_text() == "1"
            assert page.locator("#feedback-comments .comment-text").inner_text() == (
                "Heel duidelijk.\n<b>Meer</b> oefeningen graag!"
            )
            page.locator("#cta").scroll_into_view_if_needed()
            shot(page, name, full_page=False)
            page.locator("#feedback").scroll_into_view_if_needed()
            shot(page, name.replace("dashboard-feedback", "dashboard-comments"), full_page=False)
