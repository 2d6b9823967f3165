"""Helpers every command shares: one-line errors instead of tracebacks, service checks."""

from __future__ import annotations

from typing import NoReturn

import click

from config import ConfigError, Settings, get_settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print MESSAGE as one line on stderr and exit with CODE."""
    click.echo(f"nurture: {message}", err=True)
    raise SystemExit(code)


def settings_or_exit() -> Settings:
    """Return the settings, or exit naming the variable that is wrong."""
    try:
        return get_settings()
    except ConfigError as exc:
        fail(str(exc))


def require_services() -> None:
    """Exit with a one-line message when the database or Redis can't be reached."""
    from store.db import check_database
    from web.health import check_redis

    settings = settings_or_exit()
    problem = check_database()
    if problem:
        fail(f"NURTURE_DATABASE_URL: {problem}")
    problem = check_redis(settings.redis_url)
    if problem:
        fail(f"NURTURE_REDIS_URL: {problem} (expected a reachable redis://HOST:PORT/DB)")


def refuse_broken_course(slug: str | None = None) -> None:
    """Exit with the first problem `nurture course check` would report, if any."""
    from course.check import check_course

    problems = check_course(slug)
    if problems:
        fail(f"course fails its check: {problems[0]} (run `nurture course check`)")
