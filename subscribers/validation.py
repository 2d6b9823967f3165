"""Check a signup submission and turn it into clean values, with Dutch messages per field."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email

NAME_MAX_CHARS = 100  # the subscribers.first_name column
SCAN_FACTOR = 8  # how much raw input per kept character we look at (room for stripped junk)
EMAIL_MAX_CHARS = 254  # RFC 5321's path limit; email-validator enforces it too
HONEYPOT_FIELD = "website"
TIMEZONE_FIELD = "timezone"  # filled by the browser (web/static/timezone.js); never shown
ZONE_MAX_CHARS = 64  # the subscribers.timezone column
# What a checkbox or a JSON client may send for "yes".
CONSENT_YES = frozenset({"on", "true", "1", "yes", "ja", "y"})
# Control characters, surrogates (unencodable) and unassigned code points never enter a row.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})
# Bidi overrides and isolates can make a name display as something else.
DROPPED_FORMAT_CHARS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))

MESSAGES = {
    "email_missing": "Vul je e-mailadres in.",
    "email_invalid": "Dit e-mailadres klopt niet. Controleer het en probeer het opnieuw.",
    "email_not_text": "Het e-mailadres moet tekst zijn.",
    "email_too_long": "Dit e-mailadres is te lang.",
    "name_not_text": "De voornaam moet tekst zijn.",
    "consent_missing": "Vink het vakje aan om de cursus te ontvangen.",
}


@dataclass(frozen=True)
class Signup:
    """A valid submission: a normalised address, a clean first name (or None)."""

    email: str
    first_name: str | None
    timezone: str | None = None  # an IANA zone name from the browser, when it gave a valid one


@dataclass
class SignupCheck:
    """The outcome of checking a submission: either a Signup or messages per field."""

    signup: Signup | None = None
    errors: dict[str, str] = field(default_factory=dict)
    honeypot: bool = False
    # The raw values, trimmed and made safe to echo back into the form after an error.
    echo: dict[str, str] = field(default_factory=dict)


def clean_name(value: str, limit: int = NAME_MAX_CHARS) -> str | None:
    """Drop control/format tricks, collapse whitespace, cap the length; None when empty."""
    # Only the start can survive the cap; a 100 KB "name" costs no more than a short one.
    kept = "".join(
        char
        for char in value[: limit * SCAN_FACTOR]
        if unicodedata.category(char) not in DROPPED_CATEGORIES and char not in DROPPED_FORMAT_CHARS
    )
    collapsed = " ".join(kept.split())[:limit].strip()
    return collapsed or None


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """Return the IANA time zone names this system knows (a pure memo of the tz database)."""
    return frozenset(available_timezones())


def clean_timezone(value: Any) -> str | None:
    """Return VALUE when it names an IANA time zone, else None (the course's zone applies).

    Only names from the database count: ZoneInfo() would also open odd keys and files.
    """
    if not isinstance(value, str) or not value or len(value) > ZONE_MAX_CHARS:
        return None
    zone = value.strip()
    return zone if zone in iana_zones() else None


def normalise_email(value: str, *, check_deliverability: bool = False) -> str:
    """Return the address in the one form we store, or raise EmailNotValidError."""
    result = validate_email(
        value,
        check_deliverability=check_deliverability,
        # SendGrid and many mailboxes don't take non-ASCII local parts; say so up front.
        allow_smtputf8=False,
    )
    # Mailbox names are case-insensitive in practice; one spelling keeps one row per person.
    address = result.ascii_email or result.normalized  # ascii_email is set: no SMTPUTF8
    return address.lower()


def _is_yes(value: Any) -> bool:
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in CONSENT_YES


def _echo(value: Any, limit: int) -> str:
    """Return a safe, short copy of a raw value to show again in the form."""
    if not isinstance(value, str):
        return ""
    return clean_name(value, limit) or ""


def check_signup(data: Mapping[str, Any], *, check_deliverability: bool = False) -> SignupCheck:
    """Check a submission (form or JSON fields) and return a SignupCheck."""
    check = SignupCheck(
        echo={"email": _echo(data.get("email"), 320), "name": _echo(data.get("name"), 100)}
    )
    honeypot = data.get(HONEYPOT_FIELD)
    if honeypot is not None and (not isinstance(honeypot, str) or honeypot.strip()):
        check.honeypot = True

    email = _check_email(data.get("email"), check, check_deliverability)
    name = _check_name(data.get("name"), check)
    if not _is_yes(data.get("consent")):
        check.errors["consent"] = MESSAGES["consent_missing"]
    if not check.errors and email is not None:
        # A zone that is missing or unknown is no error: the visitor never saw the field.
        zone = clean_timezone(data.get(TIMEZONE_FIELD))
        check.signup = Signup(email=email, first_name=name, timezone=zone)
    return check


def _check_email(raw: Any, check: SignupCheck, check_deliverability: bool) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        check.errors["email"] = MESSAGES["email_missing"]
        return None
    if not isinstance(raw, str):
        check.errors["email"] = MESSAGES["email_not_text"]
        return None
    address = raw.strip()
    if len(address) > EMAIL_MAX_CHARS:
        check.errors["email"] = MESSAGES["email_too_long"]
        return None
    try:
        return normalise_email(address, check_deliverability=check_deliverability)
    except EmailNotValidError:
        check.errors["email"] = MESSAGES["email_invalid"]
        return None


def _check_name(raw: Any, check: SignupCheck) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        check.errors["name"] = MESSAGES["name_not_text"]
        return None
    return clean_name(raw)
