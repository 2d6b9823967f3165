"""Lint a course folder: every problem as "path:line: message" (in Dutch), so the clinic can fix it.

The check reads each lesson on its own (so one broken file doesn't hide the others), then
the whole course through the loader. Rendering every lesson as it will be sent is the email
layer's check (emails.check); callers pass it in as `also`, so this module stays below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markdown_it import MarkdownIt
from markdown_it.token import Token

from course.loader import (
    Course,
    CourseError,
    Lesson,
    load_course_from,
    load_lesson,
    split_front_matter,
)
from course.wording import LESSON_KEY_NAMES, NO_LESSONS, key_name, twice

SUBJECT_MAX = 70
PREHEADER_MAX = 140
LOCATED = re.compile(r"^.+?:\d+: ")
BARE_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
RAW_HTML = "HTML-code kan hier niet; gebruik Markdown, zoals **vet** of [tekst](https://…)"
# html on, so raw HTML is found (the email renderer would show it as text).
_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


CourseCheck = Callable[[Course], list[str]]


def check_folder(folder: Path, also: CourseCheck | None = None) -> list[str]:
    """Return the problems of the course in FOLDER, plus those ALSO finds in a loadable course."""
    problems: list[str] = []
    lessons: list[Lesson] = []
    broken: list[Path] = []
    for path in sorted(folder.glob("*.md")):
        try:
            lessons.append(load_lesson(path))
        except CourseError as exc:
            problems.append(locate(str(exc)))
            broken.append(path)
    problems += _check_days(folder, lessons, broken)
    last_day = max((lesson.day for lesson in lessons), default=0)
    for lesson in lessons:
        problems += _check_lesson(lesson, lesson.day == last_day)
    try:
        course = load_course_from(folder)
    except CourseError as exc:
        message = locate(str(exc))
        # Lesson errors were reported above, file by file; add only what is new.
        if not problems or message.startswith(str(folder / "course.toml")):
            problems.append(message)
        return problems
    return problems + _check_settings(course) + (also(course) if also else [])


def locate(message: str) -> str:
    """Return a loader MESSAGE as "path:line: message", finding the line where it can."""
    if LOCATED.match(message):
        return message
    path_text, _, rest = message.partition(": ")
    path = Path(path_text)
    if not rest or not path.is_file():
        return message
    return f"{path}:{_line_for(path, rest)}: {rest}"


def _line_for(path: Path, message: str) -> int:
    """Guess the line MESSAGE is about: a byte offset, else the first key it names."""
    raw = path.read_bytes()
    offset = re.search(r"\(byte (\d+)\)", message)
    if offset:
        return raw[: int(offset.group(1))].count(b"\n") + 1
    at_line = re.search(r"\(at line (\d+)", message)  # tomllib's way of saying where
    if at_line:
        return int(at_line.group(1))
    lines = raw.decode("utf-8", "replace").splitlines()
    start = 0
    table = re.search(r"\[(\w+)\]", message)
    if table:
        start = next((n for n, line in enumerate(lines) if line.strip() == table.group(0)), 0)
    # Not the list of allowed keys, which names keys that are there.
    words = re.findall(r"[\w-]+", message.split("(toegestaan", 1)[0])
    for word in words:
        key = re.compile(rf"^\s*{re.escape(word)}\s*[:=]")
        for number in range(start, len(lines)):
            if key.match(lines[number]):
                return number + 1
    return start + 1


def _key_line(lesson: Lesson, key: str) -> int:
    lines = lesson.path.read_text(encoding="utf-8-sig").splitlines()
    pattern = re.compile(rf"^{key}\s*:")
    return next((n + 1 for n, line in enumerate(lines) if pattern.match(line)), 1)


def _check_days(folder: Path, lessons: list[Lesson], broken: list[Path]) -> list[str]:
    """Report duplicate days and gaps in 1..N (a BROKEN file's day line still counts)."""
    if not lessons:
        return [] if broken else [f"{folder}: {NO_LESSONS}"]
    problems = []
    seen: dict[int, Lesson] = {}
    for lesson in sorted(lessons, key=lambda lesson: (lesson.day, lesson.path.name)):
        if lesson.day in seen:
            problems.append(
                f"{lesson.path}:{_key_line(lesson, 'day')}: "
                f"{twice(lesson.day, seen[lesson.day].path.name)}"
            )
        seen.setdefault(lesson.day, lesson)
    # An unreadable file is reported already; don't also call its day missing.
    claimed = set(seen)
    for path in broken:
        found = re.search(rb"^day:\s*(\d+)\s*$", path.read_bytes(), re.MULTILINE)
        claimed.update([int(found.group(1))] if found else [])
    for day in range(1, max(seen) + 1):
        if day in claimed:
            continue
        after = seen[min(d for d in seen if d > day)]
        problems.append(
            f"{after.path}:{_key_line(after, 'day')}: dag {day} ontbreekt; de dagen moeten "
            f"zonder gat doorlopen vanaf 1 (dit bestand is dag {after.day})"
        )
    return problems


def _check_lesson(lesson: Lesson, last: bool) -> list[str]:
    """Check one lesson's front matter lengths, teaser and Markdown body."""
    problems = []
    where = lesson.path
    for key, limit in (("subject", SUBJECT_MAX), ("preheader", PREHEADER_MAX)):
        value, name = getattr(lesson, key), LESSON_KEY_NAMES[key]
        if not value:
            problems.append(f"{where}:{_key_line(lesson, key)}: {name} is leeg; vul het in")
        elif len(value) > limit:
            problems.append(
                f"{where}:{_key_line(lesson, key)}: {name} is {len(value)} tekens; "
                f"houd het op {limit} of minder"
            )
    if not last and not lesson.teaser:
        problems.append(
            f"{where}:1: {key_name('teaser')} ontbreekt; schrijf één zin die de les van "
            "morgen aankondigt"
        )
    if last and lesson.teaser:
        problems.append(
            f"{where}:{_key_line(lesson, 'teaser')}: dit is de laatste les, er komt geen "
            f"volgende; laat {key_name('teaser')} leeg"
        )
    _, body, body_line = split_front_matter(where, where.read_text(encoding="utf-8-sig"))
    for line, message in markdown_problems(body):
        problems.append(f"{where}:{body_line + line}: {message}")
    return problems


def markdown_problems(source: str) -> list[tuple[int, str]]:
    """Return (0-based line, message) for raw HTML, non-https links and images without alt."""
    problems: list[tuple[int, str]] = []
    lines = source.splitlines()
    for block in _MD.parse(source):
        first = block.map[0] if block.map else 0
        if block.type == "html_block":
            problems.append((first, RAW_HTML))
        for token in block.children or ():
            problems += [
                (_line_of(lines, block, needle), message)
                for needle, message in _inline_problems(token)
            ]
    return problems


def _inline_problems(token: Token) -> list[tuple[str, str]]:
    """Return (text to find, message) for one inline token."""
    if token.type == "html_inline":
        return [(token.content, RAW_HTML)]
    if token.type == "link_open":
        href = str(token.attrGet("href") or "")
        problem = url_problem(href)
        return [(href, problem)] if problem else []
    if token.type == "image":
        src = str(token.attrGet("src") or "")
        found = [(src, problem) for problem in [url_problem(src)] if problem]
        if not token.content.strip():
            alt = f"de afbeelding {src} heeft geen beschrijving; schrijf ![wat erop staat]({src})"
            found.append((src, alt))
        return found
    if token.type == "text":
        found = [(url, url_problem(url)) for url in BARE_URL.findall(token.content)]
        found = [(url, problem) for url, problem in found if problem]
        if "](" in token.content:
            found.append(
                ("](", "deze link wordt niet herkend: schrijf [tekst](https://…) zonder spaties")
            )
        return found
    return []


def _line_of(lines: list[str], block: Token, needle: str) -> int:
    start, end = block.map if block.map else (0, len(lines))
    for number in range(start, end):
        if needle and needle in lines[number]:
            return number
    return start


def url_problem(url: str) -> str:
    """Return why URL can't go in an email, or "" when it is an absolute https URL."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        return f"de link {url!r} moet een volledig adres zijn dat begint met https://"
    return ""


def _check_settings(course: Course) -> list[str]:
    """Check course.toml's links, the links in its texts, and its cadence."""
    path = course.path / "course.toml"
    problems = []

    def at(where: str, message: str) -> str:
        return f"{path}:{_line_for(path, where)}: {message}"

    for where, url in (("[cta] url", course.cta_url), ("[clinic] website", course.clinic_website)):
        if url and (problem := url_problem(url)):
            problems.append(at(where, problem))
    texts: dict[str, Any] = {
        "welcome": course.welcome,
        "[cta] text": course.cta_text,
        "[consent] text": course.consent_text,
        **{f"[confirmation] {key}": value for key, value in course.confirmation.items()},
    }
    for where, text in texts.items():
        for _, message in markdown_problems(str(text)):
            problems.append(at(where, message))
    if course.send_time and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", course.send_time):
        problems.append(
            at("[cadence] send_time", "de verzendtijd (send_time) moet UU:MM zijn, zoals 07:30")
        )
    if course.timezone:
        try:
            ZoneInfo(course.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                at("[cadence] timezone", "de tijdzone (timezone) moet zijn zoals Europe/Amsterdam")
            )
    return problems
