"""In Chromium: a lesson's footer link opens the reader's preferences page; choose the evening
and a zone, pause a week, then unsubscribe with a reason, by label and by keyboard, at phone
and desktop widths, with no script errors."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import pytest
from browser_support import screenshot_path
from lessons import enroll, enrollment_of

from config import Settings
from emails.render import Recipient
from runtime import Runtime
from store.clock import FrozenClock
from store.models import EnrollmentStatus, Subscriber, SubscriberStatus

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday, 09:00 in Amsterdam
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_path(f"h2-{name}.png", "h2")), full_page=True)


def _subscriber(runtime: Runtime, subscriber_id: int) -> Subscriber:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


@pytest.mark.browser
@pytest.mark.slow
def test_the_preferences_page_from_a_lesson_footer(
    settings: Settings, live_runtime: tuple[str, Runtime], chromium: Any, clock: FrozenClock
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the page's changes run on PostgreSQL elsewhere")
    clock.set(START)
    live_server, runtime = live_runtime
    [reader, other] = enroll(runtime, 2, START)
    course = runtime.courses.get()
    lesson = runtime.renderer.lesson(
        course, 1, Recipient(subscriber_id=reader, email="lezer0@example.org", first_name="Lezer")
    )
    for name, viewport in VIEWPORTS.items():
        with closing(chromium.new_context(viewport=viewport)) as context:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
            # The lesson as a mail client shows it; its footer link leads to the page.
            page.set_content(lesson.html)
            link = page.get_by_role("link", name="Voorkeuren")
            assert link.is_visible()
            link.click()
            page.wait_for_selector("h1:has-text('Je voorkeuren')")
            assert page.url.startswith(live_server + "/voorkeuren/")
            _shot(page, f"preferences-{name}")
            assert errors == []
            assert page.get_by_label("'s Ochtends (07:30)").is_checked()
            assert page.get_by_label("Tijdzone", exact=True).input_value() == "Europe/Amsterdam"
    assert enrollment_of(runtime, reader).status == EnrollmentStatus.ACTIVE  # GETs only

    path = f"{live_server}/voorkeuren/{runtime.tokens.make_preferences(reader)}"
    with closing(chromium.new_context(viewport=VIEWPORTS["phone"])) as context:
        page = context.new_page()
        page.goto(path)
        # An impossible time: a Dutch message at the top, linked to the field.
        page.get_by_label("Op een eigen tijd").check()
        page.get_by_label("Tijdzone", exact=True).select_option("America/New_York")
        page.get_by_role("button", name="Tijdstip opslaan").click()
        page.wait_for_selector("#form-errors")
        assert "Kies een tijd tussen 00:00 en 23:59" in page.locator("#form-errors").inner_text()
        assert page.get_by_label("Eigen tijd (uu:mm)").get_attribute("aria-invalid") == "true"
        _shot(page, "preferences-error-phone")
        # The evening in New York, by keyboard: focus the choice, Space, then Enter on save.
        page.get_by_label("'s Avonds (19:00)").focus()
        page.keyboard.press("Space")
        page.get_by_role("button", name="Tijdstip opslaan").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Je tijdstip en tijdzone zijn opgeslagen.")
        assert page.get_by_label("Tijdzone", exact=True).input_value() == "America/New_York"
        subscriber = _subscriber(runtime, reader)
        assert (subscriber.send_time, subscriber.timezone) == ("19:00", "America/New_York")
        page.get_by_role("button", name="Pauzeer een week").click()
        page.wait_for_selector("text=Je cursus staat op pauze.")
        # A week on, in the reader's new zone: 08:00 UTC is 04:00 in New York (summer time
        # began there on 8 March).
        assert "tot maandag 9 maart om 04:00" in page.locator("#stand").inner_text()
        _shot(page, "preferences-paused-phone")
        assert enrollment_of(runtime, reader).status == EnrollmentStatus.PAUSED
        page.get_by_label("Ik krijg te veel e-mails").check()
        page.get_by_label("Wil je nog iets kwijt?").fill("Mooie cursus, maar te vaak.")
        page.get_by_role("button", name="Meld mij af").click()
        page.wait_for_selector("text=Je bent afgemeld")
        _shot(page, "preferences-unsubscribed-phone")
    assert _subscriber(runtime, reader).status == SubscriberStatus.UNSUBSCRIBED
    assert _subscriber(runtime, other).status == SubscriberStatus.CONFIRMED  # nobody else
