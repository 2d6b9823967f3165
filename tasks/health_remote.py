"""The checks that wait on the network: a Celery ping of the workers, SendGrid, the DNS records.

Each is bounded by a short timeout. /admin never runs them in a request; it shows what the
last `nurture doctor` stored (tasks.health.store_remote_checks).
"""

from __future__ import annotations

import dns.resolver
from celery import Celery

from config import ConfigError, Settings
from config.celery import celery_settings
from config.values import parse_dns_server
from providers.sendgrid.account import AccountUnreachable, key_access
from providers.sendgrid.domain import check_sender_domain, make_resolver
from runtime import Runtime
from tasks.health import Check

REMOTE_KEYS = frozenset({"workers", "sendgrid", "spf", "dkim", "dmarc"})
# A doctor run waits at most this long for SendGrid and for each DNS answer.
SENDGRID_TIMEOUT_SECONDS = 5.0
DNS_TIMEOUT_SECONDS = 3.0
SENDGRID_FIX = (
    "create an API key with the Mail Send permission in SendGrid (Settings → API Keys) and "
    "set NURTURE_SENDGRID_API_KEY"
)


def celery_for_checks(settings: Settings) -> Celery:
    """Return the Celery app to ping workers with: tasks.app.create_celery's.

    create_celery refuses settings that must not serve a public BASE_URL; the doctor reports
    that refusal itself, and still pings, with a bare app of the same Celery settings.
    """
    from tasks.app import create_celery

    try:
        return create_celery(settings)
    except ConfigError:
        app = Celery("nurture", set_as_current=False)
        app.conf.update(celery_settings(settings))
        return app


def worker_check(celery_app: Celery, timeout: float) -> Check:
    """Ping every worker through CELERY_APP's broker; error when none answers in TIMEOUT."""
    name = "workers"
    try:
        replies = celery_app.control.ping(timeout=timeout)
    except Exception as exc:
        return Check(
            "workers", name, "error", f"could not ping: {type(exc).__name__}: {exc}", "check Redis"
        )
    hosts = sorted(host for reply in replies for host in reply)
    if not hosts:
        return Check(
            "workers",
            name,
            "error",
            f"no worker answered a ping within {timeout:g} s: nothing is sent",
            "start `nurture worker`, one per core, on any machine that reaches Redis",
        )
    count = f"{len(hosts)} worker{'s' if len(hosts) != 1 else ''}"
    return Check("workers", name, "ok", f"{count} answered: {', '.join(hosts)}")


def sendgrid_check(settings: Settings) -> Check:
    """Ask SendGrid whether the API key is valid and may send mail."""
    name = "SendGrid API key"
    if settings.mail_backend != "sendgrid":
        return Check("sendgrid", name, "ok", "not used: mail goes to the outbox folder")
    timeout = min(settings.sendgrid_timeout, SENDGRID_TIMEOUT_SECONDS)
    try:
        access = key_access(settings.sendgrid_api_key, settings.sendgrid_host, timeout)
    except AccountUnreachable as exc:
        return Check(
            "sendgrid",
            name,
            "error",
            f"could not ask SendGrid: {exc}",
            f"check that this machine reaches {settings.sendgrid_host} (NURTURE_SENDGRID_HOST)",
        )
    if not access.accepted:
        return Check("sendgrid", name, "error", f"refused: {access.refusal}", SENDGRID_FIX)
    if not access.can_send:
        return Check(
            "sendgrid",
            name,
            "error",
            f"valid, but without the Mail Send permission ({len(access.scopes)} others)",
            SENDGRID_FIX,
        )
    return Check("sendgrid", name, "ok", "valid, with the Mail Send permission")


def domain_checks(settings: Settings, resolver: dns.resolver.Resolver | None = None) -> list[Check]:
    """Check the From domain's SPF, DKIM and DMARC records in DNS."""
    domain = settings.from_email.rpartition("@")[2].lower()
    names = (("spf", "SPF"), ("dkim", "DKIM"), ("dmarc", "DMARC"))
    if settings.mail_backend != "sendgrid":
        return [
            Check(key, f"{name} of the sender's domain", "ok", "not checked: outbox backend")
            for key, name in names
        ]
    if resolver is None:
        server = parse_dns_server(settings.dns_server) if settings.dns_server else None
        try:
            resolver = make_resolver(server, timeout=DNS_TIMEOUT_SECONDS)
        except dns.resolver.NoResolverConfiguration:
            return [
                Check(
                    key,
                    f"{name} of {domain}",
                    "warning",
                    "not checked: this machine has no DNS resolver configured",
                    "set NURTURE_DNS_SERVER to a DNS server's IP address",
                )
                for key, name in names
            ]
    return [
        Check(
            finding.name.lower(),
            f"{finding.name} of {domain}",
            finding.severity,
            finding.message,
            finding.fix,
        )
        for finding in check_sender_domain(resolver, domain)
    ]


def remote_checks(
    runtime: Runtime,
    celery_app: Celery,
    *,
    resolver: dns.resolver.Resolver | None = None,
    ping_timeout: float = 1.0,
    redis_up: bool = True,
) -> list[Check]:
    """Run the workers ping (through Redis, unless it is down), SendGrid and DNS checks."""
    workers = (
        worker_check(celery_app, ping_timeout)
        if redis_up
        else Check("workers", "workers", "error", "not pinged: Redis is unreachable", "fix Redis")
    )
    return [
        workers,
        sendgrid_check(runtime.settings),
        *domain_checks(runtime.settings, resolver),
    ]
