"""The Celery application and each worker process's runtime.

`create_celery(settings)` builds the app from the Celery settings written out in
config/celery.py; `celery_init_app(flask_app)` does it for the web app, as in Flask's
examples/celery. The tasks (tasks.sending, tasks.dispatch, tasks.tracking) are thin
`@shared_task` wrappers that take ids and call the domain with `worker_context(app)`: the
runtime and sender of this process, built once per process (again after a fork).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init
from celery.utils.log import ColorFormatter, get_multiprocessing_logger
from flask import Flask

from config import Settings, check_safe_to_serve
from config.celery import celery_settings
from config.logs import use_json
from delivery.sender import Sender
from runtime import Runtime, build_runtime

# The modules whose @shared_task functions a worker runs (imported by the worker at start).
TASK_MODULES = (
    "tasks.sending",
    "tasks.dispatch",
    "tasks.tracking",
    "tasks.retention",
    "tasks.alerts",
)

_BUILD_LOCK = threading.Lock()


class WorkerContext:
    """One process's runtime and its sender, shared by the process's task threads."""

    def __init__(self, runtime: Runtime) -> None:
        """Wrap RUNTIME, remembering which process it belongs to."""
        self.runtime = runtime
        self.sender = Sender(runtime)
        self.pid = os.getpid()


def create_celery(settings: Settings) -> Celery:
    """Build the Celery app for SETTINGS and make it the default for @shared_task.

    Raises ConfigError (one line) when the settings must not serve a public BASE_URL: a
    worker or beat would send mail whose links carry tokens signed with them.
    """
    check_safe_to_serve(settings)
    app = Celery("nurture", set_as_current=True)
    app.conf.update(celery_settings(settings))
    app.conf.include = list(TASK_MODULES)
    app.nurture_settings = settings
    app.nurture_context = None
    app.set_default()
    return app


def attach_runtime(app: Celery, runtime: Runtime) -> WorkerContext:
    """Run APP's tasks in this process with RUNTIME (the web app's, or a test's)."""
    context = WorkerContext(runtime)
    app.nurture_context = context
    return context


def worker_context(app: Celery) -> WorkerContext:
    """Return this process's context for APP, building the runtime on first use."""
    context: WorkerContext | None = getattr(app, "nurture_context", None)
    if context is not None and context.pid == os.getpid():
        return context
    with _BUILD_LOCK:
        context = getattr(app, "nurture_context", None)
        if context is None or context.pid != os.getpid():
            # First task in this process, or a forked child: never share a parent's pools.
            context = attach_runtime(app, build_runtime(app.nurture_settings))
        return context


@worker_process_init.connect
def _build_in_child(**_: Any) -> None:
    """Give each prefork child its own runtime before its first task."""
    from celery import current_app

    worker_context(current_app)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_celery_logs(logger: logging.Logger, **_: Any) -> None:
    """With NURTURE_LOG_FORMAT=json, make the handlers Celery adds write JSON lines too.

    `nurture worker` and `beat` give the root logger its JSON handler before Celery starts
    (cli.common), so Celery adds none there; it still adds its own to the task logger, and to
    the root logger of a worker started without the CLI. Those get the JSON formatter here.
    """
    from celery import current_app

    settings = getattr(current_app, "nurture_settings", None)
    if settings is None or settings.log_format != "json":
        return
    for target in (logger, get_multiprocessing_logger()):
        if target is not None:
            use_json(target, ColorFormatter)


def celery_init_app(flask_app: Flask, runtime: Runtime) -> Celery:
    """Create the Celery app for a Flask app and its runtime; keep it in app.extensions."""
    celery_app = create_celery(runtime.settings)
    attach_runtime(celery_app, runtime)
    flask_app.extensions["celery"] = celery_app
    return celery_app
