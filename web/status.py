"""The dashboard's status panel: `nurture doctor`'s checks, with Dutch labels for the clinic.

The cheap checks (tasks.health_local: settings, course, schema, Redis, dispatcher, queues,
webhook age) run on every view; they read only our database and Redis. The slow ones (worker
ping, SendGrid, DNS) never run in a request: the panel shows what the last `nurture doctor`
stored, with the time it ran. Findings and fixes stay in English: they are for whoever runs
the server, and name settings and commands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from runtime import Runtime
from tasks.health import Check, stored_remote_checks, worst
from tasks.health_local import local_checks

log = logging.getLogger(__name__)

LABELS = {
    "settings": "Instellingen",
    "secrets": "Geheime sleutels",
    "base_url": "Openbaar adres",
    "admin_password": "Beheerwachtwoord",
    "webhook_key": "Webhooksleutel",
    "sender": "Afzender",
    "course": "Cursusinhoud",
    "database": "Database",
    "redis": "Redis",
    "dispatcher": "Verzendplanner (beat)",
    "queues": "Wachtrijen",
    "webhook_events": "Meldingen van SendGrid",
    "workers": "Workers",
    "sendgrid": "SendGrid-sleutel",
    # The sender's domain in DNS.
    "spf": "SPF-record",
    "dkim": "DKIM-sleutels",
    "dmarc": "DMARC-beleid",
}
STATUS_WORDS = {"ok": "in orde", "warning": "let op", "error": "fout"}


@dataclass(frozen=True)
class Row:
    """One line of the panel: the Dutch label and status word beside the check."""

    label: str
    word: str
    check: Check


@dataclass(frozen=True)
class Panel:
    """What the template shows: live rows, stored rows and when those were taken."""

    status: str
    errors: int
    warnings: int
    live: list[Row]
    stored: list[Row]
    stored_at: datetime | None

    @property
    def summary(self) -> str:
        """Say in Dutch how things stand, in one line."""
        if not self.errors and not self.warnings:
            return "Alles in orde"
        parts = []
        if self.errors:
            parts.append(f"{self.errors} fout{'en' if self.errors != 1 else ''}")
        if self.warnings:
            parts.append(f"{self.warnings} waarschuwing{'en' if self.warnings != 1 else ''}")
        return " en ".join(parts)


def _row(check: Check) -> Row:
    return Row(LABELS.get(check.key, check.name), STATUS_WORDS[check.status], check)


def status_panel(runtime: Runtime) -> Panel:
    """Run the cheap checks now and add the slow ones the last `nurture doctor` stored."""
    try:
        live = local_checks(runtime)
    except Exception as exc:
        log.exception("the dashboard's self-check failed")
        live = [Check("settings", "self-check", "error", f"{type(exc).__name__}: {exc}")]
    try:
        stored = stored_remote_checks(runtime)
    except Exception:
        stored = None  # Redis down: the live Redis check already says so
    remote = stored.checks if stored else []
    everything = [*live, *remote]
    return Panel(
        status=worst(everything),
        errors=sum(check.status == "error" for check in everything),
        warnings=sum(check.status == "warning" for check in everything),
        live=[_row(check) for check in live],
        stored=[_row(check) for check in remote],
        stored_at=stored.checked_at.astimezone(runtime.settings.zone) if stored else None,
    )
