"""Split an article (plain text or Markdown) into lesson files, as an outline says.

The outline (TOML, read by course.outline) names the article's section headings and the day
each goes to, the lines inside a section that are sub-headings, and each day's front matter.
The article's text is copied verbatim; only its structure becomes Markdown (headings, lists).
Every problem (course.split_problems) is Dutch, names its file and line, and says how to fix it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from course.outline import LESSON_TYPES, Outline, load_outline, read_text
from course.split_problems import SplitError, SplitProblem

LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+")
# In plain text only dash-like bullets make a list; "1. " may just start a sentence.
BULLET = re.compile(r"^\s*[-*•]\s+")
MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
# A plain-text line must not turn into Markdown syntax by accident when rendered.
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~])")
MD_LINE_START = re.compile(r"^(\d*)([#>+=.)-])")


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

    @property
    def last_line(self) -> int:
        """Return the article line the block ends on."""
        return self.line + len(self.lines) - 1


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


def assign_days(blocks: list[Block], outline: Outline, article: Path) -> list[SplitProblem]:
    """Give each block its day from the outline; return what lands in no lesson or two."""
    problems: list[SplitProblem] = []
    by_heading: dict[str, dict[str, Any]] = {}
    section_of: dict[str, str] = {}  # a sub-heading's section heading
    claimed: Counter[str] = Counter()
    for entry in outline.sections:
        by_heading[entry["heading"]] = entry
        claimed.update(_named(entry))
        section_of |= {text: entry["heading"] for text in _subheadings(entry)}
    for text, count in claimed.items():
        if count > 1:
            message = (
                f'"{text}" staat {count} keer in de indeling; de tekst eronder zou in meer dan '
                "één les komen. Noem elke kop één keer, bij de dag waar zijn tekst heen moet"
            )
            problems.append(outline.problem(message, outline.line_of(text, 2), heading=text))
    first_seen: dict[str, int] = {}
    section: dict[str, Any] | None = None
    day: int | None = None
    for block in blocks:
        if block.kind == "heading" and block.text in by_heading:
            if block.text in first_seen:
                message = (
                    f'de kop "{block.text}" staat ook al op regel {first_seen[block.text]}; de '
                    "indeling kan die twee niet uit elkaar houden. Maak de koppen in het "
                    f'artikel verschillend, bijvoorbeeld "{block.text} (2)"'
                )
                problems.append(SplitProblem(article, message, block.line, heading=block.text))
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
    # Only text before the first named heading has no day: one problem for all of it.
    before = [block for block in blocks if block.day is None]
    if before:
        lines = f" (tot en met regel {before[-1].last_line})"
        lines = lines if before[-1].last_line > before[0].line else ""
        message = (
            f"de tekst vanaf {_snippet(before[0])}{lines} komt in geen enkele les: hij staat "
            "vóór de eerste kop die in de indeling een dag heeft. Geef deze tekst een kop met "
            "een dag, of haal hem weg uit het artikel"
        )
        found = SplitProblem(article, message, before[0].line, heading=before[0].text)
        problems.append(found)
    for text in claimed:
        if text not in first_seen:
            problems.append(_not_found(outline, article, text, section_of.get(text, "")))
    return problems


def _not_found(outline: Outline, article: Path, text: str, section: str) -> SplitProblem:
    """Return the problem of a heading (or SECTION's sub-heading) TEXT the article lacks."""
    if section:
        what = f'de tussenkop "{text}" staat niet als eigen regel onder de kop "{section}"'
    else:
        what = f'de kop "{text}" staat niet als eigen regel'
    message = (
        f"{what} in het artikel ({article.name}); neem hem precies zo over uit het artikel "
        "(let op hoofdletters en leestekens), of haal hem uit de indeling"
    )
    return outline.problem(message, outline.line_of(text), heading=text)


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


def _days_without_lesson(
    blocks: list[Block], outline: Outline, article: Path
) -> list[SplitProblem]:
    """Return a problem for each day the outline sends a heading to but has no [[lesson]] for."""
    lessons = {lesson["day"] for lesson in outline.lessons}
    problems: list[SplitProblem] = []
    heading = ""
    for block in blocks:
        heading = block.text if block.kind == "heading" and block.level else heading
        if block.day is None or block.day in lessons | {found.day for found in problems}:
            continue
        message = (
            f'de kop "{heading}" gaat naar dag {block.day}, maar de indeling heeft geen '
            f"[[lesson]] voor dag {block.day}: de tekst eronder (vanaf regel {block.line} van "
            f"het artikel) komt zo in geen les. Voeg een [[lesson]] met day = {block.day} toe, "
            "of geef de kop een dag die er wel is"
        )
        line = outline.line_of(heading)
        problems.append(outline.problem(message, line, heading=heading, day=block.day))
    return problems


def split_article(article: Path, outline_path: Path) -> dict[str, str]:
    """Return {lesson file name: content} for ARTICLE split as OUTLINE_PATH says."""
    outline = load_outline(outline_path)
    text = read_text(article)
    markdown = article.suffix.lower() in {".md", ".markdown"}
    headings = {text for section in outline.sections for text in _named(section)}
    blocks = read_blocks(text, markdown, headings)
    problems = outline.problems + assign_days(blocks, outline, article)
    problems += _days_without_lesson(blocks, outline, article)
    lessons = {lesson["day"]: lesson for lesson in outline.lessons}
    days = [lesson["day"] for lesson in outline.lessons]
    starts = dict(zip(days, outline.lesson_lines, strict=True))
    # Each block has exactly one day, so text can only land twice through the outline
    # (a line listed twice, a heading repeated), which assign_days reports.
    bodies: dict[int, list[str]] = {day: [] for day in lessons}
    for block in blocks:
        if block.day in bodies:
            bodies[block.day].append(_render_block(block, markdown))
    files: dict[str, str] = {}
    for day, lesson in sorted(lessons.items()):
        if not bodies[day]:
            message = (
                f"dag {day} krijgt geen tekst uit het artikel: geen kop in de indeling gaat "
                f"naar dag {day}. Geef een kop dag {day}, of haal de les voor dag {day} "
                "([[lesson]]) weg"
            )
            problems.append(outline.problem(message, starts[day], day=day))
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
