"""A rendered lesson in real Chromium: desktop, mobile and dark mode screenshots, layout intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import screenshot_path
from emails_support import mail_env, renderer, sample_course, shipped_course

from emails.render import Recipient, Renderer

__all__ = ["mail_env", "renderer"]  # the fixtures, imported so pytest finds them here

VIEWPORTS = {"desktop": (1280, 900), "mobile": (375, 740)}


def _layout(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const box = (selector) => {
                const r = document.querySelector(selector).getBoundingClientRect();
                return {left: r.left, right: r.right, width: r.width, height: r.height};
            };
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                container: box('table.container'),
                card: box('td.card'),
                button: box('a.button'),
                cardBackground: getComputedStyle(document.querySelector('td.card')).backgroundColor,
                fontSize: parseFloat(getComputedStyle(document.querySelector('td.card')).fontSize),
            };
        }"""
    )


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_lesson_layout_in_chromium(
    chromium: Any, renderer: Renderer, tmp_path: Path, viewport: str, scheme: str
) -> None:
    course = shipped_course() or sample_course(tmp_path / "courses")
    message = renderer.lesson(course, 1, Recipient(7, "anna@example.nl", "Anna", 42))
    width, height = VIEWPORTS[viewport]
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    requested: list[str] = []

    def block(route: Any) -> None:
        requested.append(route.request.url)
        route.abort()

    context.route("**/*", block)
    page = context.new_page()
    try:
        page.set_content(message.html, wait_until="load")
        layout = _layout(page)
        page.screenshot(
            path=str(screenshot_path(f"email-lesson-{viewport}-{scheme}.png")), full_page=True
        )
        assert page.locator("table.container").is_visible()
        assert page.get_by_text(f"Dag 1 van {course.days}").is_visible()
        assert page.get_by_text("Hallo Anna,").is_visible()
        assert page.get_by_role("link", name=course.cta_label).is_visible()
        unsubscribe = page.get_by_role("link", name="Uitschrijven")
        assert unsubscribe.is_visible()
        assert unsubscribe.get_attribute("href").startswith("http://nurture.test/unsubscribe/")
        assert not page.locator("div.preheader").is_visible()
        # No horizontal scrolling, and the content column fits the viewport.
        assert layout["scrollWidth"] <= layout["innerWidth"]
        assert layout["container"]["left"] >= 0 and layout["container"]["right"] <= width
        if viewport == "desktop":
            assert layout["container"]["width"] == 600
        else:
            assert layout["container"]["width"] >= width - 40
            assert layout["button"]["width"] >= layout["card"]["width"] * 0.6  # full-width button
        assert layout["fontSize"] >= 16
        assert layout["card"]["height"] > 400
        dark_card = layout["cardBackground"] != "rgb(255, 255, 255)"
        assert dark_card == (scheme == "dark")
        # Only our own tracking pixel is fetched: no fonts, scripts or stylesheets.
        assert all(url.startswith("http://nurture.test/o/") for url in requested), requested
        assert len(requested) == 1
    finally:
        context.close()


@pytest.mark.browser
def test_confirmation_fits_a_phone_even_with_a_long_link(
    chromium: Any, renderer: Renderer, tmp_path: Path
) -> None:
    course = shipped_course() or sample_course(tmp_path / "courses")
    confirm_url = "http://nurture.test/confirm/" + "Mx" * 60 + ".aBcD" * 10
    message = renderer.confirmation(course, Recipient(7, "a@example.nl", None), confirm_url)
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    context.route("**/*", lambda route: route.abort())
    page = context.new_page()
    try:
        page.set_content(message.html, wait_until="load")
        page.screenshot(path=str(screenshot_path("email-confirmation-mobile.png")), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        button = page.get_by_role("link", name=course.confirmation["button"])
        assert button.is_visible() and button.get_attribute("href") == confirm_url
        assert page.get_by_text("Hallo,").is_visible()
        assert page.get_by_role("link", name="Uitschrijven").is_visible()
    finally:
        context.close()
