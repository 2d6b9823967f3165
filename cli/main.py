"""The `nurture` command: web, worker, beat, run, db, and the commands each area adds."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import shlex
import sys

import click

from cli import (
    admin_cmds,
    course_cmds,
    course_version_cmds,
    delivery_cmds,
    doctor_cmds,
    email_cmds,
    json_output,
    stats_cmds,
    subscriber_cmds,
    suppression_cmds,
)
from cli.common import (
    refuse_broken_course,
    refuse_unsafe_to_serve,
    require_database,
    require_services,
    runtime_or_exit,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Nurture: a self-hosted email nurture course service.

    Settings come from NURTURE_* environment variables or a .env file; see .env.example.
    """


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--debug", is_flag=True, help="Flask's reloader and debugger (development only).")
def web(host: str, port: int, debug: bool) -> None:
    """Serve the web app (signup, confirm, unsubscribe, tracking, admin) for development.

    In production run gunicorn instead: gunicorn 'web:create_app()'.
    """
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    refuse_broken_course(runtime)
    from web import create_app

    create_app(runtime=runtime).run(host=host, port=port, debug=debug, threaded=True)


# Celery's per-task lines ("Task … received", "… succeeded") and beat's "Sending due task"
# every interval: at INFO they drown what matters. `--calm` keeps them at WARNING, so a
# dispatcher pass shows up only when it did something (delivery.dispatcher logs that).
CHATTY_CELERY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


# glibc's malloc M_ARENA_MAX: how many allocation arenas threads may spread over.
M_ARENA_MAX = -8
WORKER_MALLOC_ARENAS = 2


def _fewer_malloc_arenas() -> None:
    """Cap glibc's malloc arenas before the worker's threads start.

    By default glibc gives busy threads arenas of their own (up to 8 per core). Each thread
    of a worker builds a whole batch (hundreds of emails) at a time, so every arena grows to a
    batch's peak and keeps it: RSS climbs with the thread count, not with the work. Two
    arenas hold it flat: bench_worker_memory measured 1.11x after 100,000 sends, not 1.21x.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to tune
        return
    libc.mallopt(M_ARENA_MAX, WORKER_MALLOC_ARENAS)


def _calm_celery(calm: bool) -> list[str]:
    """Quiet Celery's banner and per-task logging when CALM; return Celery's leading options."""
    if not calm:
        return []
    for name in CHATTY_CELERY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return ["--quiet"]


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--calm", is_flag=True, help="One line at start; no per-task log lines.")
@click.pass_context
def worker(ctx: click.Context, calm: bool) -> None:
    """Run a Celery worker that sends lessons and confirmations (extra args go to Celery)."""
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    refuse_broken_course(runtime)
    settings = runtime.settings
    # Each worker process builds its own runtime (tasks.app.worker_context); this one only
    # checked the services and the course.
    runtime.close()
    from tasks.app import create_celery

    celery_app = create_celery(settings)
    _fewer_malloc_arenas()
    argv = [
        *_calm_celery(calm),
        *json_output.celery_options(settings),
        "worker",
        "--loglevel=INFO",
        f"--pool={settings.worker_pool}",
        f"--concurrency={settings.worker_concurrency}",
        *ctx.args,
    ]
    celery_app.worker_main(argv)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--calm", is_flag=True, help="One line at start; no line per beat.")
@click.pass_context
def beat(ctx: click.Context, calm: bool) -> None:
    """Run Celery beat, which starts the lesson dispatcher periodically. Run exactly one."""
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    from config.settings import VAR_DIR
    from tasks.app import create_celery

    celery_app = create_celery(runtime.settings)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    schedule = str(VAR_DIR / "celerybeat-schedule")
    leading = [*_calm_celery(calm), *json_output.celery_options(runtime.settings)]
    celery_app.start([*leading, "beat", "--loglevel=INFO", f"--schedule={schedule}", *ctx.args])


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def run(host: str, port: int) -> None:
    """Run web (gunicorn, as in production), worker and beat together, for trying it out."""
    settings = refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    refuse_broken_course(runtime)
    from honcho.manager import Manager

    exe = sys.argv[0] if sys.argv[0].endswith("nurture") else "nurture"
    python = shlex.quote(sys.executable)
    manager = Manager(printer=json_output.printer(settings))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # gunicorn logs only warnings: no line per request, none per worker boot.
    gunicorn = (
        f"{python} -m gunicorn --workers 2 --threads 4 --bind {host}:{port} "
        f"--log-level warning {json_output.gunicorn_options(settings)}'web:create_app()'"
    )
    manager.add_process("web", gunicorn, env=env)
    manager.add_process("worker", f"{exe} worker --calm", env=env)
    manager.add_process("beat", f"{exe} beat --calm", env=env)
    base = f"http://{host}:{port}"
    say = functools.partial(json_output.announce, settings)  # a JSON line in JSON mode
    say(f"Signup page: {base}/  (mail backend: {settings.mail_backend})")
    if settings.admin_password:
        say(f"Dashboard:   {base}/admin  (NURTURE_ADMIN_PASSWORD)")
    else:
        say("Dashboard:   off; set NURTURE_ADMIN_PASSWORD to open /admin")
    if settings.mail_backend == "outbox":
        say(f"Outbox:      {settings.outbox_dir}  (every email as .eml and .html)")
    manager.loop()
    sys.exit(manager.returncode)


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to NURTURE_DATABASE_URL."""
    runtime = runtime_or_exit()
    require_database(runtime)
    from store.migrate import upgrade

    upgrade(runtime.settings.database_url, revision)
    click.echo(f"Database at {revision}.")
    if revision == "head":
        from subscribers.audit import cli_actor
        from subscribers.studio import import_shipped_course

        # A new installation (or one from before versions) starts with the shipped course.
        slug = import_shipped_course(runtime, author=cli_actor())
        if slug:
            click.echo(f"Course {slug} imported from its folder as version 1 (live).")


# Each area's module exposes its click commands or groups in `COMMANDS`.
for _module in (
    admin_cmds,
    course_cmds,
    course_version_cmds,  # adds import, export, publish, … to `nurture course`
    email_cmds,
    subscriber_cmds,
    suppression_cmds,
    delivery_cmds,
    stats_cmds,
    doctor_cmds,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)

if __name__ == "__main__":
    cli()
