"""GET /healthz checks the database and Redis; every response carries the security headers."""

from __future__ import annotations

import base64

from web import create_app


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_healthz_ok_then_names_redis_when_down(client, configure, make_runtime):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}

    # The runtime holds its Redis client: an app on settings with a dead Redis reports it.
    # The reason is shown to the admin only (see test_headers_health.py).
    down = make_runtime(configure(redis_url="redis://127.0.0.1:1/0"))
    admin = {"Authorization": basic_auth("beheer", down.settings.admin_password)}
    response = create_app(runtime=down).test_client().get("/healthz", headers=admin)
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("redis unreachable")


def test_security_headers_on_every_page(client):
    response = client.get("/healthz")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
