"""Split an article (plain text or Markdown) into lesson files, as an outline says.

The outline (TOML) names the article's section headings and the day each goes to, the
lines inside a section that are sub-headings, and each day's front matter. The article's
text is copied verbatim; only its structure becomes Markdown (headings, lists).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LESSON_TYPES = {
    "day": int,
    "file": str,
    "subject": str,
    "preheader": str,
    "teaser": str,
    "title": str,
}
SECTION_TYPES = {"heading": str, "day": int, "subheadings": list, "subheading_days": dict}
REQUIRED = {"lesson", "section", "day", "file", "subject", "preheader", "heading"}
LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+")
# In plain text only dash-like bullets make a list; "1. " may just start a sentence.
BULLET = re.compile(r"^\s*[-*•]\s+")
MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
# A plain-text line must not turn into Markdown syntax by accident when rendered.
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~])")
MD_LINE_START = re.compile(r"^(\d*)([#>+=.)-])")


class SplitError(Exception):
    """The article and outline don't split cleanly; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem; the message is the first."""
        super().__init__(problems[0] if problems else "split failed")
        self.problems = problems


@dataclass
class Block:
    """One unit of article text: a heading, a paragraph or a list, and where it starts."""

    kind: str  # "heading", "para", "list" (or "blank" while reading)
    lines: list[str]
    line: int
    words: str = ""  # a heading's text without Markdown's #
    day: int | None = None
    level: int = 0  # 2 for a section heading, 3 for a sub-heading

    @property
    def text(self) -> str:
        """Return the block's text on one line."""
        return self.words or " ".join(line.strip() for line in self.lines)


@dataclass
class Outline:
    """The parsed outline file."""

    path: Path
    lessons: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


def _table_problems(path: Path, where: str, data: Any, types: dict[str, type]) -> list[str]:
    """Return what is wrong with one outline table: missing, unknown or mistyped keys."""
    if not isinstance(data, dict):
        return [f"{path}: {where} must be a table"]
    problems = [f"{path}: {where} is missing {key}" for key in types if key in REQUIRED]
    problems = [problem for problem in problems if problem.rsplit(" ", 1)[1] not in data]
    for key, value in data.items():
        if key not in types:
            allowed = ", ".join(types)
            problems.append(f"{path}: {where} has unknown key {key} (allowed: {allowed})")
        elif not isinstance(value, types[key]) or isinstance(value, bool):
            problems.append(f"{path}: {where} {key} must be {types[key].__name__}")
    return problems


def load_outline(path: Path) -> Outline:
    """Read and validate an outline file, raising SplitError naming it."""
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SplitError([f"{path}: cannot read the outline: {exc}"]) from None
    problems = _table_problems(path, "the outline", data, {"lesson": list, "section": list})
    lessons, sections = data.get("lesson", []), data.get("section", [])
    for number, lesson in enumerate(lessons, 1):
        problems += _table_problems(path, f"[[lesson]] #{number}", lesson, LESSON_TYPES)
        name = lesson.get("file", "x.md") if isinstance(lesson, dict) else "x.md"
        # The name becomes a path in --out, so it must not climb out of that folder.
        if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+\.md", name):
            problems.append(f"{path}: [[lesson]] #{number} file must be a plain NAME.md")
    for number, section in enumerate(sections, 1):
        where = f"[[section]] #{number}"
        problems += _table_problems(path, where, section, SECTION_TYPES)
        if isinstance(section, dict):
            texts = [*section.get("subheadings", []), *section.get("subheading_days", {})]
            days = list(section.get("subheading_days", {}).values())
            if not all(isinstance(text, str) for text in texts) or not all(
                isinstance(day, int) for day in days
            ):
                problems.append(f"{path}: {where} sub-headings must be text, their days numbers")
    if problems:
        raise SplitError(problems)
    for key in ("day", "file"):
        for value, count in Counter(lesson[key] for lesson in lessons).items():
            if count > 1:
                problems.append(f"{path}: two [[lesson]] tables have {key} = {value!r}")
    return Outline(path, lessons, sections, problems)


def _escape(text: str) -> str:
    """Return plain TEXT as Markdown that renders as exactly that text."""
    text = MD_SPECIAL.sub(r"\\\1", text)
    # "1." would start a numbered list: escape the dot, not the digit.
    return MD_LINE_START.sub(r"\1\\\2", text, count=1)


def read_blocks(text: str, markdown: bool, headings: set[str]) -> list[Block]:
    """Cut article TEXT into blocks; lines naming one of HEADINGS may become headings."""
    blocks: list[Block] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        previous = blocks[-1] if blocks else None
        heading = MD_HEADING.match(line) if markdown else None
        item = (LIST_ITEM if markdown else BULLET).match(line)
        words = heading.group(2) if heading else line.strip()
        if not line.strip():
            blocks.append(Block("blank", [], number))
        elif words in headings and (heading or not markdown or not item):
            blocks.append(Block("heading", [line], number, words=words))
        elif item or (markdown and previous and previous.kind == "list"):
            if previous and previous.kind == "list":
                previous.lines.append(line)
            else:
                blocks.append(Block("list", [line], number))
        elif markdown and previous and previous.kind == "para" and not heading:
            previous.lines.append(line)
        else:
            blocks.append(Block("para", [line], number))
    return [block for block in blocks if block.kind != "blank"]


def _snippet(block: Block) -> str:
    text = block.text
    return f'"{text[:60]}…"' if len(text) > 60 else f'"{text}"'


def assign_days(blocks: list[Block], outline: Outline, article: Path) -> list[str]:
    """Give each block its day from the outline; return what lands in no lesson or two."""
    problems: list[str] = []
    by_heading: dict[str, dict[str, Any]] = {}
    claimed: Counter[str] = Counter()
    for entry in outline.sections:
        by_heading[entry["heading"]] = entry
        claimed.update(_named(entry))
    for text, count in claimed.items():
        if count > 1:
            problems.append(
                f'{outline.path}: "{text}" is listed {count} times; its text would land in '
                "more than one lesson"
            )
    first_seen: dict[str, int] = {}
    section: dict[str, Any] | None = None
    day: int | None = None
    for block in blocks:
        if block.kind == "heading" and block.text in by_heading:
            if block.text in first_seen:
                problems.append(
                    f"{article}:{block.line}: heading {_snippet(block)} appears again "
                    f"(first at line {first_seen[block.text]}); the outline can't tell them apart"
                )
            first_seen.setdefault(block.text, block.line)
            section = by_heading[block.text]
            day, block.level = section["day"], 2
        elif section is not None and block.text in _subheadings(section):
            first_seen.setdefault(block.text, block.line)
            day = section.get("subheading_days", {}).get(block.text, section["day"])
            block.kind, block.level = "heading", 3
        elif block.kind == "heading":
            block.kind, block.words = "para", ""  # a known line outside its section
        block.day = day
        if day is None:
            problems.append(
                f"{article}:{block.line}: {_snippet(block)} lands in no lesson "
                "(it comes before the first heading the outline names)"
            )
    for text in claimed:
        if text not in first_seen:
            problems.append(
                f'{outline.path}: "{text}" is not a line of {article.name} (inside its section)'
            )
    return problems


def _subheadings(section: dict[str, Any]) -> list[str]:
    return [*section.get("subheadings", []), *section.get("subheading_days", {})]


def _named(section: dict[str, Any]) -> list[str]:
    return [section["heading"], *_subheadings(section)]


def _render_block(block: Block, markdown: bool) -> str:
    if block.kind == "heading" and block.level:
        words = block.text if markdown else _escape(block.text)
        return "#" * block.level + " " + words
    if markdown:
        return "\n".join(block.lines)
    if block.kind == "list":
        return "\n".join("- " + _escape(BULLET.sub("", line, count=1)) for line in block.lines)
    return _escape(block.text)


def _front_matter(lesson: dict[str, Any], outline: Path) -> str:
    meta = {key: lesson[key] for key in LESSON_TYPES if key != "file" and lesson.get(key)}
    dumped = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    note = f"# Made by `nurture course split` with {outline.name}: edit that, then re-run.\n"
    return f"---\n{note}{dumped}---\n"


def split_article(article: Path, outline_path: Path) -> dict[str, str]:
    """Return {lesson file name: content} for ARTICLE split as OUTLINE_PATH says."""
    outline = load_outline(outline_path)
    try:
        text = article.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SplitError([f"{article}: cannot read the article: {exc}"]) from None
    markdown = article.suffix.lower() in {".md", ".markdown"}
    headings = {text for section in outline.sections for text in _named(section)}
    blocks = read_blocks(text, markdown, headings)
    problems = outline.problems + assign_days(blocks, outline, article)
    lessons = {lesson["day"]: lesson for lesson in outline.lessons}
    for block in blocks:
        if block.day is not None and block.day not in lessons:
            problems.append(
                f"{article}:{block.line}: {_snippet(block)} lands in no lesson "
                f"(the outline has no [[lesson]] for day {block.day})"
            )
    # Each block has exactly one day, so text can only land twice through the outline
    # (a line listed twice, a heading repeated), which assign_days reports.
    bodies: dict[int, list[str]] = {day: [] for day in lessons}
    for block in blocks:
        if block.day in bodies:
            bodies[block.day].append(_render_block(block, markdown))
    files: dict[str, str] = {}
    for day, lesson in sorted(lessons.items()):
        if not bodies[day]:
            problems.append(f"{outline_path}: day {day} gets no article text")
        body = "\n\n".join(bodies[day])
        files[lesson["file"]] = f"{_front_matter(lesson, outline_path)}\n{body}\n"
    if problems:
        raise SplitError(problems)
    return files


def write_lessons(files: dict[str, str], out: Path) -> list[Path]:
    """Write FILES into OUT and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        path = out / name
        path.write_bytes(content.encode("utf-8"))
        paths.append(path)
    return paths
