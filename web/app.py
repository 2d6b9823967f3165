"""App factory: build the runtime, wire Celery, register blueprints and security headers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, check_safe_to_serve, load_settings
from config.logs import configure_logging
from runtime import Runtime, build_runtime
from tasks.app import celery_init_app
from tasks.tracking import drain_tracking_hits
from tracking.hits import HitIntake
from web import (
    admin,
    admin_accounts,
    auth,
    errors,
    feedback,
    health,
    login,
    metrics,
    preferences,
    public,
    security,
    studio,
    studio_article,
    studio_lessons,
    studio_versions,
    tracking,
    unsubscribe,
    webhooks,
)


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, **overrides: Any
) -> Flask:
    """Create the Flask app for SETTINGS (default: from the environment), or for RUNTIME.

    Raises ConfigError (one line) when the settings must not serve a public BASE_URL.
    """
    settings = runtime.settings if runtime else (settings or load_settings())
    # First, so whatever logs from here on (Flask included) uses NURTURE_LOG_FORMAT.
    configure_logging(settings)
    # Before anything connects or serves: a public BASE_URL needs secrets nobody can guess.
    check_safe_to_serve(settings)
    if runtime is None:
        runtime = build_runtime(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=max(settings.webhook_max_bytes, 256 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.config.update(overrides)
    app.extensions["nurture"] = runtime
    celery_app = celery_init_app(app, runtime)

    def drain_soon() -> None:
        """Ask a worker to store the opens and clicks that just reached an empty queue."""
        # retry=False: with Redis down the hits went to the database; nothing to drain.
        celery_app.send_task(drain_tracking_hits.name, retry=False)

    app.extensions["nurture_hits"] = HitIntake(runtime, schedule_drain=drain_soon)
    if settings.trusted_proxies:
        # Behind N reverse proxies, take the client IP and scheme from their X-Forwarded-*
        # headers, so rate limits and consent IP hashes see the visitor, not the proxy.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    security.init_app(app)
    errors.init_app(app)
    # public wires the rate limiter, which tracking then exempts its blueprint from.
    public.init_app(app)
    tracking.init_app(app)
    metrics.init_app(app, runtime)
    # Accounts' sessions, and CSRF on every form but the public ones, which need no cookie.
    public_blueprints = [
        health,
        public,
        unsubscribe,
        preferences,
        feedback,
        tracking,
        webhooks,
        metrics,
    ]
    auth.init_app(app, public_blueprints=[module.bp for module in public_blueprints])
    studio_blueprints = (studio, studio_versions, studio_article, studio_lessons)
    for module in (*public_blueprints, login, admin, admin_accounts, *studio_blueprints):
        app.register_blueprint(module.bp)
    return app
