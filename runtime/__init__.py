"""The composition root: build_runtime(settings) makes everything a process shares, once.

The web app factory, each Celery worker process and the CLI call it; the domain packages
(delivery, subscribers, tracking) take the Runtime as an argument. No module keeps a registry
of its own, so a test builds a runtime for its settings instead of clearing caches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from course.store import CourseStore
from emails.render import Renderer
from emails.tokens import Tokens
from providers import MailBackend, build_mail_backend
from providers.sendgrid.webhook import WebhookVerifier
from store.clock import Clock, system_clock
from store.db import make_engine, make_sessionmaker, session_scope, transaction

# Short Redis timeouts: a pixel or a signup must not hang on a dead Redis; each caller has a
# fallback (the database, or the dispatcher's next pass).
REDIS_CONNECT_TIMEOUT_SECONDS = 0.5
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0


@dataclass
class Runtime:
    """What one process shares: settings, database, Redis, mail, courses, clock, tokens."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    mail: MailBackend
    courses: CourseStore
    clock: Clock
    tokens: Tokens
    renderer: Renderer
    webhooks: WebhookVerifier

    def now(self) -> datetime:
        """Return the current aware UTC time from this runtime's clock."""
        return self.clock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open an ORM session; commit on success, roll back on error."""
        with session_scope(self.sessions) as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run Core statements in one transaction; commit on success."""
        with transaction(self.engine) as connection:
            yield connection

    def close(self) -> None:
        """Close pooled database and Redis connections (tests, and before a fork)."""
        self.engine.dispose()
        self.redis.close()


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Build the runtime for SETTINGS; CLOCK replaces the system clock (tests)."""
    # Tests pass a FrozenClock and move it; every part below reads the same clock.
    now = clock or system_clock
    engine = make_engine(settings.database_url)
    # Sign with the current key, verify with it and the fallbacks (key rotation).
    tokens = Tokens(settings.secret_keys, now)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        redis=redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        ),
        mail=build_mail_backend(settings, now),
        courses=CourseStore(settings.course, settings.content_dir, engine),
        clock=now,
        tokens=tokens,
        renderer=Renderer(settings, tokens),
        webhooks=WebhookVerifier(
            settings.sendgrid_webhook_public_key,
            max_age_seconds=settings.webhook_max_age_seconds,
            insecure_dev=settings.webhook_insecure_dev,
            clock=now,
        ),
    )
