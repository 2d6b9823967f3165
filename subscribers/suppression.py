"""The permanent suppression list: addresses that get no mail, kept as HMACs.

Hard bounces, complaints and addresses the clinic blocks by hand land here. The list is keyed
by an HMAC of the normalised address (the secret key's), so it holds no address, and it
survives `subscribers forget`: a forgotten person who bounced is still never mailed again.
KEYS is the secret key followed by its fallbacks: entries made before a key rotation still
match, and new ones are made with the current key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Suppression


def address_hash(secret_key: str, email: str) -> str:
    """Return HMAC-SHA256(secret key, normalised address) as hex."""
    normalised = email.strip().lower().encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), normalised, hashlib.sha256).hexdigest()


def _hashes(keys: Sequence[str], email: str) -> list[str]:
    return [address_hash(key, email) for key in keys]


def is_suppressed(session: Session, keys: Sequence[str], email: str) -> bool:
    """Tell whether EMAIL is on the suppression list (under any of KEYS)."""
    query = select(Suppression.address_hash).where(
        Suppression.address_hash.in_(_hashes(keys, email))
    )
    return session.scalar(query.limit(1)) is not None


def suppress(
    session: Session,
    keys: Sequence[str],
    email: str,
    *,
    reason: str,
    source: str,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Put EMAIL on the list; return False when it already was (the first reason stays)."""
    if is_suppressed(session, keys, email):
        return False
    key = address_hash(keys[0], email)
    session.add(
        Suppression(address_hash=key, reason=reason, source=source, created_at=now, note=note)
    )
    session.flush()
    return True


def lift(session: Session, keys: Sequence[str], email: str) -> bool:
    """Take EMAIL off the list (under every key); return False when it was not on it."""
    found = session.scalars(
        select(Suppression).where(Suppression.address_hash.in_(_hashes(keys, email)))
    ).all()
    for entry in found:
        session.delete(entry)
    return bool(found)
