"""Signed mail links: confirm, unsubscribe, preferences, pixel, clicks, ratings, bookings.

One Tokens object per runtime holds the derived keys; it signs with the current secret key
and the injectable clock (a confirm link expires by the clock, so tests expire it by moving
time). It verifies with the current key and then every fallback key, so links in mail sent
before a key rotation keep working.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Sequence
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

from store.clock import Clock

CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600
# The one key of a confirm token's payload: the confirmation delivery's id.
CONFIRM_KEY = "c"
# Row ids are 64-bit signed integers; a signed larger number names no row.
MAX_ID = 2**63 - 1


class TokenError(Exception):
    """A token is forged, altered or of the wrong kind."""


class TokenExpired(TokenError):
    """A token was genuine but is too old; `payload` still says whose it was."""

    def __init__(self, payload: Any) -> None:
        """Keep the expired token's payload, so a page can offer a new link."""
        super().__init__("token expired")
        self.payload = payload


class _FastSigner:
    """Sign payloads exactly as `URLSafeSerializer.dumps` would, minus its per-call overhead.

    Mail rendering makes several tokens per email at 10,000+ emails/s, and itsdangerous
    re-derives the key and tries zlib on every call. The derived key and the HMAC state are
    kept here; the payload is never compressed, which `loads` accepts just the same.
    """

    def __init__(self, serializer: URLSafeSerializer) -> None:
        """Take the signing key, digest and separator from the serializer's own signer."""
        # derive_key() derives the serializer's signing key (its newest); old keys only verify.
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


@lru_cache(maxsize=4096)
def _json_string(value: str) -> bytes:
    # A pure memo, not a registry: lesson link targets repeat for every recipient.
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class Tokens:
    """Make and read the signed tokens of one installation."""

    # One salt per purpose, so an open-pixel token can never be replayed as an unsubscribe.
    PURPOSES = ("unsubscribe", "preferences", "open", "click", "rating", "conversion")

    def __init__(self, secret_keys: str | Sequence[str], clock: Clock) -> None:
        """Derive the signers for SECRET_KEYS; CLOCK stamps and ages confirm links.

        SECRET_KEYS is the current key, or the current key followed by old ones (newest
        first, as Settings.secret_keys gives them): new tokens are signed with the first,
        and a token signed with any of them verifies.
        """
        keys = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys)
        if not keys:
            raise ValueError("tokens need at least one secret key")
        # itsdangerous signs with the LAST key of its list and tries them newest (last) first.
        oldest_first = keys[::-1]
        self._plain = {
            purpose: URLSafeSerializer(oldest_first, salt=f"nurture.{purpose}")
            for purpose in self.PURPOSES
        }
        self._fast = {purpose: _FastSigner(s) for purpose, s in self._plain.items()}

        class _ClockTimestampSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        self._confirm = URLSafeTimedSerializer(
            oldest_first, salt="nurture.confirm", signer=_ClockTimestampSigner
        )

    def _load(self, purpose: str, token: str) -> Any:
        try:
            return self._plain[purpose].loads(token)
        except BadSignature as exc:
            raise TokenError(f"bad {purpose} token") from exc

    def make_confirm(self, confirmation_id: int) -> str:
        """Sign a double opt-in token for one confirmation email; it expires after 7 days.

        The payload names the confirmation delivery, not the subscriber: a link is bound to
        the email it came in, so once a newer confirmation goes out the older links stop.
        """
        return str(self._confirm.dumps({CONFIRM_KEY: _checked_id(confirmation_id)}))

    def read_confirm(self, token: str, max_age: int = CONFIRM_MAX_AGE_SECONDS) -> int:
        """Return the confirmation delivery id, or raise TokenExpired / TokenError.

        A link from before confirm links named their email (its payload a bare subscriber
        id) is treated as expired: its page offers a new link.
        """
        try:
            value = self._confirm.loads(token, max_age=max_age)
        except SignatureExpired as exc:
            # itsdangerous hands back the still-encoded payload; decode it to the delivery id.
            try:
                payload = (
                    self._confirm.load_payload(exc.payload) if exc.payload is not None else None
                )
                expired_id = _confirm_id(payload)
            except (BadData, TokenError):
                expired_id = None
            raise TokenExpired(expired_id) from exc
        except BadSignature as exc:
            raise TokenError("bad confirm token") from exc
        if isinstance(value, int) and not isinstance(value, bool):
            raise TokenExpired(None)
        return _confirm_id(value)

    def make_unsubscribe(self, subscriber_id: int, course_slug: str | None = None) -> str:
        """Sign an unsubscribe token; it never expires: the law wants the link to keep working.

        With COURSE_SLUG (a lesson's or confirmation's course) the link stops that course;
        without it, all mail, as every link did before there were several courses.
        """
        return self._sign_for_course("unsubscribe", subscriber_id, course_slug)

    def read_unsubscribe(self, token: str) -> int:
        """Return the subscriber id of an unsubscribe token."""
        return self.read_unsubscribe_course(token)[0]

    def read_unsubscribe_course(self, token: str) -> tuple[int, str | None]:
        """Return (subscriber id, course slug or None for all mail) of an unsubscribe token."""
        return self._read_for_course("unsubscribe", token)

    def make_preferences(self, subscriber_id: int, course_slug: str | None = None) -> str:
        """Sign a preferences-page token; like the unsubscribe link it never expires.

        With COURSE_SLUG (a lesson's course) the page is about that course; without it, about
        the reader's newest enrollment, as every link was before there were several courses.
        """
        return self._sign_for_course("preferences", subscriber_id, course_slug)

    def read_preferences(self, token: str) -> int:
        """Return the subscriber id of a preferences-page token."""
        return self.read_preferences_course(token)[0]

    def read_preferences_course(self, token: str) -> tuple[int, str | None]:
        """Return (subscriber id, course slug or None) of a preferences-page token."""
        return self._read_for_course("preferences", token)

    def _sign_for_course(self, purpose: str, subscriber_id: int, course_slug: str | None) -> str:
        """Sign SUBSCRIBER_ID alone (the old form), or [SUBSCRIBER_ID, COURSE_SLUG]."""
        if course_slug is None:
            return self._fast[purpose].sign_json(_id_json(subscriber_id))
        payload = b"[" + _id_json(subscriber_id) + b"," + _json_string(course_slug) + b"]"
        return self._fast[purpose].sign_json(payload)

    def _read_for_course(self, purpose: str, token: str) -> tuple[int, str | None]:
        value = self._load(purpose, token)
        if isinstance(value, list):
            if len(value) != 2 or not isinstance(value[1], str) or not value[1]:
                raise TokenError(f"bad {purpose} token")
            return _as_id(value[0]), value[1]
        return _as_id(value), None

    def make_open(self, delivery_id: int) -> str:
        """Sign an open-pixel token for one delivery."""
        return self._fast["open"].sign_json(_id_json(delivery_id))

    def read_open(self, token: str) -> int:
        """Return the delivery id of an open-pixel token."""
        return _as_id(self._load("open", token))

    def make_rating(self, delivery_id: int) -> str:
        """Sign a lesson-rating token for one delivery; it never expires (old mail stays usable)."""
        return self._fast["rating"].sign_json(_id_json(delivery_id))

    def read_rating(self, token: str) -> int:
        """Return the delivery id of a lesson-rating token."""
        return _as_id(self._load("rating", token))

    def make_conversion(self, delivery_id: int) -> str:
        """Sign the booking reference the call to action carries to the booking page."""
        return self._fast["conversion"].sign_json(_id_json(delivery_id))

    def read_conversion(self, token: str) -> int:
        """Return the delivery id of a booking reference."""
        return _as_id(self._load("conversion", token))

    def make_click(self, delivery_id: int, url: str, *, cta: bool = False) -> str:
        """Sign a tracked link: the redirect target lives inside the token, so no open redirect.

        CTA marks the call to action: its redirect adds the booking reference (web.tracking).
        """
        payload = b"[" + _id_json(delivery_id) + b"," + _json_string(url)
        return self._fast["click"].sign_json(payload + (b",1]" if cta else b"]"))

    def read_click(self, token: str) -> tuple[int, str]:
        """Return (delivery id, target URL) of a tracked-link token."""
        delivery_id, url, _cta = self.read_click_target(token)
        return delivery_id, url

    def read_click_target(self, token: str) -> tuple[int, str, bool]:
        """Return (delivery id, target URL, whether it is the call to action) of a link token."""
        value = self._load("click", token)
        if (
            not isinstance(value, list)
            or len(value) not in (2, 3)
            or not isinstance(value[1], str)
            or not value[1].startswith(("https://", "http://"))
            or (len(value) == 3 and value[2] != 1)
        ):
            raise TokenError("bad click token")
        return _as_id(value[0]), value[1], len(value) == 3


def _id_json(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"an id must be an int, not {type(value).__name__}")
    return str(value).encode("ascii")


def _checked_id(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise TypeError(f"not a row id: {value!r}")
    return value


def _confirm_id(payload: Any) -> int:
    if not isinstance(payload, dict) or set(payload) != {CONFIRM_KEY}:
        raise TokenError("bad confirm token")
    return _as_id(payload[CONFIRM_KEY])


def _as_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise TokenError("token carries no id")
    return value
