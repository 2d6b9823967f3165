"""Security headers on every response: a strict CSP (no CDN), no framing, no sniffing.

On an https BASE_URL browsers are also told to use https only (HSTS), and no admin page or
export may be kept in a browser's or proxy's cache: they hold personal data. Admin pages send
their Referer to this site only: the CSRF check on https needs it.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# One year, the value HSTS preload lists ask for; sent only when BASE_URL is https.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
ADMIN_PREFIX = "/admin"


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
    return response


def _no_store_for_admin(response: Response) -> Response:
    # Set, not setdefault: an export's own caching header must not outlive a shared computer.
    if request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/"):
        response.headers["Cache-Control"] = "no-store"
        # On https, flask-wtf also checks that a form was posted from this site (Referer);
        # same-origin sends it to ourselves only, never to another site.
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def _add_hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def init_app(app: Flask) -> None:
    """Install the security headers on APP (HSTS too when its BASE_URL is https)."""
    app.after_request(_add_headers)
    app.after_request(_no_store_for_admin)
    if app.extensions["nurture"].settings.base_url.startswith("https://"):
        app.after_request(_add_hsts)
