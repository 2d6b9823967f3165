"""Engine and sessions: one engine per process; SQLite tuned so web, workers and beat share it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Thread-pool workers run many sends at once, but a send holds a connection only for its
# short claim and record transactions, never during the HTTP call. So up to 20 connections
# per process serve dozens of threads (the rest wait briefly for one), and two workers plus
# web, beat and the CLI stay inside PostgreSQL's default max_connections of 100. Most of
# them are kept (pool size) rather than overflow: an overflow connection is closed when it
# is returned and reopened moments later under load, and each new PostgreSQL connection
# costs a backend process start.
POOL_SIZE = 10
POOL_OVERFLOW = 10
# A pooled connection is tested before use only after this much idle time. Testing on every
# checkout (pool_pre_ping) costs a round trip per transaction, two per send. A connection
# that breaks while busy (database restart) fails one statement; SQLAlchemy then drops the
# whole pool, and the send's guarded state machine recovers: an unclaimed row is enqueued
# again by the dispatcher, a stale claim is settled by evidence.
PING_AFTER_IDLE_SECONDS = 10.0
# Waits between attempts of a write that must not be lost (in_transaction_retrying).
RECONNECT_WAITS = (0.2, 1.0, 3.0)

T = TypeVar("T")
log = logging.getLogger(__name__)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside one writer; busy_timeout makes writers wait, not fail."""
    # Let SQLAlchemy issue BEGIN itself, so BEGIN IMMEDIATE below takes effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN, so a read-then-write transaction never deadlocks."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    """Remember when a connection went back to the pool."""
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Test a connection that sat idle a while; a dead one is replaced by the pool."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:
        # The documented way to tell the pool to discard this connection and try another.
        raise DisconnectionError() from exc


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for URL with the per-dialect settings the service relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _ping_if_idle)
    return engine


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return _engine_for(get_settings().database_url)


@lru_cache(maxsize=4)
def _sessionmaker_for(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine_for(url), expire_on_commit=False)


def session_factory() -> sessionmaker[Session]:
    """Return the sessionmaker bound to the configured database."""
    return _sessionmaker_for(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """Open a session, commit on success, roll back on error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def transaction() -> Iterator[Connection]:
    """Run Core statements in one transaction on a pooled connection; commit on success.

    The send hot path uses this instead of a Session: no ORM unit of work or identity map,
    just BEGIN, the statements and COMMIT.
    """
    with get_engine().begin() as connection:
        yield connection


def in_transaction_retrying(
    work: Callable[[Connection], T], *, waits: Sequence[float] = RECONNECT_WAITS
) -> T:
    """Run WORK in a transaction; after a lost or refused connection, run it again.

    For writes that must not be lost and are safe to repeat (guarded UPDATEs): recording a
    mail SendGrid already took. A dropped pooled connection (database restart) or a refused
    new one (too many clients) fails the transaction before it commits; SQLAlchemy then
    discards the dead connections, and a new attempt a moment later usually goes through.
    """
    for wait in [*waits, None]:
        try:
            with get_engine().begin() as connection:
                return work(connection)
        except (OperationalError, InterfaceError) as exc:
            if wait is None:
                raise
            log.warning("database write failed (%s); trying again in %g s", exc.orig, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def dispose_engines() -> None:
    """Close pooled connections (after fork, and between tests that switch databases)."""
    for engine in [_engine_for(url) for url in _cached_urls()]:
        engine.dispose()
    _engine_for.cache_clear()
    _sessionmaker_for.cache_clear()


def _cached_urls() -> list[str]:
    # lru_cache keeps no public key list; the settings URL is the only one we open in practice.
    return [get_settings().database_url] if _engine_for.cache_info().currsize else []


def check_database() -> str | None:
    """Return None when the database answers, else a one-line reason."""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None
