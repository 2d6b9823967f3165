"""Helpers every command shares: settings and runtime once per run, one-line errors, checks."""

from __future__ import annotations

from typing import NoReturn

import click

from config import ConfigError, Settings, check_safe_to_serve, load_settings
from config.logs import configure_logging
from runtime import Runtime, build_runtime


def fail(message: str, code: int = 2) -> NoReturn:
    """Print MESSAGE as one line on stderr and exit with CODE."""
    click.echo(f"nurture: {message}", err=True)
    raise SystemExit(code)


def _state() -> dict[str, object]:
    """Return this command run's state, kept on click's root context."""
    context = click.get_current_context()
    root = context.find_root()
    if root.obj is None:
        root.obj = {}
    state: dict[str, object] = root.obj
    return state


def settings_or_exit() -> Settings:
    """Return the settings (read once per run), or exit naming the variable that is wrong."""
    state = _state()
    if "settings" not in state:
        try:
            state["settings"] = load_settings()
        except ConfigError as exc:
            fail(str(exc))
        # Every command's process logs in NURTURE_LOG_FORMAT from here on (worker, beat, run).
        configure_logging(state["settings"])  # type: ignore[arg-type]
    settings: Settings = state["settings"]  # type: ignore[assignment]
    return settings


def refuse_unsafe_to_serve() -> Settings:
    """Return the settings, or exit when they must not serve or send for a public BASE_URL.

    Commands that serve the web app, run workers or beat, or send mail call this first.
    """
    settings = settings_or_exit()
    try:
        check_safe_to_serve(settings)
    except ConfigError as exc:
        fail(str(exc))
    return settings


def runtime_or_exit() -> Runtime:
    """Return the runtime of this run, built once from the settings."""
    state = _state()
    if "runtime" not in state:
        state["runtime"] = build_runtime(settings_or_exit())
        click.get_current_context().find_root().call_on_close(state["runtime"].close)  # type: ignore[attr-defined]
    runtime: Runtime = state["runtime"]  # type: ignore[assignment]
    return runtime


def require_database(runtime: Runtime) -> None:
    """Exit with a one-line message when the database can't be reached."""
    from store.db import check_database

    problem = check_database(runtime.engine)
    if problem:
        fail(f"NURTURE_DATABASE_URL: {problem}")


def require_services(runtime: Runtime) -> None:
    """Exit with a one-line message when the database or Redis can't be reached."""
    from web.health import check_redis

    require_database(runtime)
    problem = check_redis(runtime.redis)
    if problem:
        fail(f"NURTURE_REDIS_URL: {problem} (expected a reachable redis://HOST:PORT/DB)")


def course_problems(runtime: Runtime, slug: str | None = None) -> list[str]:
    """Return what `nurture course check` reports for course SLUG (default: the signup one).

    A course live in the database is checked as that version; otherwise its folder.
    """
    from course.check import check_folder
    from course.loader import CourseError
    from course.review import check_content
    from emails.check import rendering_problems

    name = slug or runtime.courses.default_slug
    also = lambda course: rendering_problems(runtime.renderer, course)  # noqa: E731
    live = runtime.courses.live_hash(name)
    content = runtime.courses.content(live) if live else None
    if content is not None:
        return check_content(name, content, also=also)
    try:
        folder = runtime.courses.folder(slug)
    except CourseError as exc:
        return [str(exc)]
    return check_folder(folder, also=also)


def refuse_broken_course(runtime: Runtime, slug: str | None = None) -> None:
    """Exit with the first problem `nurture course check` would report, if any."""
    problems = course_problems(runtime, slug)
    if problems:
        fail(f"de cursus haalt de controle niet: {problems[0]} (zie `nurture course check`)")
