"""Engine and sessions: built once per process by the runtime; SQLite tuned for sharing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

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


# The execution option of a connection that only reads (see `read_only`).
READ_ONLY = "nurture_read_only"


def _begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN, so a read-then-write transaction never deadlocks."""
    if connection.get_execution_options().get(READ_ONLY):
        return  # no BEGIN: each statement reads the last commit (WAL), taking no lock
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
    # A statement's values are addresses and names: keep them out of error messages, and
    # so out of every log line and traceback (config.logs).
    kwargs.setdefault("hide_parameters", True)
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


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the sessionmaker for ENGINE (objects stay readable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session from SESSIONS, commit on success, roll back on error."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Run Core statements in one transaction on a pooled connection; commit on success.

    The send hot path uses this instead of a Session: no ORM unit of work or identity map,
    just BEGIN, the statements and COMMIT.
    """
    with engine.begin() as connection:
        yield connection


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """Open a connection for reads only, safe inside another open transaction of this thread.

    On SQLite every transaction takes the write lock at BEGIN, so a second one opened while
    the thread holds the lock would wait for itself; this one takes no lock at all.
    """
    with engine.connect() as connection:
        yield connection.execution_options(**{READ_ONLY: True})


def in_transaction_retrying(
    engine: Engine, work: Callable[[Connection], T], *, waits: Sequence[float] = RECONNECT_WAITS
) -> T:
    """Run WORK in a transaction; after a lost or refused connection, run it again.

    For writes that must not be lost and are safe to repeat (guarded UPDATEs): recording a
    mail SendGrid already took. A dropped pooled connection (database restart) or a refused
    new one (too many clients) fails the transaction before it commits; SQLAlchemy then
    discards the dead connections, and a new attempt a moment later usually goes through.
    """
    for wait in [*waits, None]:
        try:
            with engine.begin() as connection:
                return work(connection)
        except (OperationalError, InterfaceError) as exc:
            if wait is None:
                raise
            log.warning("database write failed (%s); trying again in %g s", exc.orig, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def check_database(engine: Engine) -> str | None:
    """Return None when the database answers, else a one-line reason."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None
