"""The call to action, measured: human clicks, readers and their first lesson per lesson, with
scanner clicks told apart by every rule (user agent, network, seconds after delivery, several
links within a second, the trap link), through the app, the spool, Redis and the drain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from feedback_support import (
    BROWSER_UA,
    PHONE_UA,
    SCANNER_UA,
    admin_headers,
    lesson_links,
    row_cells,
    store_all,
    visit,
)
from sqlalchemy import select
from tracking_support import T0, make_subscriber

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, EmailEvent

pytestmark = pytest.mark.usefixtures("fresh_spool")


def click_flags(runtime: Runtime, delivery_id: int) -> list[tuple[str, bool]]:
    """Return (source, machine) of every click of DELIVERY_ID, in the order they happened."""
    with runtime.session() as session:
        rows = session.execute(
            select(EmailEvent.source, EmailEvent.machine)
            .where(EmailEvent.delivery_id == delivery_id, EmailEvent.kind == "click")
            .order_by(EmailEvent.occurred_at, EmailEvent.id)
        )
        return [(source, machine) for source, machine in rows]


def human_clicks(runtime: Runtime, delivery_id: int) -> int:
    with runtime.session() as session:
        return session.get(Delivery, delivery_id).clicks


def test_cta_per_lesson_human_clicks_readers_and_first_click(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    anna = make_subscriber(runtime, "anna@example.com", sent_days=3)
    bram = make_subscriber(runtime, "bram@example.com", sent_days=3)
    cees = make_subscriber(runtime, "cees@example.com", sent_days=3)
    links = {
        (who.subscriber_id, day): lesson_links(
            runtime, who.subscriber_id, who.delivery_ids[day], day
        )
        for who in (anna, bram, cees)
        for day in (1, 2, 3)
    }
    clock.set(T0 + timedelta(days=3))
    # Anna books from lesson 2 and clicks again in lesson 3; Bram twice in lesson 3 (a
    # minute apart, so not one replay); Cees reads a source link only.
    visit(client, links[anna.subscriber_id, 2].cta, BROWSER_UA)
    clock.advance(minutes=5)
    visit(client, links[anna.subscriber_id, 3].cta, BROWSER_UA)
    visit(client, links[bram.subscriber_id, 3].cta, PHONE_UA, "198.51.100.4")
    clock.advance(minutes=1)
    visit(client, links[bram.subscriber_id, 3].cta, PHONE_UA, "198.51.100.4")
    if links[cees.subscriber_id, 1].others:
        visit(client, links[cees.subscriber_id, 1].others[0], BROWSER_UA)
    # A scanner walks a lesson of Cees: it counts nowhere as a reader.
    for path in links[cees.subscriber_id, 2].every_tracked:
        visit(client, path, SCANNER_UA, "192.0.2.1")
    store_all(app, runtime)

    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    # human clicks, readers who clicked, first click in this lesson, scanner clicks, bookings
    assert row_cells(page, "cta-day-1") == ["0", "0", "0", "0", "0"]
    assert row_cells(page, "cta-day-2") == ["1", "1", "1", "1", "0"]
    assert row_cells(page, "cta-day-3") == ["3", "2", "1", "0", "0"]
    assert '<span id="cta-readers">2</span> lezers' in page
    # The funnel's "Geklikt" counts lessons a reader clicked in; the scanner's lesson is not one.
    assert row_cells(page, "day-2")[4] == "1"
    assert human_clicks(runtime, cees.delivery_ids[2]) == 0


@pytest.mark.parametrize(
    ("user_agent", "address", "seconds_after_sending", "machine"),
    [
        (BROWSER_UA, "203.0.113.7", 3600, False),  # a reader, an hour later
        (SCANNER_UA, "203.0.113.7", 3600, True),  # a known scanner's user agent
        (BROWSER_UA, "192.0.2.77", 3600, True),  # a scanner network (NURTURE_SCANNER_NETWORKS)
        (BROWSER_UA, "203.0.113.7", 4, True),  # seconds after delivery
        ("", "203.0.113.7", 3600, True),  # no user agent at all
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)",
            "203.0.113.7",
            3600,
            True,
        ),  # an image proxy does not click
    ],
)
def test_one_click_is_judged_by_agent_network_and_time(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    make_app: Callable[[Runtime], Any],
    clean_spool: Callable[[Settings], Any],
    clock: FrozenClock,
    user_agent: str,
    address: str,
    seconds_after_sending: int,
    machine: bool,
) -> None:
    settings = configure(scanner_networks='["192.0.2.0/24"]', machine_click_seconds=10)
    clean_spool(settings)
    runtime = make_runtime(settings)
    app = make_app(runtime)
    made = make_subscriber(runtime, "dirk@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    links = lesson_links(runtime, made.subscriber_id, delivery_id, 1)
    with runtime.session() as session:
        sent_at = session.get(Delivery, delivery_id).sent_at
    clock.set(sent_at + timedelta(seconds=seconds_after_sending))
    assert visit(app.test_client(), links.cta, user_agent, address).status_code == 302
    store_all(app, runtime)
    assert click_flags(runtime, delivery_id) == [("cta", machine)]
    assert human_clicks(runtime, delivery_id) == (0 if machine else 1)


def test_several_links_within_a_second_are_a_scanner_in_whichever_order_they_are_stored(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "eva@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    links = lesson_links(runtime, made.subscriber_id, delivery_id, 1)
    clock.set(T0 + timedelta(hours=5))
    visit(client, links.cta, BROWSER_UA)
    store_all(app, runtime)  # stored alone, it looks like a reader's
    assert click_flags(runtime, delivery_id) == [("cta", False)]
    assert human_clicks(runtime, delivery_id) == 1
    clock.advance(seconds=0.4)
    # The rating links are links of the mail too: a scanner fetches them, 0.4 s later.
    assert visit(client, links.ja, BROWSER_UA).status_code == 200
    clock.advance(seconds=0.3)
    assert visit(client, links.nee, BROWSER_UA).status_code == 200
    store_all(app, runtime)
    assert click_flags(runtime, delivery_id) == [
        ("cta", True),
        ("rating", True),
        ("rating", True),
    ]
    assert human_clicks(runtime, delivery_id) == 0
    # A reader coming back a minute later, on one link, counts again.
    clock.advance(minutes=1)
    visit(client, links.cta, BROWSER_UA)
    store_all(app, runtime)
    assert click_flags(runtime, delivery_id)[-1] == ("cta", False)
    assert human_clicks(runtime, delivery_id) == 1


def test_the_trap_link_convicts_its_clicker_before_and_after_it(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "fien@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    links = lesson_links(runtime, made.subscriber_id, delivery_id, 1)
    sandbox_ua = BROWSER_UA + " Sandbox/1"
    clock.set(T0 + timedelta(hours=5))
    visit(client, links.cta, sandbox_ua)
    store_all(app, runtime)
    assert click_flags(runtime, delivery_id) == [("cta", False)]
    clock.advance(seconds=20)
    trap = visit(client, links.trap, sandbox_ua)
    assert trap.status_code == 302
    assert client.get(trap.headers["Location"]).status_code == 200  # the trap's empty page
    clock.advance(seconds=20)
    visit(client, links.cta, PHONE_UA, "198.51.100.8")  # the reader, on their phone
    store_all(app, runtime)
    # The sandbox's click before the trap turns machine; the reader's stays human.
    assert click_flags(runtime, delivery_id) == [("cta", True), ("trap", True), ("cta", False)]
    assert human_clicks(runtime, delivery_id) == 1


def test_old_spooled_hits_without_flags_are_still_stored(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    from tracking.hits import QUEUE_KEY, drain_hits

    made = make_subscriber(runtime, "gijs@example.com", sent_days=1)
    stamp = (T0 + timedelta(hours=5)).timestamp()
    url = "https://umoya.example/afspraak"
    runtime.redis.rpush(
        QUEUE_KEY, f'["click",{made.delivery_ids[1]},"old",{stamp},"{BROWSER_UA}","{url}"]'
    )
    drain_hits(runtime)
    assert click_flags(runtime, made.delivery_ids[1]) == [("cta", False)]


def test_the_cta_button_counts_even_after_the_course_moved_its_booking_page(
    app, client, runtime: Runtime, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, "hein@example.com", sent_days=1)
    delivery_id = made.delivery_ids[1]
    # A mail sent before the clinic changed `[cta] url`: its button still is the button.
    old_page = "https://umoya.example/oude-afsprakenpagina"
    button = f"/c/{runtime.tokens.make_click(delivery_id, old_page, cta=True)}"
    plain = f"/c/{runtime.tokens.make_click(delivery_id, 'https://umoya.example/blog')}"
    clock.set(T0 + timedelta(hours=5))
    response = visit(client, button, BROWSER_UA)
    assert response.headers["Location"].startswith(old_page + "?nurture_ref=")
    clock.advance(minutes=2)
    assert visit(client, plain, BROWSER_UA).headers["Location"] == "https://umoya.example/blog"
    store_all(app, runtime)
    assert click_flags(runtime, delivery_id) == [("cta", False), ("link", False)]
