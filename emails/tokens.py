"""Signed per-subscriber tokens for links in mail: confirm, unsubscribe, open pixel, clicks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from config import get_settings

CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600


class TokenError(Exception):
    """A token is forged, altered or of the wrong kind."""


class TokenExpired(TokenError):
    """A token was genuine but is too old; `payload` still says whose it was."""

    def __init__(self, payload: Any) -> None:
        """Keep the expired token's payload, so a page can offer a new link."""
        super().__init__("token expired")
        self.payload = payload


@lru_cache(maxsize=16)
def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt)


@lru_cache(maxsize=4)
def _timed_serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def _plain(salt: str) -> URLSafeSerializer:
    # One salt per purpose, so an open-pixel token can never be replayed as an unsubscribe.
    return _serializer(get_settings().secret_key, f"nurture.{salt}")


def _load(salt: str, token: str) -> Any:
    try:
        return _plain(salt).loads(token)
    except BadSignature as exc:
        raise TokenError(f"bad {salt} token") from exc


def make_confirm_token(subscriber_id: int) -> str:
    """Sign a double opt-in token for SUBSCRIBER_ID; it expires after 7 days."""
    return str(_timed_serializer(get_settings().secret_key, "nurture.confirm").dumps(subscriber_id))


def read_confirm_token(token: str, max_age: int = CONFIRM_MAX_AGE_SECONDS) -> int:
    """Return the subscriber id, or raise TokenExpired / TokenError."""
    serializer = _timed_serializer(get_settings().secret_key, "nurture.confirm")
    try:
        value = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired(exc.payload) from exc
    except BadSignature as exc:
        raise TokenError("bad confirm token") from exc
    return _as_id(value)


def make_unsubscribe_token(subscriber_id: int) -> str:
    """Sign an unsubscribe token; it never expires, as the law wants the link to keep working."""
    return str(_plain("unsubscribe").dumps(subscriber_id))


def read_unsubscribe_token(token: str) -> int:
    """Return the subscriber id of an unsubscribe token."""
    return _as_id(_load("unsubscribe", token))


def make_open_token(delivery_id: int) -> str:
    """Sign an open-pixel token for one delivery."""
    return str(_plain("open").dumps(delivery_id))


def read_open_token(token: str) -> int:
    """Return the delivery id of an open-pixel token."""
    return _as_id(_load("open", token))


def make_click_token(delivery_id: int, url: str) -> str:
    """Sign a tracked link: the redirect target lives inside the token, so no open redirect."""
    return str(_plain("click").dumps([delivery_id, url]))


def read_click_token(token: str) -> tuple[int, str]:
    """Return (delivery id, target URL) of a tracked-link token."""
    value = _load("click", token)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[1], str)
        or not value[1].startswith(("https://", "http://"))
    ):
        raise TokenError("bad click token")
    return _as_id(value[0]), value[1]


def _as_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TokenError("token carries no id")
    return value
