"""The `nurture` command: web, worker, beat, run, db, and the commands each area adds."""

from __future__ import annotations

import os
import sys

import click

from cli import (
    course_cmds,
    delivery_cmds,
    email_cmds,
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


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
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
    argv = [
        "worker",
        "--loglevel=INFO",
        f"--pool={settings.worker_pool}",
        f"--concurrency={settings.worker_concurrency}",
        *ctx.args,
    ]
    celery_app.worker_main(argv)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run Celery beat, which starts the lesson dispatcher periodically. Run exactly one."""
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    require_services(runtime)
    from config.settings import VAR_DIR
    from tasks.app import create_celery

    celery_app = create_celery(runtime.settings)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    schedule = str(VAR_DIR / "celerybeat-schedule")
    celery_app.start(["beat", "--loglevel=INFO", f"--schedule={schedule}", *ctx.args])


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def run(host: str, port: int) -> None:
    """Run web, worker and beat together (honcho), for development and demos."""
    settings = refuse_unsafe_to_serve()
    require_services(runtime_or_exit())
    from honcho.manager import Manager

    exe = sys.argv[0] if sys.argv[0].endswith("nurture") else "nurture"
    manager = Manager()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    manager.add_process("web", f"{exe} web --host {host} --port {port}", env=env)
    manager.add_process("worker", f"{exe} worker", env=env)
    manager.add_process("beat", f"{exe} beat", env=env)
    click.echo(f"Signup page: http://{host}:{port}/  (mail backend: {settings.mail_backend})")
    if settings.mail_backend == "outbox":
        click.echo(f"Mail goes to the outbox folder: {settings.outbox_dir}")
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


# Each area's module exposes its click commands or groups in `COMMANDS`.
for _module in (
    course_cmds,
    email_cmds,
    subscriber_cmds,
    suppression_cmds,
    delivery_cmds,
    stats_cmds,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)

if __name__ == "__main__":
    cli()
