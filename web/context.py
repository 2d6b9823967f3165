"""What every blueprint reads from the current app: the runtime, and how to answer."""

from __future__ import annotations

from celery import Celery
from flask import current_app, request

from runtime import Runtime
from tracking.hits import HitIntake


def runtime() -> Runtime:
    """Return the runtime the current app was created with."""
    found: Runtime = current_app.extensions["nurture"]
    return found


def celery() -> Celery:
    """Return the current app's Celery app (its broker, whatever app was created last)."""
    found: Celery = current_app.extensions["celery"]
    return found


def hit_intake() -> HitIntake:
    """Return the current app's intake of opens and clicks."""
    found: HitIntake = current_app.extensions["nurture_hits"]
    return found


def wants_json() -> bool:
    """Tell whether to answer this request with JSON rather than a Dutch page."""
    if request.is_json or request.path.startswith("/webhooks/"):
        return True
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json"])
    return best == "application/json" and accept[best] > accept["text/html"]
