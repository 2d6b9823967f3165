"""The edges, headers: HSTS on https, no-store on every admin page, a /healthz that says
only ok or not ok to the public and why only to the admin.

The findings: no Strict-Transport-Security header; admin pages (personal data) were
cacheable; the public /healthz quoted error text naming hosts, ports and drivers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from tracking_support import make_subscriber

from config import Settings
from runtime import Runtime
from web import create_app

PASSWORD = "test-admin-password"  # tests/conftest.py's
REDIS_DOWN = "redis://127.0.0.1:1/0"
DATABASE_DOWN = "postgresql://nobody@127.0.0.1:1/none"


def basic(password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"beheer:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client_for(
    configure: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> Callable[..., Any]:
    """Return client_for(**settings): a test client of an app on those settings."""

    def make(**values: object) -> Any:
        app = create_app(runtime=make_runtime(configure(**values)))
        app.extensions["nurture_hits"].spool.stop()  # no timer thread outliving the test
        return app.test_client()

    return make


def test_https_base_url_sends_strict_transport_security(client_for) -> None:
    client = client_for(base_url="https://cursus.umoya.example")
    for path in ("/", "/healthz", "/o/forged.gif", "/no-such-page", "/admin"):
        response = client.get(path)
        assert response.headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains"
        ), path


def test_http_base_url_sends_no_strict_transport_security(client) -> None:
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_every_admin_page_and_export_is_no_store(client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "anna@example.com")
    paths = [
        "/admin",
        "/admin/",
        "/admin/subscribers?q=anna",
        f"/admin/subscribers/{made.subscriber_id}",
        "/admin/subscribers/999999",
        "/admin/export/subscribers.csv",
        "/admin/export/events.csv",
    ]
    for path in paths:
        response = client.get(path, headers=basic())
        response.get_data()  # exports stream from an open transaction: finish each one
        response.close()
        assert response.status_code in (200, 404), path
        assert response.headers["Cache-Control"] == "no-store", path
    for refused in (client.get("/admin"), client.get("/admin", headers=basic("fout"))):
        assert refused.status_code == 401
        assert refused.headers["Cache-Control"] == "no-store"
    # Public pages keep their own caching rules.
    assert client.get("/").headers.get("Cache-Control") != "no-store"


def test_public_healthz_says_ok_per_check(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_public_healthz_says_not_ok_without_error_text(client_for) -> None:
    client = client_for(redis_url=REDIS_DOWN, database_url=DATABASE_DOWN)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "down", "checks": {"database": "not ok", "redis": "not ok"}}
    text = response.get_data(as_text=True)
    for leak in ("unreachable", "127.0.0.1", "nobody", "Error", "psycopg", "refused"):
        assert leak not in text


def test_healthz_details_only_with_the_admin_password(client_for) -> None:
    client = client_for(redis_url=REDIS_DOWN, database_url=DATABASE_DOWN)
    response = client.get("/healthz", headers=basic())
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["redis"].startswith("redis unreachable")
    assert checks["database"] not in ("ok", "not ok")

    wrong = client.get("/healthz", headers=basic("raden"))
    assert wrong.status_code == 401
    assert "unreachable" not in wrong.get_data(as_text=True)


def test_healthz_without_admin_gives_no_details_even_with_a_password(client_for) -> None:
    client = client_for(redis_url=REDIS_DOWN, admin_password="")
    response = client.get("/healthz", headers=basic())
    assert response.status_code == 403
    assert "unreachable" not in response.get_data(as_text=True)
    assert client.get("/healthz").json["checks"]["redis"] == "not ok"


def test_guessing_the_password_at_healthz_counts_as_failed_logins(client) -> None:
    """Otherwise /healthz would be a password oracle without the admin lockout."""
    for _ in range(10):
        assert client.get("/healthz", headers=basic("raden")).status_code == 401
    assert client.get("/admin", headers=basic()).status_code == 429
    assert client.get("/healthz", headers=basic()).status_code == 429
    assert client.get("/healthz").json["status"] == "ok"  # the public answer stays
