"""A new course from a pasted article: split it as the outline says, with its coverage report.

The studio's article page calls this with the texts from its form; it runs the same
splitter as `nurture course split` (course.split) on them, written to a temporary folder.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli_w

from course.content import OUTLINE_FILE, Content, read_folder
from course.coverage import Coverage, coverage
from course.loader import CourseError
from course.outline import Outline, load_outline
from course.split import MD_HEADING, split_article, write_lessons
from course.split_problems import SplitError, SplitProblem
from course.wording import dutch_list

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
LOCATED = re.compile(r"^(?P<name>[^:\s]+?)(?::(?P<line>\d+))?: (?P<message>.*)$", re.DOTALL)
LESSON_DAY = re.compile(r"^day:\s*(\d+)\s*$", re.MULTILINE)
ARTICLE = "artikel"  # the pasted article's file name in problems: artikel.txt or artikel.md
EMPTY_OUTLINE = (
    'de indeling is nog leeg: klik op "Indeling voorstellen" en geef in de tabel minstens één '
    "kop een dag, of schrijf de indeling als tekst"
)
LESSON_TEXTS = ("subject", "preheader", "teaser")
# A plain-text line that may be a heading: short, and not ending like a sentence.
HEADING_LIKE = re.compile(r"^[^\s.!?][^\n]{0,80}[^.!?,;:\s]$")


def split_pasted(
    article: str, outline: str, *, markdown: bool, settings: dict[str, Any]
) -> tuple[Content, Coverage]:
    """Split ARTICLE by OUTLINE (TOML) into a course with SETTINGS; return it and its coverage.

    Raises SplitError with every problem; they name the files "artikel.txt" (or .md) and
    "outline.toml", as the page calls them.
    """
    source_name = ARTICLE + (".md" if markdown else ".txt")
    if not outline.strip():
        raise SplitError([SplitProblem(Path(OUTLINE_FILE), EMPTY_OUTLINE)])
    with tempfile.TemporaryDirectory(prefix="nurture-article-") as tmp:
        folder = Path(tmp)
        source = folder / source_name
        source.write_text(article, encoding="utf-8")
        outline_path = folder / OUTLINE_FILE
        outline_path.write_text(outline, encoding="utf-8")
        course = folder / "cursus"
        files: dict[str, str] = {}
        try:
            files = split_article(source, outline_path)
            _check_days(load_outline(outline_path))
            write_lessons(files, course)
            (course / "course.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
            (course / OUTLINE_FILE).write_text(outline, encoding="utf-8")
            content = read_folder(course)
        except SplitError as exc:
            found = [replace(problem, path=Path(problem.path.name)) for problem in exc.found]
            raise SplitError(found) from None
        except CourseError as exc:
            raise SplitError([_course_problem(str(exc), folder, files)]) from None
    bodies = [str(lesson["body"]) for lesson in content["lessons"]]
    return content, coverage(article, bodies)


def _check_days(outline: Outline) -> None:
    """Refuse lesson days that don't run 1..N, as a course must (the CLI leaves that to check)."""
    days = sorted({int(lesson["day"]) for lesson in outline.lessons})
    gap = next((day for day in range(1, len(days) + 1) if day not in days), None)
    if gap is not None:
        message = (
            f"dag {gap} ontbreekt: de dagen moeten doorlopen vanaf 1, maar de indeling heeft "
            f"dag {dutch_list([str(day) for day in days])}. Geef een kop dag {gap}, of "
            "nummer de dagen opnieuw zonder gat"
        )
        raise SplitError([outline.problem(message, day=gap)])


def _course_problem(message: str, folder: Path, files: dict[str, str]) -> SplitProblem:
    """Return the loader's MESSAGE about the split course as a problem of the lesson's day."""
    plain = message.replace(str(folder / "cursus") + "/", "").replace(str(folder) + "/", "")
    found = LOCATED.match(plain)
    if not found:
        return SplitProblem(Path(""), plain)
    day = LESSON_DAY.search(files.get(found["name"], ""))
    return SplitProblem(
        Path(found["name"]),
        found["message"],
        int(found["line"] or 0),
        day=int(day.group(1)) if day else 0,
    )


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
