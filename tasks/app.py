"""The Celery application: configured from settings, with every task module registered."""

from __future__ import annotations

from celery import Celery

from config import get_settings
from config.celery import celery_settings

TASK_MODULES = ["tasks.dispatch", "tasks.sending", "tasks.confirmation", "tasks.webhooks"]


def create_celery() -> Celery:
    """Build the Celery app for the current settings."""
    app = Celery("nurture")
    app.conf.update(celery_settings(get_settings()))
    app.conf.include = [name for name in TASK_MODULES if _module_exists(name)]
    app.set_default()
    return app


def _module_exists(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


celery_app = create_celery()
