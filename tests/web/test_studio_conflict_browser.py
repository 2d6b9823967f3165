"""Two tabs on one course in Chromium: the tab that is out of date cannot overwrite the other's
settings or act on a lesson list that changed; it says so in Dutch, shows the course as it is
now and keeps the text typed in it, under the strict CSP without a console error. Screenshots
of both refusals at desktop and phone width go to test-output/studio/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from browser_support import basic_auth_header, screenshot_path, serve_app
from courses_support import SLUG, publish_real_details

from course.drafts import get_draft
from runtime import Runtime

CREDENTIALS = {"username": "beheer", "password": "test-admin-password"}
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
COURSE = f"/admin/courses/{SLUG}"
MY_CONSENT = "Ik wil de cursus ontvangen.\nAfmelden kan altijd, onderaan elke e-mail."

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


def _tabs(chromium: Any, size: str) -> Any:
    return chromium.new_context(
        extra_http_headers=basic_auth_header(CREDENTIALS), viewport=SIZES[size]
    )


def _watch(page: Any, errors: list[str]) -> None:
    """Collect PAGE's console errors (a CSP refusal shows up there) in ERRORS.

    Chromium also logs the refusal's own 409 as one; that one is expected.
    """

    def console(message: Any) -> None:
        if message.type == "error" and "status of 409" not in message.text:
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))


def _settings(runtime: Runtime) -> dict[str, Any]:
    with runtime.session() as session:
        draft = get_draft(session, SLUG)
        assert draft is not None
        return dict(draft.content["settings"])


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_stale_tab_is_told_and_keeps_its_text(
    server: str, runtime: Runtime, chromium: Any, size: str
) -> None:
    publish_real_details(runtime)
    with closing(_tabs(chromium, size)) as context:
        mine, theirs = context.new_page(), context.new_page()
        errors: list[str] = []
        for tab in (mine, theirs):
            _watch(tab, errors)
            tab.goto(f"{server}{COURSE}/settings")

        theirs.fill("#setting-title", "Rug en training (hun versie)")
        with theirs.expect_navigation():
            theirs.click("#settings-form button[type=submit]")
        assert "opgeslagen in het concept" in theirs.inner_text("main")

        mine.fill("#setting-title", "Rug en training (mijn versie)")
        mine.fill("#setting-consent-text", MY_CONSENT)
        with mine.expect_navigation():
            mine.click("#settings-form button[type=submit]")
        alert = mine.inner_text("#conflict")
        assert "Iemand anders heeft de instellingen intussen gewijzigd" in alert
        assert "Titel van de cursus" in alert and "Toestemmingstekst" in alert
        # The form holds their saved settings; my text stays readable under its field.
        assert mine.input_value("#setting-title") == "Rug en training (hun versie)"
        assert mine.inner_text("#mine-title .mine-text") == "Rug en training (mijn versie)"
        assert mine.inner_text("#mine-consent-text .mine-text") == MY_CONSENT
        assert _settings(runtime)["title"] == "Rug en training (hun versie)"
        width = mine.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"], width
        mine.screenshot(
            path=str(screenshot_path(f"settings-conflict-{size}.png", "studio")), full_page=True
        )

        # Taking my consent text over and saving again from this page works.
        mine.fill("#setting-consent-text", MY_CONSENT)
        with mine.expect_navigation():
            mine.click("#settings-form button[type=submit]")
        assert "opgeslagen in het concept" in mine.inner_text("main")
        assert _settings(runtime)["consent"]["text"].replace("\r\n", "\n") == MY_CONSENT

        for tab in (mine, theirs):
            tab.goto(f"{server}{COURSE}")
        first = theirs.inner_text("#lesson-1 td:nth-child(2)")
        second = theirs.inner_text("#lesson-2 td:nth-child(2)")
        with theirs.expect_navigation():
            theirs.click("#lesson-1 button:text('Later')")
        mine.fill("#new-subject", "Slapen met rugpijn")
        with mine.expect_navigation():
            mine.click("#add-lesson button")
        alert = mine.inner_text("#conflict")
        assert "(les 'Slapen met rugpijn' toevoegen) is daarom niet uitgevoerd" in alert
        # The list as it is now (their move shown), nothing added, my subject still typed in.
        assert mine.inner_text("#lesson-1 td:nth-child(2)") == second
        assert mine.inner_text("#lesson-2 td:nth-child(2)") == first
        assert mine.locator("#lessons tbody tr").count() == 5
        assert mine.input_value("#new-subject") == "Slapen met rugpijn"
        mine.screenshot(path=str(screenshot_path(f"list-conflict-{size}.png", "studio")))
        with mine.expect_navigation():
            mine.click("#add-lesson button")
        assert "Les 'Slapen met rugpijn' toegevoegd" in mine.inner_text("main")
        assert mine.locator("#lessons tbody tr").count() == 6
        assert errors == [], errors
