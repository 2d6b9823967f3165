"""Signed link tokens: round trips, tampering, forgery, cross-purpose replay, expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous.encoding import base64_encode

from emails.tokens import MAX_ID, TokenError, TokenExpired, Tokens
from store.clock import FrozenClock, system_clock

SECRET = "test-secret-key-not-for-production"
tokens = Tokens(SECRET, system_clock)


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
    assert tokens.read_unsubscribe(tokens.make_unsubscribe(subscriber_id)) == subscriber_id
    assert tokens.read_open(tokens.make_open(delivery_id)) == delivery_id
    assert tokens.read_click(tokens.make_click(delivery_id, url)) == (delivery_id, url)
    assert tokens.read_confirm(tokens.make_confirm(subscriber_id)) == subscriber_id


@fast_settings
@given(delivery_id=ids, url=urls)
def test_fast_tokens_are_what_itsdangerous_makes_or_reads(delivery_id: int, url: str) -> None:
    reference = URLSafeSerializer(SECRET, salt="nurture.open")
    # Byte for byte what itsdangerous signs, minus the zlib it tries first (it keeps that for
    # payloads it shrinks, such as 24999999999999), which `loads` does not need.
    uncompressed = base64_encode(str(delivery_id).encode())
    assert tokens.make_open(delivery_id) == reference.make_signer().sign(uncompressed).decode()
    assert reference.loads(tokens.make_open(delivery_id)) == delivery_id
    clicks = URLSafeSerializer(SECRET, salt="nurture.click")
    assert clicks.loads(tokens.make_click(delivery_id, url)) == [delivery_id, url]
    # Tokens itsdangerous made (possibly zlib-compressed) still read back.
    assert tokens.read_click(clicks.dumps([delivery_id, url])) == (delivery_id, url)


def _flip(token: str, index: int) -> str:
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize("where", [0, 3, -1, -5])
def test_tampered_tokens_are_rejected(where: int) -> None:
    for make, read in (
        (lambda: tokens.make_unsubscribe(42), tokens.read_unsubscribe),
        (lambda: tokens.make_open(42), tokens.read_open),
        (lambda: tokens.make_click(42, "https://umoya.example/afspraak"), tokens.read_click),
    ):
        token = make()
        with pytest.raises(TokenError):
            read(_flip(token, where))


def test_tokens_cannot_be_replayed_for_another_purpose() -> None:
    with pytest.raises(TokenError):
        tokens.read_unsubscribe(tokens.make_open(42))
    with pytest.raises(TokenError):
        tokens.read_open(tokens.make_unsubscribe(42))
    with pytest.raises(TokenError):
        tokens.read_click(tokens.make_open(42))


def test_forged_with_another_secret_is_rejected() -> None:
    forged = URLSafeSerializer("someone-elses-secret", salt="nurture.unsubscribe").dumps(42)
    with pytest.raises(TokenError):
        tokens.read_unsubscribe(forged)
    forged_click = URLSafeSerializer("x", salt="nurture.click").dumps([1, "https://evil.example"])
    with pytest.raises(TokenError):
        tokens.read_click(forged_click)


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
            tokens.read_click(signed.dumps(payload))
    with pytest.raises(TypeError):
        tokens.make_open("1")  # type: ignore[arg-type]


def test_confirm_tokens_expire_after_seven_days_but_say_whose_they_were() -> None:
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    timed = Tokens(SECRET, clock)
    token = timed.make_confirm(42)
    clock.advance(days=6, hours=23)
    assert timed.read_confirm(token) == 42
    clock.advance(hours=2)
    with pytest.raises(TokenExpired) as caught:
        timed.read_confirm(token)
    assert caught.value.payload == 42


def test_garbage_is_rejected() -> None:
    for token in ("", ".", "abc", "a.b.c", "MQ", "x" * 500):
        with pytest.raises(TokenError):
            tokens.read_unsubscribe(token)


def test_ids_outside_the_row_range_are_rejected() -> None:
    signed = URLSafeSerializer(SECRET, salt="nurture.unsubscribe")
    assert tokens.read_unsubscribe(signed.dumps(MAX_ID)) == MAX_ID
    for value in (0, -1, MAX_ID + 1):
        with pytest.raises(TokenError):
            tokens.read_unsubscribe(signed.dumps(value))


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_an_unsubscribe_or_preferences_token_names_its_course_and_an_older_one_none(
    purpose: str,
) -> None:
    make, read = getattr(tokens, f"make_{purpose}"), getattr(tokens, f"read_{purpose}")
    read_course = getattr(tokens, f"read_{purpose}_course")
    signed = URLSafeSerializer(SECRET, salt=f"nurture.{purpose}")
    course_token = make(7, "hardlopen")
    assert read_course(course_token) == (7, "hardlopen")
    assert read(course_token) == 7
    # Exactly as URLSafeSerializer signs it, so every key rotation rule still applies.
    assert signed.loads(course_token) == [7, "hardlopen"]
    # A link from before links named their course: all mail, or the newest course.
    assert read_course(make(7)) == (7, None) and make(7) == signed.dumps(7)
    for payload in ([7], [7, ""], [7, 3], [7, "a", "b"], ["7", "a"], [0, "a"]):
        with pytest.raises(TokenError):
            read_course(signed.dumps(payload))
    other = "preferences" if purpose == "unsubscribe" else "unsubscribe"
    with pytest.raises(TokenError):  # one purpose per token, with a course as without
        getattr(tokens, f"read_{other}_course")(course_token)
