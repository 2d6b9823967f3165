"""The consent history: append one event per signup, confirmation, opt-out or suppression.

Rows are only ever inserted (on PostgreSQL a trigger refuses anything else). An event says
when, through what (form, embed, api, page, one-click, webhook, cli, retention), under which
consent text (its version and the SHA-256 of the exact text shown), and from where (an HMAC
of the IP, never the IP itself). `subscribers export` lists them.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.orm import Session

from course.loader import Course
from store.models import ConsentEvent


def hash_ip(secret_key: str, ip: str) -> str:
    """Return HMAC-SHA256(secret key, IP) as hex: proof of consent without keeping the IP."""
    return hmac.new(secret_key.encode("utf-8"), ip.encode("utf-8"), hashlib.sha256).hexdigest()


def consent_text_sha256(course: Course) -> str:
    """Return the SHA-256 (hex) of the consent text COURSE shows, exactly as shown."""
    return hashlib.sha256(course.consent_text.encode("utf-8")).hexdigest()


def record_consent(
    session: Session,
    *,
    subscriber_id: int | None,
    kind: str,
    source: str,
    now: datetime,
    course: Course | None = None,
    course_slug: str | None = None,
    ip: str | None = None,
    secret_key: str = "",
    detail: str | None = None,
) -> ConsentEvent:
    """Append a consent event; COURSE gives the text version and hash, IP is HMACed.

    COURSE_SLUG names the course when its folder is gone (an opt-out is recorded all the same).
    """
    event = ConsentEvent(
        subscriber_id=subscriber_id,
        kind=kind,
        source=source,
        occurred_at=now,
        course_slug=course.slug if course else course_slug,
        consent_version=course.consent_version if course else None,
        consent_text_sha256=consent_text_sha256(course) if course else None,
        ip_hash=hash_ip(secret_key, ip) if ip and secret_key else None,
        detail=detail[:200] if detail else None,
    )
    session.add(event)
    return event
