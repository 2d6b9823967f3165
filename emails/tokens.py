"""Signed per-subscriber tokens for links in mail: confirm, unsubscribe, open pixel, clicks."""

from __future__ import annotations

import base64
import hmac
import json
from functools import lru_cache
from typing import Any

from itsdangerous import (
    BadData,
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.signer import HMACAlgorithm

from config import get_settings
from store.clock import utcnow

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


class _ClockTimestampSigner(TimestampSigner):
    """Stamp and age tokens by store.clock, so tests can expire a confirm link by moving time."""

    def get_timestamp(self) -> int:
        """Return the injectable clock's current Unix time."""
        return int(utcnow().timestamp())


@lru_cache(maxsize=4)
def _timed_serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt, signer=_ClockTimestampSigner)


def _plain(salt: str) -> URLSafeSerializer:
    # One salt per purpose, so an open-pixel token can never be replayed as an unsubscribe.
    return _serializer(get_settings().secret_key, f"nurture.{salt}")


class _FastSigner:
    """Sign payloads exactly as `URLSafeSerializer.dumps` would, minus its per-call overhead.

    Mail rendering makes several tokens per email at 10,000+ emails/s, and itsdangerous
    re-derives the key and tries zlib on every call. The derived key and the HMAC state are
    kept here; the payload is never compressed, which `loads` accepts just the same.
    """

    def __init__(self, serializer: URLSafeSerializer) -> None:
        """Take the key, digest and separator from the serializer's own signer."""
        signer = serializer.make_signer()
        algorithm = signer.algorithm
        if not isinstance(algorithm, HMACAlgorithm):  # pragma: no cover - itsdangerous default
            raise TypeError("fast signing needs an HMAC signer")
        self._mac = hmac.new(signer.derive_key(), digestmod=algorithm.digest_method)
        self._sep = signer.sep.encode("ascii") if isinstance(signer.sep, str) else signer.sep

    def sign_json(self, payload_json: bytes) -> str:
        """Return the token for an already JSON-encoded payload."""
        payload = base64.urlsafe_b64encode(payload_json).rstrip(b"=")
        mac = self._mac.copy()
        mac.update(payload)
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
        return (payload + self._sep + signature).decode("ascii")


@lru_cache(maxsize=16)
def _fast(secret: str, salt: str) -> _FastSigner:
    return _FastSigner(_serializer(secret, f"nurture.{salt}"))


@lru_cache(maxsize=4096)
def _json_string(value: str) -> bytes:
    # Lesson link targets repeat for every recipient; encode each once.
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


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
        # itsdangerous hands back the still-encoded payload; decode it to the subscriber id.
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadData:
            payload = None
        raise TokenExpired(payload) from exc
    except BadSignature as exc:
        raise TokenError("bad confirm token") from exc
    return _as_id(value)


def make_unsubscribe_token(subscriber_id: int) -> str:
    """Sign an unsubscribe token; it never expires, as the law wants the link to keep working."""
    return _fast(get_settings().secret_key, "unsubscribe").sign_json(_id_json(subscriber_id))


def read_unsubscribe_token(token: str) -> int:
    """Return the subscriber id of an unsubscribe token."""
    return _as_id(_load("unsubscribe", token))


def make_open_token(delivery_id: int) -> str:
    """Sign an open-pixel token for one delivery."""
    return _fast(get_settings().secret_key, "open").sign_json(_id_json(delivery_id))


def read_open_token(token: str) -> int:
    """Return the delivery id of an open-pixel token."""
    return _as_id(_load("open", token))


def make_click_token(delivery_id: int, url: str) -> str:
    """Sign a tracked link: the redirect target lives inside the token, so no open redirect."""
    payload = b"[" + _id_json(delivery_id) + b"," + _json_string(url) + b"]"
    return _fast(get_settings().secret_key, "click").sign_json(payload)


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


def _id_json(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"an id must be an int, not {type(value).__name__}")
    return str(value).encode("ascii")


def _as_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TokenError("token carries no id")
    return value
