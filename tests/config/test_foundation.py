"""Foundation: settings validation, storage on both databases, CLI errors, health endpoint."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from helpers import run_cli
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from config import ConfigError, load_settings
from store.db import session_scope
from store.models import Delivery, Enrollment, Subscriber
from web import create_app


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MAIL_BACKEND", "smtp", "NURTURE_MAIL_BACKEND"),
        ("DATABASE_URL", "mysql://x@y/z", "NURTURE_DATABASE_URL"),
        ("REDIS_URL", "http://localhost", "NURTURE_REDIS_URL"),
        ("BASE_URL", "not a url", "NURTURE_BASE_URL"),
        ("TIMEZONE", "Mars/Olympus", "NURTURE_TIMEZONE"),
        ("DAY_SECONDS", "0", "NURTURE_DAY_SECONDS"),
        ("SEND_TIME", "25:00", "NURTURE_SEND_TIME"),
    ],
)
def test_bad_setting_names_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(f"NURTURE_{variable}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_postgres_url_is_normalised(monkeypatch):
    monkeypatch.setenv("NURTURE_DATABASE_URL", "postgres://user@db.example/nurture")
    assert load_settings().database_url == "postgresql+psycopg://user@db.example/nurture"


def test_outbox_is_default_without_key_and_sendgrid_with_one(monkeypatch):
    monkeypatch.delenv("NURTURE_MAIL_BACKEND", raising=False)
    monkeypatch.delenv("NURTURE_SENDGRID_API_KEY", raising=False)
    assert load_settings().mail_backend == "outbox"
    monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", "a-real-looking-key")
    assert load_settings().mail_backend == "sendgrid"


@pytest.mark.parametrize("secret", ["", "changethis", "dev-secret"])
def test_production_refuses_placeholder_secrets(monkeypatch, secret):
    monkeypatch.setenv("NURTURE_ENV", "production")
    monkeypatch.setenv("NURTURE_BASE_URL", "https://cursus.umoya.example")
    monkeypatch.setenv("NURTURE_ADMIN_PASSWORD", "a-long-admin-password")
    monkeypatch.setenv("NURTURE_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="NURTURE_SECRET_KEY"):
        load_settings()


def test_cli_reports_bad_setting_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "db", "upgrade"],
        env={"NURTURE_MAIL_BACKEND": "smtp", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nurture: NURTURE_MAIL_BACKEND: Input should be 'sendgrid' or 'outbox'"
    ]


def test_cli_reports_unreachable_database(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("NURTURE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    from config import reset_settings_cache

    reset_settings_cache()
    result = run_cli("db", "upgrade")
    assert result.exit_code == 2
    assert "NURTURE_DATABASE_URL: database unreachable" in result.output


def test_schema_round_trip_and_unique_delivery(settings):
    now = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    with session_scope() as session:
        subscriber = Subscriber(email="a@example.nl", course_slug="c", created_at=now)
        enrollment = Enrollment(subscriber=subscriber, course_slug="c", started_at=now)
        session.add(enrollment)
        session.flush()
        session.add(
            Delivery(
                enrollment_id=enrollment.id,
                subscriber_id=subscriber.id,
                course_slug="c",
                day=1,
                created_at=now,
                not_before=now,
            )
        )
    with session_scope() as session:
        loaded = session.scalars(select(Subscriber)).one()
        assert loaded.created_at == now
        assert loaded.created_at.tzinfo is not None
        enrollment_id = session.scalars(select(Enrollment.id)).one()
    with pytest.raises(IntegrityError), session_scope() as session:
        session.add(
            Delivery(
                enrollment_id=enrollment_id,
                subscriber_id=loaded.id,
                course_slug="c",
                day=1,
                created_at=now,
                not_before=now,
            )
        )


def test_sqlite_runs_in_wal_mode(settings):
    if not settings.is_sqlite:
        pytest.skip("SQLite only")
    from sqlalchemy import text

    from store.db import get_engine

    with get_engine().connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_healthz_ok_then_names_redis_when_down(settings, monkeypatch):
    client = create_app().test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}

    monkeypatch.setenv("NURTURE_REDIS_URL", "redis://127.0.0.1:1/0")
    from config import reset_settings_cache

    reset_settings_cache()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("redis unreachable")


def test_security_headers_on_every_page(settings):
    response = create_app().test_client().get("/healthz")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
