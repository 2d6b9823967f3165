"""Key rotation: NURTURE_SECRET_KEY_FALLBACKS still verifies old tokens, new ones use the new key.

The finding: the only way to retire a leaked or weak secret was to change it, which broke the
unsubscribe link in every email already sent (the law wants those links to keep working).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from tracking_support import make_subscriber

from config import Settings
from emails.render import Recipient
from emails.tokens import TokenError, TokenExpired, Tokens
from runtime import Runtime
from store.clock import FrozenClock, system_clock
from store.models import Subscriber, SubscriberStatus

OLD = "last-years-secret-key-retired-in-2026-x"
MIDDLE = "the-secret-key-before-the-current-one-y"
NEW = "this-years-secret-key-for-new-tokens-zz"
STRANGER = "a-key-that-was-never-ours-at-all-ever-q"
TARGET = "https://umoya.example/afspraak"


def test_tokens_signed_with_a_fallback_key_still_verify() -> None:
    old = Tokens(OLD, system_clock)
    rotated = Tokens([NEW, MIDDLE, OLD], system_clock)
    for signed_with in (old, Tokens(MIDDLE, system_clock)):
        assert rotated.read_unsubscribe(signed_with.make_unsubscribe(42)) == 42
        assert rotated.read_preferences(signed_with.make_preferences(42)) == 42
        assert rotated.read_open(signed_with.make_open(7)) == 7
        assert rotated.read_click(signed_with.make_click(7, TARGET)) == (7, TARGET)
        assert rotated.read_confirm(signed_with.make_confirm(42)) == 42


def test_new_tokens_are_signed_with_the_current_key_only() -> None:
    rotated = Tokens([NEW, OLD], system_clock)
    current, old = Tokens(NEW, system_clock), Tokens(OLD, system_clock)
    assert rotated.make_unsubscribe(42) == current.make_unsubscribe(42)
    assert rotated.make_open(7) == URLSafeSerializer(NEW, salt="nurture.open").dumps(7)
    assert rotated.make_click(7, TARGET) == current.make_click(7, TARGET)
    assert current.read_confirm(rotated.make_confirm(42)) == 42
    # So once the old key is dropped from the list, nothing new depends on it...
    for make, read in (
        (lambda: rotated.make_unsubscribe(42), old.read_unsubscribe),
        (lambda: rotated.make_preferences(42), old.read_preferences),
        (lambda: rotated.make_open(7), old.read_open),
        (lambda: rotated.make_click(7, TARGET), old.read_click),
        (lambda: rotated.make_confirm(42), old.read_confirm),
    ):
        with pytest.raises(TokenError):
            read(make())


def test_a_key_not_in_the_list_is_refused() -> None:
    rotated = Tokens([NEW, OLD], system_clock)
    stranger = Tokens(STRANGER, system_clock)
    with pytest.raises(TokenError):
        rotated.read_unsubscribe(stranger.make_unsubscribe(42))
    with pytest.raises(TokenError):
        rotated.read_open(stranger.make_open(7))
    with pytest.raises(TokenError):
        rotated.read_click(stranger.make_click(7, "https://evil.example/claim"))
    with pytest.raises(TokenError):
        rotated.read_confirm(stranger.make_confirm(42))
    # ...and a retired key (dropped from the list) is a stranger too.
    with pytest.raises(TokenError):
        Tokens([NEW], system_clock).read_unsubscribe(Tokens(OLD, system_clock).make_unsubscribe(1))


def test_a_confirm_link_sent_before_the_rotation_still_expires() -> None:
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    token = Tokens(OLD, clock).make_confirm(42)
    rotated = Tokens([NEW, OLD], clock)
    clock.advance(days=6)
    assert rotated.read_confirm(token) == 42
    clock.advance(days=2)
    with pytest.raises(TokenExpired) as expired:
        rotated.read_confirm(token)
    assert expired.value.payload == 42


def _unsubscribe_path(runtime: Runtime, subscriber_id: int, email: str) -> str:
    """Render lesson 1 for the subscriber and return its List-Unsubscribe path."""
    course = runtime.courses.get()
    message = runtime.renderer.lesson(course, 1, Recipient(subscriber_id, email, "Anna"))
    found = re.search(r"<https?://[^/>]+(/unsubscribe/[^>]+)>", message.headers["List-Unsubscribe"])
    assert found, message.headers
    return found.group(1)


def _status(runtime: Runtime, subscriber_id: int) -> str:
    with runtime.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber.status


def test_unsubscribe_link_from_last_year_works_after_a_rotation(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> None:
    from web import create_app

    last_year = make_runtime(configure(secret_key=OLD))
    anna = make_subscriber(last_year, "anna@example.com")
    bob = make_subscriber(last_year, "bob@example.com")
    annas_link = _unsubscribe_path(last_year, anna.subscriber_id, "anna@example.com")
    bobs_link = _unsubscribe_path(last_year, bob.subscriber_id, "bob@example.com")

    # Rotated without keeping the old key: last year's links are dead (what rotation did).
    dropped = make_runtime(configure(secret_key=NEW, secret_key_fallbacks="[]"))
    response = create_app(runtime=dropped).test_client().post(bobs_link)
    assert response.status_code == 400
    assert _status(dropped, bob.subscriber_id) == SubscriberStatus.CONFIRMED

    # Rotated the right way: the old key stays as a fallback and the link still unsubscribes.
    rotated = make_runtime(configure(secret_key=NEW, secret_key_fallbacks=json.dumps([OLD])))
    client: Any = create_app(runtime=rotated).test_client()
    response = client.post(annas_link)
    assert response.status_code == 200
    assert "Je bent afgemeld" in response.get_data(as_text=True)
    assert _status(rotated, anna.subscriber_id) == SubscriberStatus.UNSUBSCRIBED

    # This year's mail carries links signed with the new key.
    new_link = _unsubscribe_path(rotated, bob.subscriber_id, "bob@example.com")
    token = new_link.rsplit("/", 1)[1]
    assert Tokens(NEW, system_clock).read_unsubscribe(token) == bob.subscriber_id
    with pytest.raises(TokenError):
        Tokens(OLD, system_clock).read_unsubscribe(token)

    # A link signed with a key that is not in the list changes nothing.
    forged = Tokens(STRANGER, system_clock).make_unsubscribe(bob.subscriber_id)
    response = client.post(f"/unsubscribe/{forged}")
    assert response.status_code == 400
    assert "Deze afmeldlink werkt niet" in response.get_data(as_text=True)
    assert _status(rotated, bob.subscriber_id) == SubscriberStatus.CONFIRMED
