"""The rule for serving a public BASE_URL: no guessable key, short password or unsigned webhooks.

Settings validation (config.settings) checks each value on its own; this checks what they
mean together. Every entry point that serves or sends (the web app, Celery workers and beat,
`nurture web|worker|beat|run|send-test|dispatch`) calls check_safe_to_serve before it starts.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from config.settings import DEV_SECRET_KEY, PLACEHOLDER_SECRETS, ConfigError, Settings

# Words that mark a value as an example left in place, however long it is.
PLACEHOLDER_WORDS = ("changethis", "changeme", "replaceme")
# A public BASE_URL needs a key an attacker cannot guess, and an admin password worth the name.
MIN_SECRET_KEY_BYTES = 32
MIN_ADMIN_PASSWORD_CHARS = 12
KEYGEN_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def is_loopback_url(url: str) -> bool:
    """Tell whether URL's host is this machine only: localhost, 127.0.0.0/8 or ::1."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _weak_secret(value: str) -> str | None:
    """Return why VALUE cannot sign tokens for the open internet, or None when it can."""
    normalised = value.strip().lower()
    if value == DEV_SECRET_KEY:
        return "is the development default"
    compact = "".join(char for char in normalised if char.isalnum())
    if normalised in PLACEHOLDER_SECRETS or any(word in compact for word in PLACEHOLDER_WORDS):
        return "is a placeholder"
    if len(value.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        return f"is shorter than {MIN_SECRET_KEY_BYTES} bytes"
    return None


def startup_problems(settings: Settings) -> list[str]:
    """Return why SETTINGS must not serve a public BASE_URL, one "NURTURE_NAME: …" per problem.

    Anyone who knows the secret key can forge confirm, unsubscribe and click tokens, so a
    service reachable from outside this machine refuses a guessable key (or fallback key), a
    short admin password and unsigned webhooks. On a loopback BASE_URL everything is allowed:
    that is a developer's machine.
    """
    if is_loopback_url(settings.base_url):
        return []
    make = f"make one with: {KEYGEN_COMMAND}"
    problems = []
    why = _weak_secret(settings.secret_key)
    if why:
        problems.append(f"NURTURE_SECRET_KEY: {why}; {make}")
    weak_fallbacks = [
        reason for key in settings.secret_key_fallbacks if (reason := _weak_secret(key))
    ]
    if weak_fallbacks:
        problems.append(
            f"NURTURE_SECRET_KEY_FALLBACKS: an old key {weak_fallbacks[0]}, so tokens signed with "
            "it can be forged; remove it from the list"
        )
    if settings.admin_password and len(settings.admin_password) < MIN_ADMIN_PASSWORD_CHARS:
        problems.append(
            f"NURTURE_ADMIN_PASSWORD: is shorter than {MIN_ADMIN_PASSWORD_CHARS} characters; {make}"
        )
    if settings.webhook_insecure_dev:
        problems.append(
            "NURTURE_WEBHOOK_INSECURE_DEV: accepts unsigned events (development only); set it to "
            "false and put SendGrid's verification key in NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY"
        )
    return problems


def check_safe_to_serve(settings: Settings) -> None:
    """Raise ConfigError, as one line, when SETTINGS must not serve their BASE_URL.

    The web app, the Celery worker and beat, and the CLI commands that send mail call this
    before they start; see startup_problems for the rule.
    """
    problems = startup_problems(settings)
    if problems:
        raise ConfigError(
            "; ".join(problems) + f" (refused because NURTURE_BASE_URL {settings.base_url} "
            "is not a loopback address)"
        )
