"""Scrub SendGrid webhook bodies we keep: no address, IP or user agent once processed.

A batch body is kept a while after ingest (for a look when something went wrong), then the
retention job deletes it. Nothing reads a kept body again: ingest works from the parsed
events, so the stats lose nothing when the personal fields go. An erased person's events
are cut out of kept bodies altogether: even without address or text, our tags would still
say whose they were and what they did.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from providers.sendgrid.contract import SUBSCRIBER_ID_ARG, as_id
from providers.sendgrid.webhook import email_of, event_key

# Personal data in a raw event; dropped from a kept batch once processed.
PERSONAL_FIELDS = ("email", "ip", "useragent")
# Free text a provider writes about one mailbox (bounce replies quote names and addresses);
# an event of a forgotten person keeps none of it, in the events table or the kept body.
FREE_TEXT_FIELDS = ("reason", "response", "url")
ERASED = "[erased]"
# Below this, nesting in a kept body is far past anything SendGrid sends: erased whole.
SCRUB_DEPTH = 32


def without_personal_data(
    body: Any, *, forgotten: Collection[str] = (), erased: Collection[str] = ()
) -> Any:
    """Return a processed BODY without personal fields, nor any value quoting an address.

    A processed batch keeps no address, IP or user agent, and a value quoting the event's
    own address is erased, whatever its case: bounce replies often quote it. Events whose
    key is in FORGOTTEN (tied to nobody) also lose their free text (FREE_TEXT_FIELDS),
    which may name the person without the address. Events whose key is in ERASED (an
    erased person's) are left out altogether.
    """
    if not isinstance(body, list):
        return _scrub(body, [], 0, PERSONAL_FIELDS)
    return [
        _scrub_event(item, [], PERSONAL_FIELDS, forgotten)
        if isinstance(item, dict)
        else _scrub(item, [], 1, PERSONAL_FIELDS)
        for item in body
        if not (erased and isinstance(item, dict) and event_key(item) in erased)
    ]


def is_persons(event: Any, email: str | None, subscriber_id: int) -> bool:
    """Tell whether EVENT is about the person: their address, or our tag of their id."""
    if not isinstance(event, dict):
        return False
    own = email_of(event)
    if own is not None and email is not None and own == email.strip().lower():
        return True
    return as_id(event.get(SUBSCRIBER_ID_ARG)) == subscriber_id


def without_person(body: Any, email: str | None, subscriber_id: int) -> Any:
    """Return BODY without the person's events, and with EMAIL erased elsewhere (`forget`).

    Their events (is_persons) go whole. Other people's events stay as they are (a batch
    still waiting to be ingested needs them), but for values quoting EMAIL, whatever its case.
    """
    addresses = [email.strip().lower()] if email else []
    if not isinstance(body, list):
        return _scrub(body, addresses, 0, ())
    return [
        _scrub(item, addresses, 1, ())
        for item in body
        if not is_persons(item, email, subscriber_id)
    ]


def _scrub_event(
    event: dict[str, Any],
    addresses: list[str],
    dropped: tuple[str, ...],
    forgotten: Collection[str],
) -> dict[str, Any]:
    own = email_of(event)
    if forgotten and event_key(event) in forgotten:
        # An event tied to nobody: nothing about them stays.
        dropped = PERSONAL_FIELDS + FREE_TEXT_FIELDS
    # Once an event's address goes, so does any value quoting it.
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
