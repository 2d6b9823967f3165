"""App factory: settings, blueprints, extensions, security headers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, get_settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Create the Flask app for SETTINGS (default: from the environment)."""
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        NURTURE=settings,
        MAX_CONTENT_LENGTH=max(settings.webhook_max_bytes, 256 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.config.update(overrides)
    if settings.trusted_proxies:
        # Behind N reverse proxies, take the client IP and scheme from their X-Forwarded-*
        # headers, so rate limits and consent IP hashes see the visitor, not the proxy.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    # Imported here because the blueprint modules import nurture_settings from this module.
    from web import admin, errors, health, public, security, tracking, webhooks

    security.init_app(app)
    errors.init_app(app)
    for module in (health, public, tracking, webhooks, admin):
        # public wires the rate limiter, which tracking then exempts its blueprint from.
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.bp)
    return app


def nurture_settings(app: Flask) -> Settings:
    """Return the settings an app was created with."""
    settings: Settings = app.config["NURTURE"]
    return settings
