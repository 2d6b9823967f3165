"""The admin audit log: who looked at, exported, erased or blocked personal data, and when.

Entries are only ever added. They name the subscriber by id, never by address, so the log
itself holds no personal data and survives `forget` without becoming a leak.
"""

from __future__ import annotations

import getpass
import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AdminAuditEntry
from subscribers.consent import hash_ip

VIEW_SUBSCRIBER = "subscriber.view"
EXPORT_SUBSCRIBERS = "export.subscribers"
EXPORT_EVENTS = "export.events"
FORGET = "subscriber.forget"
SUPPRESSION_ADD = "suppression.add"
SUPPRESSION_REMOVE = "suppression.remove"
COURSE_IMPORT = "course.import"
COURSE_PUBLISH = "course.publish"
COURSE_REVERT = "course.revert"
LOGIN = "account.login"
ACCOUNT_ADD = "account.add"
ACCOUNT_REMOVE = "account.remove"
ACCOUNT_ROLE = "account.role"
ACCOUNT_PASSWORD = "account.password"  # noqa: S105 (an action name, not a password)

# What the dashboard calls each action.
ACTION_LABELS = {
    VIEW_SUBSCRIBER: "Inschrijver bekeken",
    EXPORT_SUBSCRIBERS: "Inschrijvers geëxporteerd (CSV)",
    EXPORT_EVENTS: "Gebeurtenissen geëxporteerd (CSV)",
    FORGET: "Gegevens gewist (forget)",
    SUPPRESSION_ADD: "Adres geblokkeerd",
    SUPPRESSION_REMOVE: "Blokkade opgeheven",
    COURSE_IMPORT: "Cursus geïmporteerd",
    COURSE_PUBLISH: "Cursusversie gepubliceerd",
    COURSE_REVERT: "Cursus teruggezet naar een oudere versie",
    LOGIN: "Ingelogd",
    ACCOUNT_ADD: "Beheeraccount aangemaakt",
    ACCOUNT_REMOVE: "Beheeraccount verwijderd",
    ACCOUNT_ROLE: "Rol van beheeraccount gewijzigd",
    ACCOUNT_PASSWORD: "Wachtwoord van beheeraccount gewijzigd",
}
# The columns' sizes (store/trust.py); longer values are cut, never refused.
ACTOR_MAX, ACTION_MAX, TARGET_MAX, DETAIL_MAX = 100, 40, 100, 500
USER_NAME_MAX = 40
IP_HASH_CHARS = 12


def _printable(text: str, limit: int) -> str:
    """Drop control and format characters (no forged lines in the log) and cut to LIMIT."""
    kept = "".join(char for char in text if unicodedata.category(char)[0] != "C")
    return kept.strip()[:limit]


def admin_actor(secret_key: str, ip: str | None, user_name: str | None = None) -> str:
    """Name a dashboard user: their Basic user name (or "beheer") @ a short HMAC of their IP.

    With the shared password (HTTP Basic) the user name is only what they typed; the IP's HMAC
    tells sessions apart without storing the IP. Accounts are named by account_actor instead.
    """
    name = _printable(user_name or "", USER_NAME_MAX) or "beheer"
    where = hash_ip(secret_key, ip)[:IP_HASH_CHARS] if ip else "onbekend"
    return f"{name}@{where}"


def cli_actor() -> str:
    """Name the operating-system user running a `nurture` command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        user = "onbekend"
    return "cli:" + _printable(user, ACTOR_MAX - 4)


def record_admin_action(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: str | None = None,
    now: datetime,
) -> AdminAuditEntry:
    """Add one audit entry; it commits (or rolls back) with the action it records."""
    entry = AdminAuditEntry(
        occurred_at=now,
        actor=_printable(actor, ACTOR_MAX) or "onbekend",
        action=action[:ACTION_MAX],
        target=_printable(target, TARGET_MAX) if target else None,
        detail=_printable(detail, DETAIL_MAX) if detail else None,
    )
    session.add(entry)
    return entry


def latest_admin_actions(session: Session, limit: int = 200) -> list[AdminAuditEntry]:
    """Return the newest LIMIT audit entries, newest first."""
    statement = (
        select(AdminAuditEntry)
        .order_by(AdminAuditEntry.occurred_at.desc(), AdminAuditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))
