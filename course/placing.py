"""Where each of the check's problems belongs: a lesson's field, a setting, or the whole course.

The studio shows a problem next to the field it is about. The check's problems name a file
and a line ("slug/03-doortrainen.md:4: ..."), and the files are the draft written out
(course.content.content_files), so the line says which front matter key or course.toml key
it is, whatever the wording. A front matter key that is missing has no line of its own: its
message names it in brackets, "het onderwerp (subject) ontbreekt" (course.wording).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from course.content import LESSON_FIELDS, Content, content_files

COURSE_TOML = "course.toml"
LOCATED = re.compile(r"^(?P<path>[^:\s]+?)(?::(?P<line>\d+))?: (?P<message>.*)$", re.DOTALL)
FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
TOML_KEY = re.compile(r"^\s*([\w-]+)\s*=")
TOML_TABLE = re.compile(r"^\s*\[([\w.-]+)\]\s*$")
BODY = "body"


@dataclass(frozen=True)
class Placed:
    """One problem and where it belongs.

    FILE is "course.toml", a lesson's file name, or "" (no file of the course: the course
    itself, or a mail template). KEY is a front matter key or BODY in a lesson; a dotted
    course.toml key ("cta.url", "title"); or "" when no single key is meant. DAY is a lesson's.
    """

    problem: str
    message: str
    file: str = ""
    keys: tuple[str, ...] = ()
    day: int | None = None

    @property
    def whole_course(self) -> bool:
        """Tell whether this is about the course rather than one lesson: settings, days."""
        return self.file in ("", COURSE_TOML) or "day" in self.keys


def place_problems(slug: str, content: Content, problems: list[str]) -> list[Placed]:
    """Return where each of PROBLEMS (the check's, of SLUG's CONTENT) belongs, in order."""
    files = content_files(content)
    days = {f"{lesson['name']}.md": int(lesson["day"]) for lesson in content["lessons"]}
    return [_place(slug, files, days, problem) for problem in problems]


def _place(slug: str, files: dict[str, str], days: dict[str, int], problem: str) -> Placed:
    found = LOCATED.match(problem)
    if not found:
        return Placed(problem, problem)
    path, message = found["path"], found["message"]
    name = path.removeprefix(f"{slug}/") if path.startswith(f"{slug}/") else ""
    if name not in files:
        return Placed(problem, message)
    line = int(found["line"] or 0)
    lines = files[name].splitlines()
    if name == COURSE_TOML:
        key = toml_key_at(lines, line)
        return Placed(problem, message, name, (key,) if key else ())
    keys = _lesson_keys(lines, line, message)
    return Placed(problem, message, name, keys, days.get(name))


def _lesson_keys(lines: list[str], line: int, message: str) -> tuple[str, ...]:
    """Return the front matter key on LINE (1-based), else the keys MESSAGE names, else body."""
    end = next((n for n in range(1, len(lines)) if lines[n].strip() == "---"), len(lines))
    if line > end + 1:
        return (BODY,)
    # Between the two --- lines (1-based 2..end); a long value may wrap onto later lines.
    for index in range(line - 1 if 1 < line <= end else 0, 0, -1):
        key = FRONT_KEY.match(lines[index])
        if key:
            return (key.group(1),)
    named = tuple(key for key in LESSON_FIELDS if f"({key})" in message)
    return named or (BODY,)


def toml_key_at(lines: list[str], line: int) -> str:
    """Return the dotted key set on LINE (1-based) of a course.toml, or its table's name."""
    table, key = "", ""
    for text in lines[: max(line, 0)]:
        header, assignment = TOML_TABLE.match(text), TOML_KEY.match(text)
        if header:
            table, key = header.group(1), ""
        elif assignment:
            key = assignment.group(1)
    return ".".join(part for part in (table, key) if part)


def toml_line(text: str, dotted: str) -> int:
    """Return the line of course.toml TEXT that sets DOTTED ("consent.version"), else 1."""
    lines = text.splitlines()
    for number in range(1, len(lines) + 1):
        if TOML_KEY.match(lines[number - 1]) and toml_key_at(lines, number) == dotted:
            return number
    return 1
