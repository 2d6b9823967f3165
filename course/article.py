"""A new course from a pasted article: split it as the outline says, with its coverage report.

The studio's article page calls this with the texts from its form; it runs the same
splitter as `nurture course split` (course.split) on them, written to a temporary folder.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from course.content import OUTLINE_FILE, Content, read_folder
from course.coverage import Coverage, coverage
from course.loader import CourseError
from course.split import MD_HEADING, SplitError, split_article, write_lessons

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
LESSON_TEXTS = ("subject", "preheader", "teaser")
# A plain-text line that may be a heading: short, and not ending like a sentence.
HEADING_LIKE = re.compile(r"^[^\s.!?][^\n]{0,80}[^.!?,;:\s]$")


def split_pasted(
    article: str, outline: str, *, markdown: bool, settings: dict[str, Any]
) -> tuple[Content, Coverage]:
    """Split ARTICLE by OUTLINE (TOML) into a course with SETTINGS; return it and its coverage.

    Raises SplitError with every problem (file names read "artikel" and "outline").
    """
    with tempfile.TemporaryDirectory(prefix="nurture-article-") as tmp:
        folder = Path(tmp)
        source = folder / ("artikel.md" if markdown else "artikel.txt")
        source.write_text(article, encoding="utf-8")
        outline_path = folder / OUTLINE_FILE
        outline_path.write_text(outline, encoding="utf-8")
        course = folder / "cursus"
        try:
            files = split_article(source, outline_path)
            write_lessons(files, course)
            (course / "course.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
            (course / OUTLINE_FILE).write_text(outline, encoding="utf-8")
            content = read_folder(course)
        except SplitError as exc:
            raise SplitError([_plain(problem, folder) for problem in exc.problems]) from None
        except CourseError as exc:
            raise SplitError([_plain(str(exc), folder)]) from None
    bodies = [str(lesson["body"]) for lesson in content["lessons"]]
    return content, coverage(article, bodies)


def _plain(problem: str, folder: Path) -> str:
    return problem.replace(str(folder / "cursus") + "/", "").replace(str(folder) + "/", "")


def find_headings(article: str, *, markdown: bool) -> list[str]:
    """Return the lines of ARTICLE that may be section headings (## in Markdown; short lines)."""
    headings = []
    for line in article.splitlines():
        match = MD_HEADING.match(line) if markdown else None
        if match and len(match.group(1)) == 2:
            headings.append(match.group(2))
        elif not markdown and HEADING_LIKE.match(line.strip()):
            headings.append(line.strip())
    return headings


def outline_from_marks(marks: list[tuple[str, int]], days: dict[int, dict[str, str]]) -> str:
    """Return the outline for MARKS: (heading, day) pairs, where day 0 starts no section.

    DAYS gives each day's subject, preheader and teaser.
    """
    used = sorted({day for _, day in marks if day > 0})
    lessons = []
    for day in used:
        fields = days.get(day, {})
        lessons.append(
            f'[[lesson]]\nday = {day}\nfile = "{day:02d}-dag-{day}.md"\n'
            + "".join(f"{key} = {_toml(fields.get(key, ''))}\n" for key in LESSON_TEXTS)
        )
    sections = [
        f"[[section]]\nheading = {_toml(heading)}\nday = {day}\n"
        for heading, day in marks
        if day > 0
    ]
    return "\n".join(lessons + sections)


def suggest_marks(article: str, *, markdown: bool) -> list[tuple[str, int]]:
    """Return a start for the outline: each heading of ARTICLE begins the next day."""
    return [
        (heading, day) for day, heading in enumerate(find_headings(article, markdown=markdown), 1)
    ]


def _toml(text: str) -> str:
    """Return TEXT as a TOML string value."""
    return tomli_w.dumps({"x": text}).removeprefix("x = ").strip()
