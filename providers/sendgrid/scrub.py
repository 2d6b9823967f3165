"""Scrub SendGrid webhook bodies we keep: no address, IP or user agent once processed.

A batch body is kept a while after ingest (for a look when something went wrong), then the
retention job deletes it. Nothing reads a kept body again: ingest works from the parsed
events, so the stats lose nothing when the personal fields go.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from providers.sendgrid.webhook import email_of, event_key

# Personal data in a raw event; dropped from a kept batch once processed.
PERSONAL_FIELDS = ("email", "ip", "useragent")
# Free text a provider writes about one mailbox (bounce replies quote names and addresses);
# an event of a forgotten person keeps none of it, in the events table or the kept body.
FREE_TEXT_FIELDS = ("reason", "response", "url")
ERASED = "[erased]"
# Below this, nesting in a kept body is far past anything SendGrid sends: erased whole.
SCRUB_DEPTH = 32


def without_personal_data(body: Any, *, forgotten: Collection[str] = ()) -> Any:
    """Return a processed BODY without personal fields, nor any value quoting an address.

    A processed batch keeps no address, IP or user agent, and a value quoting the event's
    own address is erased, whatever its case: bounce replies often quote it. Events whose
    key is in FORGOTTEN (a forgotten person's, or tied to nobody) also lose their free text
    (FREE_TEXT_FIELDS), which may name the person without the address.
    """
    if not isinstance(body, list):
        return _scrub(body, [], 0, PERSONAL_FIELDS)
    return [
        _scrub_event(item, [], PERSONAL_FIELDS, forgotten)
        if isinstance(item, dict)
        else _scrub(item, [], 1, PERSONAL_FIELDS)
        for item in body
    ]


def without_address(body: Any, email: str) -> Any:
    """Return BODY with EMAIL erased, whatever its case (for `forget`).

    EMAIL's events lose their personal fields and free text, and any value quoting it is
    erased. Other people's events stay as they are: a batch still waiting to be ingested
    needs them.
    """
    address = email.strip().lower()
    if not isinstance(body, list):
        return _scrub(body, [address], 0, ())
    return [
        _scrub_event(item, [address], (), ())
        if isinstance(item, dict)
        else _scrub(item, [address], 1, ())
        for item in body
    ]


def _scrub_event(
    event: dict[str, Any],
    addresses: list[str],
    dropped: tuple[str, ...],
    forgotten: Collection[str],
) -> dict[str, Any]:
    own = email_of(event)
    if (own and own in addresses) or (forgotten and event_key(event) in forgotten):
        # A forgotten person's event, or one tied to nobody: nothing about them stays.
        dropped = PERSONAL_FIELDS + FREE_TEXT_FIELDS
    # Once an event's address goes, so does any value quoting it; while it stays (someone
    # else's event in a pending batch, on `forget`), the event is left whole.
    quoted = [*addresses, own] if own and "email" in dropped else addresses
    return {
        key: _scrub(value, quoted, 2, dropped) for key, value in event.items() if key not in dropped
    }


def _scrub(value: Any, addresses: list[str], depth: int, dropped: tuple[str, ...]) -> Any:
    if depth > SCRUB_DEPTH:
        # Nothing SendGrid sends nests this deep; don't walk (or keep) what an attacker built.
        return ERASED
    if isinstance(value, list):
        return [_scrub(item, addresses, depth + 1, dropped) for item in value]
    if isinstance(value, dict):
        return {
            key: _scrub(item, addresses, depth + 1, dropped)
            for key, item in value.items()
            if key not in dropped
        }
    if isinstance(value, str) and any(address in value.lower() for address in addresses):
        return ERASED
    return value
