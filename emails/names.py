"""Clean what subscribers type (first names, addresses) before it goes into a header or greeting."""

from __future__ import annotations

import re

FIRST_NAME_MAX = 50

# Control, format and separator characters that could break a header or reorder text
# (bidi overrides), plus lone surrogates that cannot be encoded.
_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def clean_line(value: str, limit: int | None = None) -> str:
    """Drop control characters, collapse whitespace, and cut to LIMIT characters."""
    if limit is not None:
        # Cut before cleaning, so a 10 KB "name" costs no more than a short one.
        value = value[: limit * 8]
    value = " ".join(_UNSAFE_CHARS.sub(" ", value).split())
    if limit is not None and len(value) > limit:
        value = value[:limit].rstrip()
    return value


def clean_first_name(first_name: str | None) -> str:
    """Return a first name safe for greetings and headers, or "" when none is usable."""
    if not first_name:
        return ""
    return clean_line(first_name, FIRST_NAME_MAX)


def greeting_for(first_name: str) -> str:
    """Return the Dutch greeting line, with a graceful fallback when there is no name."""
    return f"Hallo {first_name}," if first_name else "Hallo,"


def checked_address(email: str) -> str:
    address = email.strip()
    if not address or _UNSAFE_CHARS.search(address) or " " in address:
        raise ValueError(f"not a usable email address: {email!r}")
    return address
