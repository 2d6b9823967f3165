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
    app.conf.include = TASK_MODULES
    app.set_default()
    return app


celery_app = create_celery()
