"""The reader's time zone at signup: the form's hidden field and the JSON API's `timezone`,
checked against the IANA database, kept on the confirmation of a known address until it is
confirmed, and filled in by the confirm page's browser when the signup gave none."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from subscribers_support import (
    confirm_path,
    confirmations_of,
    latest_confirmation,
    signup_form,
    subscriber_by_email,
)

from runtime import Runtime
from store.clock import FrozenClock
from store.models import Subscriber
from subscribers.validation import clean_timezone

NEW_YORK = "America/New_York"


def _zone_of(runtime: Runtime, address: str) -> str | None:
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    return subscriber.timezone


def _sign_up(client: Any, address: str, **extra: str) -> None:
    response = client.post("/subscribe", data=signup_form(email=address, **extra))
    assert response.status_code == 200
    assert "Check je inbox" in response.get_data(as_text=True)


def _confirm(client: Any, runtime: Runtime, address: str, **form: str) -> None:
    subscriber = subscriber_by_email(runtime, address)
    assert subscriber is not None
    response = client.post(confirm_path(runtime, subscriber.id), data=form)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("America/New_York", "America/New_York"),
        (" Europe/Amsterdam ", "Europe/Amsterdam"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("Mars/Olympus_Mons", None),
        ("../../../etc/passwd", None),
        ("/usr/share/zoneinfo/Europe/Paris", None),
        ("america/new_york", None),  # IANA names are case-sensitive keys
        ("", None),
        ("Europe/" + "x" * 100, None),
        (None, None),
        (42, None),
        (["Europe/Paris"], None),
    ],
)
def test_only_iana_zone_names_are_taken(given: Any, kept: str | None) -> None:
    assert clean_timezone(given) == kept


def test_a_new_address_takes_the_browsers_zone_and_a_bad_one_falls_back(
    client: Any, runtime: Runtime
) -> None:
    _sign_up(client, "ny@example.com", timezone=NEW_YORK)
    assert _zone_of(runtime, "ny@example.com") == NEW_YORK
    _sign_up(client, "nergens@example.com", timezone="Nergens/Niemandsland")
    assert _zone_of(runtime, "nergens@example.com") is None  # the course's zone applies
    _sign_up(client, "zonder@example.com")
    assert _zone_of(runtime, "zonder@example.com") is None


def test_the_json_api_takes_a_timezone_field(client: Any, runtime: Runtime) -> None:
    body = {"email": "api@example.com", "consent": True, "timezone": "Asia/Tokyo"}
    response = client.post("/subscribe", json=body)
    assert response.status_code == 200 and response.get_json() == {"status": "check_inbox"}
    assert _zone_of(runtime, "api@example.com") == "Asia/Tokyo"
    # A wrong type is no error the visitor can fix: the signup goes through, zone unset.
    response = client.post(
        "/subscribe", json={"email": "api2@example.com", "consent": True, "timezone": {"x": 1}}
    )
    assert response.status_code == 200
    assert _zone_of(runtime, "api2@example.com") is None


def test_an_anonymous_signup_never_changes_a_known_persons_zone(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    _sign_up(client, "bekend@example.com", timezone="Europe/Amsterdam")
    _confirm(client, runtime, "bekend@example.com")
    assert _zone_of(runtime, "bekend@example.com") == "Europe/Amsterdam"
    # Someone else types the confirmed address with their own zone: nothing changes.
    clock.advance(minutes=30)
    _sign_up(client, "bekend@example.com", timezone="Pacific/Auckland")
    assert _zone_of(runtime, "bekend@example.com") == "Europe/Amsterdam"

    # A pending address: a second signup's zone waits on its own confirmation.
    _sign_up(client, "wacht@example.com", timezone="Europe/Lisbon")
    clock.advance(minutes=30)
    _sign_up(client, "wacht@example.com", timezone=NEW_YORK)
    assert _zone_of(runtime, "wacht@example.com") == "Europe/Lisbon"
    subscriber = subscriber_by_email(runtime, "wacht@example.com")
    assert subscriber is not None
    assert latest_confirmation(runtime, subscriber.id).requested_timezone == NEW_YORK
    _confirm(client, runtime, "wacht@example.com")
    assert _zone_of(runtime, "wacht@example.com") == NEW_YORK


def test_the_confirm_page_fills_in_a_zone_the_signup_did_not_give(
    client: Any, runtime: Runtime
) -> None:
    _sign_up(client, "embed@example.com")  # an embedded form without the script
    _confirm(client, runtime, "embed@example.com", timezone="America/Chicago")
    assert _zone_of(runtime, "embed@example.com") == "America/Chicago"
    # The signup form's zone comes first: a scanner running the page sits elsewhere.
    _sign_up(client, "eerst@example.com", timezone=NEW_YORK)
    _confirm(client, runtime, "eerst@example.com", timezone="UTC")
    assert _zone_of(runtime, "eerst@example.com") == NEW_YORK
    # A nonsense zone from the confirm page is ignored.
    _sign_up(client, "onzin@example.com")
    _confirm(client, runtime, "onzin@example.com", timezone="Moon/Base")
    assert _zone_of(runtime, "onzin@example.com") is None


def test_the_signup_and_confirm_pages_carry_the_zone_field_and_its_script(
    client: Any, runtime: Runtime
) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<input type="hidden" name="timezone" value="" data-timezone>' in page
    assert '<script src="/static/timezone.js" defer></script>' in page
    _sign_up(client, "pagina@example.com")
    subscriber = subscriber_by_email(runtime, "pagina@example.com")
    assert subscriber is not None
    confirm_page = client.get(confirm_path(runtime, subscriber.id)).get_data(as_text=True)
    assert '<input type="hidden" name="timezone" value="" data-timezone>' in confirm_page
    # The zone script runs before the one that presses the button.
    assert confirm_page.index("/static/timezone.js") < confirm_page.index("/static/confirm.js")
    script = client.get("/static/timezone.js")
    assert script.status_code == 200
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in script.get_data(as_text=True)


def test_forget_erases_the_zone_a_confirmation_waits_with(
    client: Any, runtime: Runtime, runner: Any
) -> None:
    _sign_up(client, "vergeet@example.com", timezone=NEW_YORK)
    result = runner("subscribers", "forget", "vergeet@example.com", "--yes")
    assert result.exit_code == 0, result.output
    with runtime.session() as session:
        [row] = session.scalars(select(Subscriber).where(Subscriber.status == "forgotten"))
        assert row.timezone is None
    assert all(c.requested_timezone is None for c in confirmations_of(runtime))
