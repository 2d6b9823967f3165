"""`nurture course import|export|publish|versions|diff|revert`: courses in the database.

The folder format is how a course comes in and goes out; the database holds its versions.
Publish and revert refuse, with the reasons in Dutch, what the studio would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from cli.common import fail, require_database, runtime_or_exit
from cli.course_cmds import course
from runtime import Runtime

T = TypeVar("T")

CHOICE_OPTIONS = [
    click.option(
        "--finish-on-old",
        "choice",
        flag_value="old",
        help="People waiting for a removed or renumbered day finish on the old version.",
    ),
    click.option(
        "--skip-removed",
        "choice",
        flag_value="skip",
        help="People waiting for a removed day follow the new version and skip that day.",
    ),
]


def _with_choice(function: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(CHOICE_OPTIONS):
        function = option(function)
    return function


def _run(action: Callable[[Runtime], T]) -> T:
    """Run ACTION on the runtime; a refusal or a broken course becomes a one-line error."""
    from course.loader import CourseError
    from subscribers.studio import PublishRefused

    runtime = runtime_or_exit()
    require_database(runtime)
    try:
        return action(runtime)
    except PublishRefused as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        fail("niet gepubliceerd", code=1)
    except CourseError as exc:
        fail(str(exc), code=1)


@course.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--slug", help="Course name in the database (default: the folder's name).")
def import_(folder: Path, slug: str | None) -> None:
    """Import the course FOLDER: a new course goes live, an existing one becomes its draft."""
    from subscribers.audit import cli_actor
    from subscribers.studio import import_course

    name = slug or folder.name
    status, digest = _run(lambda rt: import_course(rt, folder, author=cli_actor(), slug=slug))
    messages = {
        "live": f"{name}: imported as version 1, live now ({digest[:12]}).",
        "draft": f"{name}: imported as the draft ({digest[:12]}); "
        f"publish it with `nurture course publish {name}`.",
        "unchanged": f"{name}: already live with this content ({digest[:12]}).",
    }
    click.echo(messages[status])


@course.command()
@click.argument("slug")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "number", type=int, help="Version number (default: the live one).")
def export(slug: str, folder: Path, number: int | None) -> None:
    """Write course SLUG's live version (or --version N) as a course folder FOLDER."""
    from subscribers.studio import export_course

    digest, files = _run(lambda rt: export_course(rt, slug, folder, number=number))
    for path in files:
        click.echo(str(path))
    click.echo(f"{slug}: exported {digest[:12]} to {folder}.")


@course.command()
@click.argument("slug")
@click.option("--note", help="What changed, for the history.")
@_with_choice
def publish(slug: str, note: str | None, choice: str | None) -> None:
    """Publish SLUG's draft: live for new sends at once, no restart needed."""
    from subscribers.audit import cli_actor
    from subscribers.studio import publish as publish_draft

    done = _run(lambda rt: publish_draft(rt, slug, author=cli_actor(), choice=choice, note=note))
    _report(slug, done)


@course.command()
@click.argument("slug")
@click.argument("number", type=int)
@_with_choice
def revert(slug: str, number: int, choice: str | None) -> None:
    """Publish version NUMBER of SLUG again, as a new version."""
    from subscribers.audit import cli_actor
    from subscribers.studio import revert as revert_to

    _report(slug, _run(lambda rt: revert_to(rt, slug, number, author=cli_actor(), choice=choice)))


@course.command()
@click.argument("slug")
def versions(slug: str) -> None:
    """List SLUG's versions, newest first; * marks the live one."""
    from subscribers.studio import versions as list_versions

    found = _run(lambda rt: list_versions(rt, slug))
    if not found:
        fail(f"{slug}: no versions in the database (run `nurture course import`)", code=1)
    for info in found:
        mark = "*" if info.live else " "
        note = f"  {info.note}" if info.note else ""
        when = info.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{mark} {info.number:>3}  {info.content_hash[:12]}  {when}  {info.author}{note}"
        )


@course.command()
@click.argument("slug")
@click.argument("old")
@click.argument("new")
def diff(slug: str, old: str, new: str) -> None:
    """Show what changed from version OLD to NEW (numbers, `live` or `concept`)."""
    from subscribers.studio import diff as diff_versions

    changes = _run(lambda rt: diff_versions(rt, slug, old, new))
    if not changes:
        click.echo(f"{slug}: {old} and {new} have the same content.")
    for change in changes:
        for line in change.lines:
            click.echo(line)


def _report(slug: str, done: object) -> None:
    from subscribers.studio import Published

    assert isinstance(done, Published)
    info = done.version
    click.echo(f"{slug}: version {info.number} ({info.content_hash[:12]}) is live.")
    if done.moved_days:
        out = done.outcome
        click.echo(
            f"Days {', '.join(map(str, done.moved_days))} removed or renumbered: "
            f"{out.kept_on_old} finish on the old version, {out.follow_new} follow the new "
            f"one, {out.completed} completed."
        )


COMMANDS: list[click.Command] = []
