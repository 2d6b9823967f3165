"""`nurture course`: split an article into lessons, check a course, preview its emails."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import fail, runtime_or_exit

# What the clinic reads (the course's problems and the lines around them) is Dutch; the
# commands' --help is for whoever runs the server, in English like the rest of the CLI.
STRAY = (
    "dit bestand komt niet uit deze indeling, maar hoort wel bij de cursus (elk .md-bestand "
    "in de map is een les); haal het weg als het er niet bij hoort"
)


def _folder_for(slug: str | None) -> Path:
    """Return the course folder for SLUG: a course name, a folder path, or NURTURE_COURSE."""
    from course.loader import CourseError

    if slug and Path(slug).is_dir():
        return Path(slug)
    try:
        return runtime_or_exit().courses.folder(slug)
    except CourseError as exc:
        fail(str(exc), code=1)


@click.group()
def course() -> None:
    """Course content: split an article into lessons, check a course, preview it."""


@course.command()
@click.argument("article", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--outline",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file mapping the article's headings to days, with each day's front matter.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the lesson files (default: the outline's folder).",
)
def split(article: Path, outline: Path, out: Path | None) -> None:
    """Turn ARTICLE (plain text or Markdown) into lesson files, as OUTLINE says.

    Refuses, writing nothing, when any article text would land in no lesson or in two.
    """
    from course.split import SplitError, split_article, write_lessons
    from course.wording import count_problems

    try:
        files = split_article(article, outline)
    except SplitError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        fail(f"{count_problems(len(exc.problems))}; er zijn geen lesbestanden geschreven", code=1)
    out = out or outline.parent
    for path in write_lessons(files, out):
        click.echo(str(path))
    strays = sorted(set(out.glob("*.md")) - {out / name for name in files})
    for stray in strays:
        click.echo(f"{stray}: {STRAY}", err=True)


@course.command()
@click.argument("slug", required=False)
def check(slug: str | None) -> None:
    """Lint course SLUG (a name or a folder; default NURTURE_COURSE); exit 1 on problems."""
    from course.check import check_folder
    from course.wording import count_problems
    from emails.check import rendering_problems

    folder = _folder_for(slug)
    renderer = runtime_or_exit().renderer
    problems = check_folder(folder, also=lambda course: rendering_problems(renderer, course))
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{count_problems(len(problems))} in {folder}", err=True)
        sys.exit(1)
    click.echo(f"OK: geen problemen in {folder.name}.")


@course.command()
@click.argument("slug", required=False)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the preview (default: var/preview/SLUG).",
)
def preview(slug: str | None, out: Path | None) -> None:
    """Write every lesson of SLUG as the subscriber sees it (HTML and text) plus an index."""
    from config.settings import VAR_DIR
    from course.loader import CourseError, load_course_from
    from emails.preview import write_preview

    folder = _folder_for(slug)
    try:
        loaded = load_course_from(folder)
    except CourseError as exc:
        fail(f"{exc} (zie `nurture course check`)", code=1)
    renderer = runtime_or_exit().renderer
    for path in write_preview(renderer, loaded, out or VAR_DIR / "preview" / folder.name):
        click.echo(str(path))


COMMANDS = [course]
