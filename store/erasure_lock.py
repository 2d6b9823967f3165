"""One lock between erasing people and recording what they did (PostgreSQL; SQLite needs none).

An erase and a transaction that records what a person did (the webhook ingest, a drain of
opens and clicks, a rating, a booking, a change on the preferences page, setting aside a
webhook batch) must not overlap. A recorder that read "not forgotten" before an erase
committed would otherwise store rows tied to the person after it (as it finds them by
delivery, tag or link, not by the erased address); and an erase that ran beside a recorder
would miss the rows the recorder had not committed yet.

So recorders hold a transaction-level advisory lock shared and an erase holds it alone: an
erase waits for the recorders under way (then erases what they stored), and recorders that
start meanwhile wait for the erase (then see the person forgotten). Both take it with their
transaction's first statement, before any row lock, so it adds no deadlock: a transaction
waiting here holds nothing that anyone else waits for. Recorders never wait on each other.

On SQLite every transaction takes the database's write lock at BEGIN (store.db), which
already runs them one at a time.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

# Any fixed 64-bit number no other advisory lock uses: "nurture" and 1, in ASCII.
ERASURE_LOCK_KEY = 0x6E757274757265_01

_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:key)")
_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")


def _is_postgresql(executor: Session | Connection) -> bool:
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name == "postgresql"


def hold_for_erasure(executor: Session | Connection) -> None:
    """Wait until no recorder runs, and keep new ones out until this transaction ends."""
    if _is_postgresql(executor):
        executor.execute(_EXCLUSIVE, {"key": ERASURE_LOCK_KEY})


def hold_for_recording(executor: Session | Connection) -> None:
    """Wait for an erase under way, and keep new erases out until this transaction ends."""
    if _is_postgresql(executor):
        executor.execute(_SHARED, {"key": ERASURE_LOCK_KEY})
