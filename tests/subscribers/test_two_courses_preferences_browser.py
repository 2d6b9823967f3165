"""In Chromium: the 'Voorkeuren' link of the older of a reader's two courses opens that
course's page (its title, a note about the other course, 'Stop deze cursus' beside 'Stop alle
e-mail'); stopping it leaves the other course running. Phone and desktop, no script errors;
screenshots go to test-output/two-courses/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import pytest
from browser_support import screenshot_path, serve_app
from lessons import enroll
from two_courses_support import FIRST, SECOND, enrollments_by_course, make_two_courses

from config import Settings, load_settings
from delivery.enrollments import enroll as enroll_in
from emails.render import Recipient
from runtime import Runtime
from store.models import Subscriber, SubscriberStatus

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday, 09:00 in Amsterdam
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path: Any, monkeypatch: Any) -> Settings:
    """This test's settings, with two course folders side by side."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


def _in_both(runtime: Runtime) -> int:
    """Return a reader of the first course who joined the second since (the newest)."""
    [reader] = enroll(runtime, 1, START)
    with runtime.session() as session:
        subscriber = session.get(Subscriber, reader)
        assert subscriber is not None
        enroll_in(session, subscriber, runtime.courses.get(SECOND), START, runtime.settings)
    return reader


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_older_courses_footer_link_opens_its_own_page(
    server: str, runtime: Runtime, settings: Settings, chromium: Any, clock: Any, size: str
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the two courses' pages run on PostgreSQL elsewhere")
    clock.set(START)
    reader = _in_both(runtime)
    course = runtime.courses.get(FIRST)
    lesson = runtime.renderer.lesson(
        course, 1, Recipient(subscriber_id=reader, email="lezer0@example.org", first_name="Lezer")
    )
    found = re.search(r'href="https?://[^/"]+(/voorkeuren/[^"]+)"', lesson.html)
    assert found
    with closing(chromium.new_context(viewport=VIEWPORTS[size])) as context:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server + found.group(1))
        assert f"Voor de e-mailcursus {course.title}" in page.inner_text(".lead")
        assert "Je volgt ook nog een andere cursus" in page.inner_text("#elsewhere")
        assert page.is_visible("#stop-course") and page.is_visible("#stop-all")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[size]["width"], width
        page.screenshot(
            path=str(screenshot_path(f"preferences-{size}.png", "two-courses")), full_page=True
        )
        page.get_by_label("De inhoud past niet bij mij").check()
        page.click("#stop-course")
        page.wait_for_selector("text=Je bent afgemeld")
        assert f"geen e-mails van de cursus {course.title} meer" in page.inner_text("main")
        assert errors == [], errors
    assert enrollments_by_course(runtime, reader) == {FIRST: ["cancelled"], SECOND: ["active"]}
    with runtime.session() as session:
        subscriber = session.get(Subscriber, reader)
        assert subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED
