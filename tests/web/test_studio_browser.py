"""The studio in Chromium, the issue's scenario: edit lesson 3's subject and a sentence and see
the preview change; type an http:// link and see the check block publishing; publish; a
subscriber due for day 3 gets the new text from a running worker (no restart); revert.
Also: no CSP error with EasyMDE, and screenshots at desktop and phone widths; a problem of the
whole course on top of the editor, linking to the settings field it is shown next to; an
article split problem under the heading it is about."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from browser_support import basic_auth_header, for_docs, screenshot_path, serve_app
from courses_support import SLUG, publish_real_details
from helpers import wait_until
from lessons import dispatch_pass, emails_in, enroll, enrollment_of
from sqlalchemy import update
from workers import thread_worker

from course.drafts import update_settings
from runtime import Runtime
from store.models import Enrollment

CREDENTIALS = {"username": "beheer", "password": "test-admin-password"}
NEW_SUBJECT = "Doortrainen met pijn: zo doe je het anders"
NEW_SENTENCE = " Deze zin schreef de praktijk in de studio."
BAD_LINK = " Zie http://praktijk.nl/meer."
# The desktop shots docs/studio.md shows.
FOR_DOCS = {
    "courses",
    "lesson",
    "lesson-check",
    "course-problems",
    "settings-problem",
    "versions",
    "article-split",
    "article-problem",
}
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


def _context(chromium: Any, size: str) -> Any:
    return chromium.new_context(
        extra_http_headers=basic_auth_header(CREDENTIALS), viewport=SIZES[size]
    )


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save screenshot NAME under test-output/studio/; docs/ shows the desktop ones."""
    path = screenshot_path(name, "studio")
    page.screenshot(path=str(path), full_page=full_page)
    if name.removesuffix("-desktop.png") in FOR_DOCS:
        for_docs(path, f"studio-{name.removesuffix('-desktop.png')}.png")


def _csp_watch(page: Any) -> list[str]:
    """Collect console errors (a CSP refusal shows up there) of PAGE."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _due_for_day_three(runtime: Runtime) -> int:
    [subscriber_id] = enroll(runtime, 1, runtime.now() + timedelta(days=1))
    with runtime.session() as session:
        session.execute(
            update(Enrollment).where(Enrollment.subscriber_id == subscriber_id).values(next_day=3)
        )
    return subscriber_id


def test_edit_preview_check_publish_deliver_and_revert(
    server: str,
    runtime: Runtime,
    make_runtime: Any,
    settings: Any,
    chromium: Any,
    fake_sendgrid: Any,
    clock: Any,
) -> None:
    publish_real_details(runtime)
    old_subject = runtime.courses.get(SLUG).lesson(3).subject
    subscriber_id = _due_for_day_three(runtime)
    worker_runtime = make_runtime(settings)  # a worker process's own runtime and course cache
    assert worker_runtime.courses.get(SLUG).lesson(3).subject == old_subject
    with thread_worker(worker_runtime), closing(_context(chromium, "desktop")) as context:
        page = context.new_page()
        errors = _csp_watch(page)
        page.goto(f"{server}/admin/courses/{SLUG}/lessons/3")
        page.wait_for_selector(".editor-toolbar button.bold")  # EasyMDE is running
        preview = page.frame_locator("#preview-frame")
        assert page.inner_text("#preview-subject") == old_subject
        assert "DAG 3 VAN 5" in preview.locator("body").inner_text()

        page.fill("#field-subject", NEW_SUBJECT)
        page.click(".CodeMirror")
        page.keyboard.press("Control+End")
        page.keyboard.type(NEW_SENTENCE.strip())
        page.wait_for_function(
            "() => document.getElementById('save-state').textContent.startsWith('Opgeslagen')"
        )
        page.wait_for_timeout(300)
        body = preview.locator("body")
        body.get_by_text(NEW_SENTENCE.strip()).wait_for()
        assert page.inner_text("#preview-subject") == NEW_SUBJECT
        assert NEW_SENTENCE.strip() in page.inner_text("#text-part")

        page.keyboard.type(BAD_LINK)
        page.locator("#problems-body li").filter(has_text="http://praktijk.nl/meer").wait_for()
        assert page.is_visible("#problems-some")
        _shot(page, "lesson-check-desktop.png")
        page.goto(f"{server}/admin/courses/{SLUG}/versions")
        assert page.is_disabled("#publish-button")
        page.go_back()
        page.wait_for_selector(".editor-toolbar button.bold")
        page.click(".CodeMirror")
        page.keyboard.press("Control+End")
        for _ in BAD_LINK:
            page.keyboard.press("Backspace")
        page.wait_for_selector("#problems-none", state="visible")

        page.goto(f"{server}/admin/courses/{SLUG}/versions")
        page.fill("#publish-note", "dag 3 herschreven")
        with page.expect_navigation():
            page.click("#publish-button")
        assert "Versie 3 is gepubliceerd" in page.inner_text("main")
        _shot(page, "versions-desktop.png")

        # The subscriber due for day 3 gets the new text from the running worker: no restart.
        clock.set(enrollment_of(runtime, subscriber_id).next_due_at + timedelta(seconds=1))
        dispatch_pass(runtime)
        assert wait_until(lambda: emails_in(fake_sendgrid) == 1, 20)
        [request] = fake_sendgrid.accepted
        [message] = request.messages
        assert message["subject"] == NEW_SUBJECT
        assert NEW_SENTENCE.strip() in str(request.body)

        with page.expect_navigation():
            page.click("#version-2 button")
        assert "opnieuw gepubliceerd als versie 4" in page.inner_text("main")
        assert errors == [], errors
    assert runtime.courses.get(SLUG).lesson(3).subject == old_subject


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_studio_pages_at_desktop_and_phone_width(
    server: str, runtime: Runtime, chromium: Any, size: str
) -> None:
    publish_real_details(runtime)
    with closing(_context(chromium, size)) as context:
        page = context.new_page()
        errors = _csp_watch(page)
        page.goto(f"{server}/admin/courses")
        _shot(page, f"courses-{size}.png")
        page.click(f"#course-{SLUG} a")
        _shot(page, f"course-{size}.png")
        page.click("#lessons tbody tr:nth-child(3) a")
        page.wait_for_selector(".editor-toolbar button.bold")
        if size == "phone":
            page.click(".preview-widths [data-width=phone]")
        page.wait_for_timeout(300)
        _shot(page, f"lesson-{size}.png")
        # Nothing wider than the screen: the page never scrolls sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"], width
        page.goto(f"{server}/admin/courses/{SLUG}/settings")
        _shot(page, f"settings-{size}.png")
        page.goto(f"{server}/admin/courses/{SLUG}/versions")
        _shot(page, f"history-{size}.png")
        page.goto(f"{server}/admin/courses/new")
        _shot(page, f"article-{size}.png")
        assert errors == [], errors


def test_a_new_course_from_a_pasted_article_in_chromium(
    server: str, runtime: Runtime, chromium: Any
) -> None:
    publish_real_details(runtime)
    article = "Rugpijn\n\nDe eerste zin. De tweede zin.\n\nTraining\n\nHier gaat het om kracht.\n"
    for size in ("desktop", "phone"):
        slug = f"artikel-{size}"
        with closing(_context(chromium, size)) as context:
            page = context.new_page()
            errors = _csp_watch(page)
            page.goto(f"{server}/admin/courses/new")
            page.fill("#article-slug", slug)
            page.fill("#article-title", "Uit een artikel")
            page.fill("#article-text", article)
            with page.expect_navigation():
                page.click("button[value=suggest]")
            assert page.input_value("#mark-day-1") == "2"
            page.fill("#preheader-1", "Waarom je rug opspeelt")
            page.fill("#teaser-1", "Morgen: training")
            page.fill("#preheader-2", "Kracht")
            with page.expect_navigation():
                page.click("button[value=split]")
            assert "Alle 5 zinnen van het artikel" in page.inner_text("#coverage")
            _shot(page, f"article-split-{size}.png")
            with page.expect_navigation():
                page.click("button[value=save]")
            assert "Concept van de cursus Uit een artikel opgeslagen (2 lessen)" in page.inner_text(
                "main"
            )
            assert errors == [], errors


def test_an_article_split_problem_stands_under_its_heading(
    server: str, runtime: Runtime, chromium: Any
) -> None:
    publish_real_details(runtime)
    article = "Inleiding\n\nEerst dit.\n\nRugpijn\n\nDe eerste zin.\n\nTraining\n\nKracht.\n"
    for size in ("desktop", "phone"):
        with closing(_context(chromium, size)) as context:
            page = context.new_page()
            errors = _csp_watch(page)
            page.goto(f"{server}/admin/courses/new")
            page.fill("#article-slug", f"fout-{size}")
            page.fill("#article-text", article)
            with page.expect_navigation():
                page.click("button[value=suggest]")
            page.fill("#mark-day-0", "0")  # "Inleiding" starts no day: its text has none
            page.fill("#mark-day-1", "1")
            page.fill("#mark-day-2", "2")
            page.fill("#preheader-1", "Waarom")
            page.fill("#preheader-2", "Hoe")
            with page.expect_navigation():
                page.click("button[value=split]")
            assert page.get_attribute("#mark-day-0", "aria-invalid") == "true"
            assert "komt in geen enkele les" in page.inner_text("#problems-mark-day-0")
            assert page.locator(".field-problems").count() == 1  # under that heading only
            page.click('#split-problems a[href="#mark-day-0"]')
            assert page.url.endswith("#mark-day-0")
            assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
            _shot(page, f"article-problem-{size}.png")
            # The refused split answers 400, which Chromium logs; anything else is a fault.
            assert [error for error in errors if "status of 400" not in error] == [], errors


def test_a_course_problem_is_on_top_of_the_editor_and_next_to_its_setting(
    server: str, runtime: Runtime, chromium: Any
) -> None:
    publish_real_details(runtime)
    with runtime.session() as session:
        changes = {"cta.url": "http://praktijk.nl/afspraak"}
        update_settings(session, SLUG, changes, author="test", now=runtime.now())
    with closing(_context(chromium, "desktop")) as context:
        page = context.new_page()
        errors = _csp_watch(page)
        page.goto(f"{server}/admin/courses/{SLUG}/lessons/3")
        page.wait_for_selector(".editor-toolbar button.bold")
        assert page.is_visible("#course-problems")
        assert "http://praktijk.nl/afspraak" in page.inner_text("#course-problem-list")
        _shot(page, "course-problems-desktop.png", full_page=False)
        page.set_viewport_size(SIZES["phone"])
        _shot(page, "course-problems-phone.png", full_page=False)
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"]
        page.set_viewport_size(SIZES["desktop"])
        page.fill("#field-subject", NEW_SUBJECT)  # a save redraws the list from its answer
        page.wait_for_function(
            "() => document.getElementById('save-state').textContent.startsWith('Opgeslagen')"
        )
        assert page.locator("#course-problem-list li").count() == 1
        with page.expect_navigation():
            page.click("#course-problem-list a")
        assert page.url.endswith("/settings#setting-cta-url")
        assert "https://" in page.inner_text("#problems-setting-cta-url")
        assert page.get_attribute("#setting-cta-url", "aria-invalid") == "true"
        _shot(page, "settings-problem-desktop.png")
        page.set_viewport_size(SIZES["phone"])
        # Let the narrower layout paint before a full-page shot (else parts come out blank).
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        _shot(page, "settings-problem-phone.png")
        page.set_viewport_size(SIZES["desktop"])

        page.fill("#setting-cta-url", "https://praktijk.nl/afspraak")
        with page.expect_navigation():
            page.click("#settings-form button[type=submit]")
        assert page.locator("#settings-problems, #problems-setting-cta-url").count() == 0
        page.goto(f"{server}/admin/courses/{SLUG}/lessons/3")
        page.wait_for_selector(".editor-toolbar button.bold")
        assert not page.is_visible("#course-problems")
        assert page.is_visible("#problems-none")
        assert errors == [], errors
