"""Which websites may post the signup form: our own origin, plus the NURTURE_CORS_ORIGINS list."""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlsplit

from config import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
PREFLIGHT_MAX_AGE_SECONDS = 600


class OriginCheck(Enum):
    """The verdict on a request's Origin header."""

    SAME = "same"  # no Origin header, or our own BASE_URL's origin
    CROSS_ALLOWED = "cross-allowed"  # on the allow-list: answer with CORS headers
    REFUSED = "refused"  # another site, or `null`: 403


def normalise_origin(value: str) -> str | None:
    """Return scheme://host[:port] in lower case without a default port; None if not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Return the normalised allow-list (entries that are not origins are ignored)."""
    found = (normalise_origin(entry) for entry in settings.cors_origins)
    return frozenset(origin for origin in found if origin)


def check_origin(origin: str | None, settings: Settings) -> OriginCheck:
    """Judge ORIGIN (the request's Origin header, None when absent)."""
    if origin is None:
        return OriginCheck.SAME
    normalised = normalise_origin(origin)
    if normalised is None:
        return OriginCheck.REFUSED
    if normalised == normalise_origin(settings.base_url):
        return OriginCheck.SAME
    if normalised in allowed_origins(settings):
        return OriginCheck.CROSS_ALLOWED
    return OriginCheck.REFUSED


def cors_headers(origin: str) -> dict[str, str]:
    """Return the CORS headers for a response to an allowed cross-origin request."""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str) -> dict[str, str]:
    """Return the headers that answer an allowed CORS preflight for POST /subscribe."""
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
