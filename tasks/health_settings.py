"""The settings checks: secrets, BASE_URL, admin password, webhook key and sender address.

Pure: they read only the settings. The secrets are judged by config.startup's rule, as if
BASE_URL were public, so a developer learns what would refuse to start before it does.
"""

from __future__ import annotations

from config.settings import Settings
from config.startup import is_loopback_url, startup_problems
from course.placeholders import EXAMPLE_DOMAIN
from providers.sendgrid.webhook import WebhookVerifier
from store.clock import system_clock
from tasks.health import Check

KEYGEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# Judged as if public: what a loopback BASE_URL allows now stops the service once it is not.
PUBLIC_PROBE_URL = "https://nurture.invalid"


def settings_checks(settings: Settings) -> list[Check]:
    """Check secrets, BASE_URL, the admin password, the webhook key and the sender."""
    checks = []
    public = not is_loopback_url(settings.base_url)
    probe = settings if public else settings.model_copy(update={"base_url": PUBLIC_PROBE_URL})
    problems = startup_problems(probe)
    for problem in problems:
        message, _, fix = problem.partition("; ")
        if not public:
            message += " (refused once NURTURE_BASE_URL is public)"
        checks.append(Check("secrets", "secrets", "error" if public else "warning", message, fix))
    if not problems:
        checks.append(Check("secrets", "secrets", "ok", "strong enough for a public BASE_URL"))

    if not public:
        checks.append(
            Check(
                "base_url",
                "BASE_URL",
                "warning",
                f"{settings.base_url} is this machine only: links in mail work nowhere else",
                "set NURTURE_BASE_URL to the public https:// address",
            )
        )
    elif not settings.base_url.startswith("https://"):
        checks.append(
            Check(
                "base_url",
                "BASE_URL",
                "error",
                f"{settings.base_url} is plain http: links, tokens and the admin password "
                "travel unencrypted",
                "serve it behind TLS and set NURTURE_BASE_URL to the https:// address",
            )
        )
    else:
        checks.append(Check("base_url", "BASE_URL", "ok", f"{settings.base_url} is https"))

    if settings.admin_password:
        checks.append(
            Check("admin_password", "admin password", "ok", "set: the dashboard at /admin is on")
        )
    else:
        checks.append(
            Check(
                "admin_password",
                "admin password",
                "warning",
                "NURTURE_ADMIN_PASSWORD is not set: /admin is off unless an account exists",
                f"set it to 12 characters or more, e.g. the output of {KEYGEN}, or add an "
                "owner with `nurture admin add EMAIL --role owner`",
            )
        )
    checks.append(_webhook_key_check(settings))
    checks.append(_sender_check(settings, public))
    return checks


def _webhook_key_check(settings: Settings) -> Check:
    verifier = WebhookVerifier(
        settings.sendgrid_webhook_public_key,
        max_age_seconds=settings.webhook_max_age_seconds,
        insecure_dev=settings.webhook_insecure_dev,
        clock=system_clock,  # no signature is checked here
    )
    problem = verifier.key_problem()
    name = "webhook key"
    if problem is None:
        return Check("webhook_key", name, "ok", "SendGrid's verification key is set")
    if problem == "is not set" and settings.mail_backend != "sendgrid":
        return Check("webhook_key", name, "ok", "not needed: mail goes to the outbox folder")
    return Check(
        "webhook_key",
        name,
        "error",
        f"NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY {problem}: SendGrid's events (bounces, "
        "complaints, delivery evidence) are refused",
        "copy the verification key from SendGrid's Signed Event Webhook into "
        "NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY",
    )


def _sender_check(settings: Settings, public: bool) -> Check:
    name = "mail sender"
    domain = settings.from_email.rpartition("@")[2].lower()
    if domain == EXAMPLE_DOMAIN:
        return Check(
            "sender",
            name,
            "error" if settings.mail_backend == "sendgrid" else "warning",
            f"NURTURE_FROM_EMAIL is the example address {settings.from_email}",
            "set NURTURE_FROM_EMAIL to an address at the clinic's own, authenticated domain",
        )
    if settings.mail_backend != "sendgrid" and public:
        return Check(
            "sender",
            name,
            "warning",
            "mail goes to the outbox folder: nobody receives it",
            "set NURTURE_SENDGRID_API_KEY (and NURTURE_MAIL_BACKEND=sendgrid)",
        )
    return Check("sender", name, "ok", f"{settings.from_email} through {settings.mail_backend}")
