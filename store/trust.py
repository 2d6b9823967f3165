"""The audit trail: consent events, hashed suppressions, the admin log and admin accounts.

Consent events are append-only: the code inserts them and never updates or deletes one, and
on PostgreSQL a trigger refuses UPDATE and DELETE outright. They hold no address or name:
the subscriber id, an HMAC of the IP, and the exact consent text's version and SHA-256.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigId


class ConsentEventKind:
    """What a consent event records."""

    SIGNUP = "signup"
    CONFIRMATION = "confirmation"
    UNSUBSCRIBE = "unsubscribe"
    RESUBSCRIBE = "resubscribe"
    SUPPRESSION = "suppression"
    # The last lesson went out: the course is done and no more lessons come (the optional
    # closing email aside). Not consent, but the history says why the mail stopped.
    COMPLETED = "completed"


class ConsentEvent(Base):
    """One step of a person's consent history: when, through what, under which text."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(30))
    # form, embed, api, page, one-click, webhook, cli, retention
    source: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    # The course whose text was shown or whose mail was stopped; None on events from before
    # several courses (those belong to the subscriber's first course).
    course_slug: Mapped[str | None] = mapped_column(String(100))
    consent_version: Mapped[str | None] = mapped_column(String(40))
    consent_text_sha256: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index(None, "subscriber_id", "occurred_at"),)


class Suppression(Base):
    """An address that gets no mail, whatever happens to its subscriber row (forget included).

    Keyed by an HMAC of the normalised address, so the list itself holds no address.
    """

    __tablename__ = "suppressions"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(200))


class AdminAuditEntry(Base):
    """Something the clinic did with personal data: a view, an export, a forget, a block."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index(None, "occurred_at"),)


class AdminAccount(Base):
    """A person who may open the dashboard: an address, a role and an Argon2 password hash.

    session_version rises with every password or role change and with removal, so a signed
    session cookie made before it no longer opens anything (see web/auth.py).
    """

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
