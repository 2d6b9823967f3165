"""Settings: a bad value names its variable in one line; defaults and production refusals."""

from __future__ import annotations

import pytest

from config import ConfigError, load_settings


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
        ("SCANNER_NETWORKS", '["not a network"]', "NURTURE_SCANNER_NETWORKS"),
        ("MACHINE_CLICK_SECONDS", "-1", "NURTURE_MACHINE_CLICK_SECONDS"),
        ("ALERT_EMAIL", "praktijk@example.nl\nBcc: x@example.org", "NURTURE_ALERT_EMAIL"),
        ("ALERT_EMAIL", "a@example.nl, b@example.nl", "NURTURE_ALERT_EMAIL"),
        ("BREAKER_FAILURES", "0", "NURTURE_BREAKER_FAILURES"),
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
