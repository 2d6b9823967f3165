"""A course as plain data (settings, lessons, outline), its content hash, and the folder format.

The database stores a course version as this data; the folder (course.toml plus one Markdown
file per lesson) is its import and export format. Exporting and importing again gives the
same data, so the same hash: the hash is taken over the parsed values, not the file bytes
(comments and quoting styles in the files do not count).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from course.loader import Course, CourseError, Lesson, course_from_data, load_lesson
from course.loader import read_course_toml as _read_toml

# The lesson fields a version keeps, in the order the front matter is written.
LESSON_FIELDS = ("day", "subject", "preheader", "teaser", "title")
OUTLINE_FILE = "outline.toml"

Content = dict[str, Any]


def content_hash(content: Content) -> str:
    """Return the SHA-256 of CONTENT in a canonical JSON form (sorted keys, no spaces)."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lesson_data(lesson: Lesson, name: str) -> dict[str, Any]:
    """Return LESSON as plain data; NAME is its file name without .md."""
    return {
        "name": name,
        "day": lesson.day,
        "subject": lesson.subject,
        "preheader": lesson.preheader,
        "teaser": lesson.teaser,
        "title": lesson.title,
        "body": lesson.body,
    }


def read_folder(folder: Path) -> Content:
    """Parse the course in FOLDER into content, refusing what the loader refuses."""
    folder = Path(folder)
    settings = _read_toml(folder)
    course = course_from_data(
        folder, settings, [load_lesson(path) for path in sorted(folder.glob("*.md"))]
    )
    outline = folder / OUTLINE_FILE
    return {
        "settings": settings,
        "lessons": [lesson_data(lesson, lesson.path.stem) for lesson in course.lessons],
        "outline": outline.read_text(encoding="utf-8") if outline.is_file() else "",
    }


def content_files(content: Content) -> dict[str, str]:
    """Return CONTENT as the folder's files: file name -> text (course.toml first)."""
    files = {"course.toml": tomli_w.dumps(content["settings"])}
    for lesson in content["lessons"]:
        files[f"{lesson['name']}.md"] = lesson_file_text(lesson)
    if content.get("outline"):
        files[OUTLINE_FILE] = content["outline"]
    return files


def write_folder(content: Content, folder: Path) -> list[Path]:
    """Write CONTENT as a course folder (replacing its lesson files); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.md"):
        stale.unlink()  # a lesson removed since: the loader would read the old file
    written = []
    for name, text in content_files(content).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def lesson_file_text(lesson: dict[str, Any]) -> str:
    """Return LESSON (plain data) as a Markdown file with YAML front matter."""
    meta = {key: lesson[key] for key in LESSON_FIELDS if lesson.get(key) not in ("", None)}
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{front}---\n\n{lesson['body'].strip()}\n"


def course_from_content(slug: str, content: Content, version: str = "") -> Course:
    """Build the Course of SLUG from stored CONTENT (its lessons' paths name no real file)."""
    folder = Path(slug)
    lessons = [
        Lesson(
            day=int(item["day"]),
            subject=item["subject"],
            preheader=item["preheader"],
            body=item["body"],
            path=folder / f"{item['name']}.md",
            title=item.get("title", ""),
            teaser=item.get("teaser", ""),
        )
        for item in content["lessons"]
    ]
    return course_from_data(folder, content["settings"], lessons, version or content_hash(content))


def copy_content(content: Content) -> Content:
    """Return a deep copy of CONTENT (a draft is edited on a copy, never a version in place)."""
    return copy.deepcopy(content)


def validate_content(slug: str, content: Content) -> None:
    """Raise CourseError when CONTENT could not be loaded as a course."""
    if not isinstance(content.get("settings"), dict) or not isinstance(
        content.get("lessons"), list
    ):
        raise CourseError(f"{slug}: de inhoud mist de instellingen of de lessen")
    course_from_content(slug, content)
