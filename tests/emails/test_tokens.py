"""Signed link tokens: round trips, tampering, forgery, cross-purpose replay, expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from emails_support import mail_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from emails.tokens import (
    TokenError,
    TokenExpired,
    make_click_token,
    make_confirm_token,
    make_open_token,
    make_unsubscribe_token,
    read_click_token,
    read_confirm_token,
    read_open_token,
    read_unsubscribe_token,
)
from store.clock import FrozenClock, set_clock

pytestmark = pytest.mark.usefixtures("mail_env")
_ = mail_env  # the fixture, imported so pytest finds it here
SECRET = "test-secret-key-not-for-production"


ids = st.integers(min_value=1, max_value=2**53)
urls = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    st.text(max_size=80),
)
fast_settings = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fast_settings
@given(subscriber_id=ids, delivery_id=ids, url=urls)
def test_round_trips(subscriber_id: int, delivery_id: int, url: str) -> None:
    assert read_unsubscribe_token(make_unsubscribe_token(subscriber_id)) == subscriber_id
    assert read_open_token(make_open_token(delivery_id)) == delivery_id
    assert read_click_token(make_click_token(delivery_id, url)) == (delivery_id, url)
    assert read_confirm_token(make_confirm_token(subscriber_id)) == subscriber_id


@fast_settings
@given(delivery_id=ids, url=urls)
def test_fast_tokens_are_what_itsdangerous_makes_or_reads(delivery_id: int, url: str) -> None:
    reference = URLSafeSerializer(SECRET, salt="nurture.open")
    assert make_open_token(delivery_id) == reference.dumps(delivery_id)
    clicks = URLSafeSerializer(SECRET, salt="nurture.click")
    assert clicks.loads(make_click_token(delivery_id, url)) == [delivery_id, url]
    # Tokens itsdangerous made (possibly zlib-compressed) still read back.
    assert read_click_token(clicks.dumps([delivery_id, url])) == (delivery_id, url)


def _flip(token: str, index: int) -> str:
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize("where", [0, 3, -1, -5])
def test_tampered_tokens_are_rejected(where: int) -> None:
    for make, read in (
        (lambda: make_unsubscribe_token(42), read_unsubscribe_token),
        (lambda: make_open_token(42), read_open_token),
        (lambda: make_click_token(42, "https://umoya.example/afspraak"), read_click_token),
    ):
        token = make()
        with pytest.raises(TokenError):
            read(_flip(token, where))


def test_tokens_cannot_be_replayed_for_another_purpose() -> None:
    with pytest.raises(TokenError):
        read_unsubscribe_token(make_open_token(42))
    with pytest.raises(TokenError):
        read_open_token(make_unsubscribe_token(42))
    with pytest.raises(TokenError):
        read_click_token(make_open_token(42))


def test_forged_with_another_secret_is_rejected() -> None:
    forged = URLSafeSerializer("someone-elses-secret", salt="nurture.unsubscribe").dumps(42)
    with pytest.raises(TokenError):
        read_unsubscribe_token(forged)
    forged_click = URLSafeSerializer("x", salt="nurture.click").dumps([1, "https://evil.example"])
    with pytest.raises(TokenError):
        read_click_token(forged_click)


def test_click_tokens_only_carry_web_links() -> None:
    signed = URLSafeSerializer(SECRET, salt="nurture.click")
    for payload in (
        [1, "javascript:alert(1)"],
        [1, "//evil.example"],
        [0, "https://a.example"],
        [True, "https://a.example"],
        {"a": 1},
        [1],
    ):
        with pytest.raises(TokenError):
            read_click_token(signed.dumps(payload))
    with pytest.raises(TypeError):
        make_open_token("1")  # type: ignore[arg-type]


def test_confirm_tokens_expire_after_seven_days_but_say_whose_they_were() -> None:
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    set_clock(clock)
    try:
        token = make_confirm_token(42)
        clock.advance(days=6, hours=23)
        assert read_confirm_token(token) == 42
        clock.advance(hours=2)
        with pytest.raises(TokenExpired) as caught:
            read_confirm_token(token)
        assert caught.value.payload == 42
    finally:
        set_clock(None)


def test_garbage_is_rejected() -> None:
    for token in ("", ".", "abc", "a.b.c", "MQ", "x" * 500):
        with pytest.raises(TokenError):
            read_unsubscribe_token(token)
