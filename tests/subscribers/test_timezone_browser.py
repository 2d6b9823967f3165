"""In Chromium under a forced time zone: the signup page's own script sends the browser's zone,
and a reader in New York then gets day 2 at 07:30 New York time, through the real worker."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import screenshot_path
from helpers import wait_until
from lessons import deliveries_of, enrollment_of
from subscribers_support import confirm_path, subscriber_by_email
from workers import thread_worker

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import DeliveryState, SubscriberStatus
from tasks.dispatch import dispatch_once

NEW_YORK = ZoneInfo("America/New_York")
# Monday 2 March 2026, 09:00 in New York (14:00 UTC, 15:00 in Amsterdam).
MONDAY_MORNING = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ADDRESS = "lezer.in.new.york@example.com"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _lesson_sent(runtime: Runtime, subscriber_id: int, day: int) -> bool:
    lessons = deliveries_of(runtime, subscriber_id)
    return len(lessons) >= day and lessons[day - 1].state == DeliveryState.SENT


@pytest.mark.browser
@pytest.mark.slow
def test_a_reader_in_new_york_gets_day_2_at_0730_new_york_time(
    settings: Settings,
    live_runtime: tuple[str, Runtime],
    chromium: Any,
    fake_sendgrid: Any,
    clock: FrozenClock,
) -> None:
    if not settings.is_sqlite:
        pytest.skip("one browser run is enough; the zone's path runs on PostgreSQL elsewhere")
    clock.set(MONDAY_MORNING)
    live_server, runtime = live_runtime
    with thread_worker(runtime, concurrency=2):
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = chromium.new_context(viewport=viewport, timezone_id="America/New_York")
            with closing(context):
                page = context.new_page()
                page.goto(live_server + "/")
                page.screenshot(path=str(screenshot_path(f"h2-signup-ny-{name}.png", "h2")))
                # The script filled the hidden field from Intl.DateTimeFormat in this browser.
                zone_field = page.locator('input[name="timezone"]')
                assert zone_field.input_value() == "America/New_York"
                assert zone_field.get_attribute("type") == "hidden"
        with closing(chromium.new_context(viewport=PHONE, timezone_id="America/New_York")) as ctx:
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(live_server + "/")
            page.get_by_role("textbox", name="E-mailadres").fill(ADDRESS)
            page.get_by_role("textbox", name="Voornaam").fill("Grace")
            page.locator("#consent").check()
            page.get_by_role("button", name="Ja, ik doe mee").click()
            page.wait_for_selector("text=Check je inbox")
            subscriber = subscriber_by_email(runtime, ADDRESS)
            assert subscriber is not None and subscriber.timezone == "America/New_York"
            # The confirm page's script presses the button (and sends the zone once more).
            page.goto(live_server + confirm_path(runtime, subscriber.id))
            page.wait_for_selector("text=Welkom, Grace!")
            assert errors == []  # no CSP violation: both scripts come from our own origin
        confirmed = subscriber_by_email(runtime, ADDRESS)
        assert confirmed is not None and confirmed.status == SubscriberStatus.CONFIRMED

        # Day 1 goes out at once; day 2 is due at the next 07:30 in New York.
        assert dispatch_once(runtime).materialised == 1
        assert wait_until(lambda: _lesson_sent(runtime, subscriber.id, 1), 30)
        due = enrollment_of(runtime, subscriber.id).next_due_at
        assert due == datetime(2026, 3, 3, 7, 30, tzinfo=NEW_YORK)
        assert due == datetime(2026, 3, 3, 12, 30, tzinfo=UTC)  # not 07:30 in Amsterdam (06:30)
        clock.set(due - timedelta(minutes=1))
        assert dispatch_once(runtime).materialised == 0
        clock.set(due)
        assert dispatch_once(runtime).materialised == 1
        assert wait_until(lambda: _lesson_sent(runtime, subscriber.id, 2), 30)
    day2 = deliveries_of(runtime, subscriber.id)[1]
    assert day2.sent_at is not None
    local = day2.sent_at.astimezone(NEW_YORK)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-03-03", 7, 30)
    # What the fake SendGrid accepted for this reader: each mail once.
    accepted = {k[2]: n for k, n in fake_sendgrid.counts.items() if k[0] == ADDRESS and k[1]}
    assert accepted == {"confirmation": 1, "1": 1, "2": 1}
