"""Signup from other sites and in bulk: CORS for listed origins only, and the per-IP 429."""

from __future__ import annotations

import redis
from subscribers_support import (
    ADDRESS,
    all_subscribers,
    signup_form,
)

from config import Settings
from runtime import Runtime
from web import create_app


def test_cors_allows_listed_origins_and_refuses_others(
    settings: Settings, make_runtime, runtime: Runtime
) -> None:
    allowed = "https://www.umoya.example"
    cors_runtime = make_runtime(settings.model_copy(update={"cors_origins": [allowed + "/"]}))
    client = create_app(runtime=cors_runtime).test_client()
    preflight = client.options(
        "/subscribe",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == allowed
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]

    ok = client.post("/subscribe", json=signup_form(), headers={"Origin": allowed})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == allowed

    for origin in ("https://evil.example", "null", "https://www.umoya.example.evil.example"):
        refused = client.post(
            "/subscribe", data=signup_form(email="ander@example.com"), headers={"Origin": origin}
        )
        assert refused.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "niet toegestaan" in refused.get_data(as_text=True)
        bad_preflight = client.options("/subscribe", headers={"Origin": origin})
        assert bad_preflight.status_code == 403
        assert "Access-Control-Allow-Origin" not in bad_preflight.headers

    own = client.post(
        "/subscribe",
        data=signup_form(email="zelf@example.com"),
        headers={"Origin": "http://nurture.test"},
    )
    assert own.status_code == 200 and "Access-Control-Allow-Origin" not in own.headers
    assert sorted(s.email for s in all_subscribers(runtime)) == [ADDRESS, "zelf@example.com"]


def test_the_rate_limiter_answers_429_in_dutch_per_ip(
    settings: Settings, make_runtime, runtime: Runtime, redis_url: str
) -> None:
    limited = make_runtime(settings.model_copy(update={"rate_limit": "3 per minute"}))
    client = create_app(runtime=limited).test_client()
    statuses = [
        client.post("/subscribe", data=signup_form(email=f"p{n}@example.com")).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 200]
    page = client.post("/subscribe", data=signup_form(email="p3@example.com"))
    assert page.status_code == 429
    assert "Te veel aanmeldingen" in page.get_data(as_text=True)
    as_json = client.post("/subscribe", json=signup_form(email="p4@example.com"))
    assert as_json.status_code == 429 and "rate" in as_json.json["errors"]
    other_ip = client.post(
        "/subscribe",
        data=signup_form(email="p5@example.com"),
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other_ip.status_code == 200
    assert client.get("/").status_code == 200  # the page itself is never limited
    assert len(all_subscribers(runtime)) == 4
    # The counts live in Redis (shared by every web process), not in this process.
    client_redis = redis.Redis.from_url(redis_url)
    assert client_redis.keys("LIMITS:LIMITER/nurture-limit/*")
    client_redis.close()
