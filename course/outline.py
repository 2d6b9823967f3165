"""The article splitter's outline: read and validate it.

The outline (TOML; "de indeling" in the clinic's Dutch) has a [[lesson]] table per day
(its front matter and file name) and a [[section]] table per article heading that starts a
day. Every problem names the outline's line where it can, and says how to fix it in Dutch:
the clinic reads them in the studio, and `nurture course split` prints them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.split_problems import SplitError, SplitProblem
from course.wording import (
    bad_toml,
    empty,
    key_name,
    missing,
    not_utf8,
    twice,
    unknown_keys,
    unreadable,
)

LESSON_TYPES = {
    "day": int,
    "file": str,
    "subject": str,
    "preheader": str,
    "teaser": str,
    "title": str,
}
SECTION_TYPES = {"heading": str, "day": int, "subheadings": list, "subheading_days": dict}
REQUIRED = {"day", "file", "subject", "preheader", "heading"}
KEY_NAMES = {"file": "de bestandsnaam (file)", "heading": "de kop (heading)"}
TYPE_WORDS = {
    int: "moet een heel getal zijn, zonder aanhalingstekens",
    str: "moet tekst zijn, tussen aanhalingstekens",
    list: 'moet een lijst zijn, zoals ["Kop A", "Kop B"]',
    dict: "moet een tabel zijn",
}
FILE_NAME = re.compile(r"[\w.-]+\.md")
TABLE_HEADER = re.compile(r"^\s*\[\[\s*(lesson|section)\s*\]\]")
AT_LINE = re.compile(r"\(at line (\d+)")
OUTLINE = "de indeling"


@dataclass
class Outline:
    """The parsed outline file, with the line each table starts on (0: not known)."""

    path: Path
    lessons: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    problems: list[SplitProblem] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    lesson_lines: list[int] = field(default_factory=list)

    def line_of(self, text: str, nth: int = 1) -> int:
        """Return the line naming TEXT ("Training") for the NTH time, or 0."""
        quoted = [f'"{text}"', f"'{text}'"]
        seen = 0
        for number, line in enumerate(self.lines, 1):
            if any(each in line for each in quoted):
                seen += 1
                if seen == nth:
                    return number
        return 0

    def problem(self, message: str, line: int = 0, **about: Any) -> SplitProblem:
        """Return a problem of this outline at LINE, about ABOUT's heading, day or key."""
        return SplitProblem(self.path, message, line, **about)


def _ordinal(number: int, table: str) -> str:
    return f"de {number}e [[{table}]]"


def _key_line(lines: list[str], start: int, key: str) -> int:
    """Return the line of KEY in the table that starts at line START (1-based), else START."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=|^\s*\[+\s*{re.escape(key)}\b")
    for number in range(max(start, 1), len(lines) + 1):
        text = lines[number - 1]
        if number > start > 0 and TABLE_HEADER.match(text):
            break
        if pattern.match(text):
            return number
    return start


def _table_problems(
    outline: Outline, where: str, start: int, data: Any, types: dict[str, type]
) -> list[SplitProblem]:
    """Return what is wrong with one outline table: missing, unknown or mistyped keys."""
    if not isinstance(data, dict):
        return [outline.problem(f"{where} moet een tabel zijn, met regels naam = waarde", start)]
    # What the table is about, for the studio: its day and heading (a bool is no day).
    about = {key: data[key] for key in ("day", "heading") if type(data.get(key)) is types.get(key)}
    problems = []
    absent = [key for key in types if key in REQUIRED and key not in data]
    if absent:
        names = [KEY_NAMES.get(key) or key_name(key) for key in absent]
        key = absent[0] if len(absent) == 1 else ""
        problems.append(outline.problem(missing(where, names), start, key=key, **about))
    for key, value in data.items():
        line = _key_line(outline.lines, start, key)
        name = KEY_NAMES.get(key) or key_name(key)
        if key not in types:
            message = unknown_keys(where, [key], list(types))
            problems.append(outline.problem(message, line, **about))
        elif not isinstance(value, types[key]) or isinstance(value, bool):
            message = f"{name} in {where} {TYPE_WORDS[types[key]]}"
            problems.append(outline.problem(message, line, key=key, **about))
        elif key == "day" and isinstance(value, int) and value < 1:
            message = f"{name} in {where} moet een heel getal zijn, vanaf 1"
            problems.append(outline.problem(message, line, key=key, **about))
    return problems


def read_text(path: Path) -> str:
    """Return the text of PATH (UTF-8, a BOM allowed), raising SplitError naming it."""
    try:
        raw = path.read_bytes()
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SplitError([SplitProblem(path, not_utf8(exc.start), line)]) from None
    except OSError as exc:
        raise SplitError([SplitProblem(path, unreadable(str(exc.strerror)))]) from None


def load_outline(path: Path) -> Outline:
    """Read and validate an outline file, raising SplitError naming it."""
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = AT_LINE.search(str(exc))
        found = SplitProblem(path, bad_toml(OUTLINE, str(exc)), int(at.group(1)) if at else 0)
        raise SplitError([found]) from None
    outline = Outline(path, [], [], lines=text.splitlines())
    problems = _top_problems(outline, data)
    if problems:
        raise SplitError(problems)
    outline.lessons, outline.sections = data["lesson"], data["section"]
    starts: dict[str, list[int]] = {"lesson": [], "section": []}
    for number, line in enumerate(outline.lines, 1):
        header = TABLE_HEADER.match(line)
        if header:
            starts[header.group(1)].append(number)
    for table, entries, types in (
        ("lesson", outline.lessons, LESSON_TYPES),
        ("section", outline.sections, SECTION_TYPES),
    ):
        lines = starts[table] if len(starts[table]) == len(entries) else [0] * len(entries)
        for number, (entry, start) in enumerate(zip(entries, lines, strict=True), 1):
            where = _ordinal(number, table)
            problems += _table_problems(outline, where, start, entry, types)
            if table == "lesson" and isinstance(entry, dict):
                problems += _file_problems(outline, where, start, entry)
            if table == "section" and isinstance(entry, dict):
                problems += _subheading_problems(outline, where, start, entry)
    if problems:
        raise SplitError(problems)
    same = len(starts["lesson"]) == len(outline.lessons)
    outline.lesson_lines = starts["lesson"] if same else [0] * len(outline.lessons)
    # Empty texts and doubled days don't stop the split: it goes on to find the rest.
    outline.problems = _empty_texts(outline) + _doubled_lessons(outline)
    return outline


def _empty_texts(outline: Outline) -> list[SplitProblem]:
    """Return a problem for each [[lesson]] text the loader needs and the outline leaves empty."""
    problems = []
    for lesson, start in zip(outline.lessons, outline.lesson_lines, strict=True):
        for key in ("subject", "preheader"):
            if not lesson[key].strip():
                name = KEY_NAMES.get(key) or key_name(key)
                line = _key_line(outline.lines, start, key)
                problems.append(outline.problem(empty(name), line, day=lesson["day"], key=key))
    return problems


def _top_problems(outline: Outline, data: dict[str, Any]) -> list[SplitProblem]:
    """Return what is wrong with the outline as a whole: no lessons, no sections, other keys."""
    problems = []
    for key in ("lesson", "section"):
        if key in data and not isinstance(data[key], list):
            message = (
                f"{key} moet een lijst van tabellen zijn: schrijf [[{key}]], met dubbele haken, "
                "boven de regels van elke tabel"
            )
            problems.append(outline.problem(message, _key_line(outline.lines, 0, key)))
    if "lesson" not in data or data["lesson"] == []:
        problems.append(
            outline.problem(
                f"{OUTLINE} heeft geen lessen: zet voor elke dag een [[lesson]] met day, file, "
                "subject en preheader"
            )
        )
    if "section" not in data or data["section"] == []:
        problems.append(
            outline.problem(
                f"{OUTLINE} noemt geen koppen: zet voor elke kop van het artikel die een dag "
                "begint een [[section]] met heading (de kop, precies zoals in het artikel) en day"
            )
        )
    unknown = [key for key in data if key not in ("lesson", "section")]
    for key in unknown:
        message = unknown_keys(OUTLINE, [key], ["lesson", "section"])
        problems.append(outline.problem(message, _key_line(outline.lines, 0, key)))
    return problems


def _file_problems(
    outline: Outline, where: str, start: int, lesson: dict[str, Any]
) -> list[SplitProblem]:
    name = lesson.get("file")
    # The name becomes a path in --out, so it must not climb out of that folder.
    if not isinstance(name, str) or FILE_NAME.fullmatch(name):
        return []
    message = (
        f"{KEY_NAMES['file']} in {where} moet een gewone naam op .md zijn, zoals "
        '"01-rugpijn.md": letters, cijfers, - en _, zonder map of /'
    )
    day = lesson["day"] if isinstance(lesson.get("day"), int) else 0
    return [outline.problem(message, _key_line(outline.lines, start, "file"), day=day)]


def _subheading_problems(
    outline: Outline, where: str, start: int, section: dict[str, Any]
) -> list[SplitProblem]:
    texts = [*section.get("subheadings", []), *section.get("subheading_days", {})]
    days = list(section.get("subheading_days", {}).values())
    if all(isinstance(text, str) for text in texts) and all(
        isinstance(day, int) and not isinstance(day, bool) and day >= 1 for day in days
    ):
        return []
    message = (
        f"de tussenkoppen in {where} moeten tekst zijn (subheadings), en hun dagen hele "
        "getallen vanaf 1 (subheading_days)"
    )
    return [outline.problem(message, start)]


def _doubled_lessons(outline: Outline) -> list[SplitProblem]:
    """Return a problem for each [[lesson]] whose day or file an earlier one has already."""
    problems = []
    first: dict[tuple[str, Any], int] = {}
    for lesson, line in zip(outline.lessons, outline.lesson_lines, strict=True):
        for key in ("day", "file"):
            value = lesson[key]
            if (key, value) not in first:
                first[key, value] = line
                continue
            other = f"de [[lesson]] op regel {first[key, value]}" if first[key, value] else ""
            other = other or "een andere [[lesson]]"
            if key == "day":
                message = twice(value, other)
            else:
                message = (
                    f'de bestandsnaam "{value}" komt twee keer voor (ook in {other}); '
                    "geef elke les een eigen bestand"
                )
            problems.append(outline.problem(message, line, day=lesson["day"], key=key))
    return problems
