"""App-wide error pages are Dutch (JSON for API clients); ProxyFix is opt-in."""

from __future__ import annotations

from web import create_app


def test_unknown_page_is_dutch_404(client):
    response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert "Deze pagina bestaat niet" in response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/html")


def test_wrong_method_keeps_allow_header(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_json_clients_get_json_errors(client):
    response = client.get("/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json == {"error": "Deze pagina bestaat niet (meer)."}


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(app, configure, make_runtime):
    def remote_addr(app):
        seen = {}

        @app.get("/_whoami")
        def whoami():
            from flask import request

            seen["addr"] = request.remote_addr
            return "ok"

        app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.9"})
        return seen["addr"]

    assert remote_addr(app) == "127.0.0.1"
    trusted = make_runtime(configure(trusted_proxies=1))
    assert remote_addr(create_app(runtime=trusted)) == "203.0.113.9"
