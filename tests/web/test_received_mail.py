"""The subscriber page shows which course version each lesson was sent from, and renders it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from browser_support import basic_auth_header, screenshot_path, serve_app
from courses_support import SLUG, edit_lesson, publish_real_details
from lessons import collect_ids, deliveries_of, dispatch_pass, enroll

from delivery.sender import Sender
from runtime import Runtime
from subscribers.studio import publish

NEW_SENTENCE = "Deze zin staat alleen in de nieuwe versie."


def auth() -> dict[str, str]:
    token = base64.b64encode(b"beheer:test-admin-password").decode()
    return {"Authorization": f"Basic {token}"}


def send_day_one_then_change_it(runtime: Runtime) -> tuple[int, int, str]:
    """Send lesson 1 from version 2, then publish version 3 with another lesson 1."""
    sent_from = publish_real_details(runtime).version.content_hash
    [subscriber_id] = enroll(runtime, 1, runtime.now())
    ids: list[int] = []
    dispatch_pass(runtime, collect_ids(ids))
    assert Sender(runtime).deliver_many(ids) == {ids[0]: "sent"}
    edit_lesson(runtime, 1, subject="Een nieuw onderwerp", body=NEW_SENTENCE)
    publish(runtime, SLUG, author="test@studio")
    return subscriber_id, ids[0], sent_from


def test_the_subscriber_page_shows_the_version_and_renders_what_was_received(
    client: Any, runtime: Runtime
) -> None:
    subscriber_id, delivery_id, sent_from = send_day_one_then_change_it(runtime)
    assert deliveries_of(runtime, subscriber_id)[0].course_version == sent_from
    page = client.get(f"/admin/subscribers/{subscriber_id}", headers=auth()).get_data(True)
    assert "Ontvangen lessen" in page and sent_from[:12] in page
    link = f"/admin/subscribers/{subscriber_id}/mail/{delivery_id}"
    assert link in page

    response = client.get(link, headers=auth())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    old_lesson = runtime.courses.version(sent_from).lesson(1)
    assert old_lesson.subject in html and NEW_SENTENCE not in html
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "/c/" not in html  # untracked links: looking at it counts no click
    # Another subscriber's id in the path, or no login, shows nothing.
    assert (
        client.get(
            f"/admin/subscribers/{subscriber_id + 1}/mail/{delivery_id}", headers=auth()
        ).status_code
        == 404
    )
    assert client.get(link).status_code == 401


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with serve_app(lambda _base_url: app) as base_url:
        yield base_url


@pytest.mark.browser
def test_clinic_opens_a_received_lesson_in_chromium(
    server: str, runtime: Runtime, chromium: Any
) -> None:
    subscriber_id, _, sent_from = send_day_one_then_change_it(runtime)
    credentials = {"username": "beheer", "password": "test-admin-password"}
    for name, viewport in (("desktop", (1200, 900)), ("phone", (390, 844))):
        size = {"width": viewport[0], "height": viewport[1]}
        with closing(
            chromium.new_context(extra_http_headers=basic_auth_header(credentials), viewport=size)
        ) as context:
            page = context.new_page()
            page.goto(f"{server}/admin/subscribers/{subscriber_id}")
            assert sent_from[:12] in page.locator(".received").inner_text()
            page.screenshot(
                path=str(screenshot_path(f"h5-subscriber-{name}.png", "received")), full_page=True
            )
            with page.expect_navigation():
                page.click(".received a")
            subject = runtime.courses.version(sent_from).lesson(1).subject
            assert subject in page.content()
            page.screenshot(
                path=str(screenshot_path(f"h5-received-{name}.png", "received")), full_page=True
            )
