"""The course loader: parses course folders (and stored versions) into typed lessons."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from course.closing import CLOSING_OPTIONAL, CLOSING_REQUIRED, Closing, ClosingError, read_closing
from course.wording import (
    FRONT_MATTER,
    NO_LESSONS,
    bad_toml,
    empty,
    key_name,
    missing,
    not_utf8,
    twice,
    unknown_keys,
    unreadable,
)

CONTENT_DIR = Path(__file__).resolve().parent / "content"

COURSE_KEYS_REQUIRED = {"title", "language", "sender_name", "clinic", "cta", "confirmation"}
COURSE_KEYS_OPTIONAL = {"welcome", "cadence", "consent", "closing"}
CLINIC_KEYS = {"name", "postal_address", "website"}
CTA_KEYS = {"url", "label", "text"}
CONFIRMATION_KEYS = {"subject", "preheader", "intro", "button", "outro"}
CONSENT_KEYS = {"version", "text"}
CADENCE_KEYS = {"send_time", "skip_weekends", "timezone"}
LESSON_KEYS_REQUIRED = {"day", "subject", "preheader"}
LESSON_KEYS_OPTIONAL = {"teaser", "title"}


class CourseError(Exception):
    """A course folder is broken; the message (Dutch) names the file (and line where known)."""


@dataclass(frozen=True)
class Lesson:
    """One day's email: front matter plus the Markdown body (the article's own text)."""

    day: int
    subject: str
    preheader: str
    body: str
    path: Path
    title: str = ""
    teaser: str = ""
    body_line: int = 1


@dataclass(frozen=True)
class Course:
    """A course: its settings from course.toml and its lessons in day order."""

    slug: str
    path: Path
    title: str
    language: str
    sender_name: str
    clinic_name: str
    postal_address: str
    clinic_website: str
    cta_url: str
    cta_label: str
    cta_text: str
    confirmation: dict[str, str]
    welcome: str
    consent_version: str
    consent_text: str
    send_time: str | None
    skip_weekends: bool | None
    timezone: str | None
    lessons: tuple[Lesson, ...] = field(default_factory=tuple)
    # None: no closing email (the default); the course simply ends after its last lesson.
    closing: Closing | None = None
    # The content hash of the version this is (course.content.content_hash).
    version: str = ""

    @property
    def days(self) -> int:
        """Return how many lessons the course has."""
        return len(self.lessons)

    def lesson(self, day: int) -> Lesson:
        """Return the lesson for DAY (1-based)."""
        if not 1 <= day <= len(self.lessons):
            raise KeyError(f"{self.slug} has no day {day}")
        return self.lessons[day - 1]


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: editors on Windows save a BOM, which would hide the leading ---.
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CourseError(f"{path}: {not_utf8(exc.start)}") from None
    except OSError as exc:
        raise CourseError(f"{path}: {unreadable(str(exc.strerror))}") from None


def _check_keys(
    path: Path, where: str, data: dict[str, Any], required: set[str], optional: set[str]
) -> None:
    absent = sorted(required - data.keys())
    if absent:
        named = [key_name(key) for key in absent] if where == FRONT_MATTER else absent
        raise CourseError(f"{path}: {missing(where, named)}")
    unknown = sorted(str(key) for key in data.keys() - required - optional)
    if unknown:
        allowed = sorted(required | optional)
        raise CourseError(f"{path}: {unknown_keys(where, unknown, allowed)}")


def _section(
    path: Path, data: dict[str, Any], name: str, keys: set[str], required: set[str]
) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise CourseError(f"{path}: [{name}] moet een tabel zijn: een kopje [{name}] met regels")
    _check_keys(path, f"[{name}]", section, required, keys - required)
    for key, value in section.items():
        if not isinstance(value, (str, bool)):
            raise CourseError(f"{path}: [{name}] {key} moet tekst zijn, tussen aanhalingstekens")
    return section


def split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    """Split '---' YAML front matter from Markdown; return (meta, body, body's first line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise CourseError(
            f"{path}:1: {FRONT_MATTER} ontbreekt; het bestand moet beginnen met een regel ---"
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            break
    else:
        raise CourseError(
            f"{path}:1: {FRONT_MATTER} is niet afgesloten; zet een regel --- onder de kop"
        )
    try:
        meta = yaml.safe_load("".join(lines[1:index])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise CourseError(
            f"{path}:{line}: {FRONT_MATTER} is niet te lezen ({problem}); controleer "
            "aanhalingstekens, haakjes en dubbele punten op deze regel"
        ) from None
    if not isinstance(meta, dict):
        raise CourseError(f"{path}:2: {FRONT_MATTER} moet uit regels 'naam: waarde' bestaan")
    return meta, "".join(lines[index + 1 :]), index + 2


def load_lesson(path: Path) -> Lesson:
    """Parse one lesson file, checking its front matter."""
    meta, body, body_line = split_front_matter(path, _read_text(path))
    _check_keys(path, FRONT_MATTER, meta, LESSON_KEYS_REQUIRED, LESSON_KEYS_OPTIONAL)
    day = meta["day"]
    if not isinstance(day, int) or isinstance(day, bool) or day < 1:
        raise CourseError(f"{path}: {key_name('day')} moet een heel getal zijn, vanaf 1")
    for key in ("subject", "preheader", "teaser", "title"):
        value = meta.get(key, "")
        if not isinstance(value, str):
            raise CourseError(f"{path}: {key_name(key)} moet tekst zijn")
    if not meta["subject"].strip():
        raise CourseError(f"{path}: {empty(key_name('subject'))}")
    return Lesson(
        day=day,
        subject=meta["subject"].strip(),
        preheader=str(meta["preheader"]).strip(),
        teaser=str(meta.get("teaser", "")).strip(),
        title=str(meta.get("title", "")).strip(),
        body=body.strip() + "\n",
        path=path,
        body_line=body_line,
    )


def _order_lessons(folder: Path, lessons: list[Lesson]) -> tuple[Lesson, ...]:
    if not lessons:
        raise CourseError(f"{folder}: {NO_LESSONS}")
    by_day: dict[int, Lesson] = {}
    for lesson in lessons:
        if lesson.day in by_day:
            raise CourseError(f"{lesson.path}: {twice(lesson.day, by_day[lesson.day].path.name)}")
        by_day[lesson.day] = lesson
    for expected in range(1, len(by_day) + 1):
        if expected not in by_day:
            raise CourseError(
                f"{folder}: dag {expected} ontbreekt; de dagen moeten zonder gat doorlopen "
                f"van 1 tot en met {len(by_day)}"
            )
    return tuple(by_day[day] for day in sorted(by_day))


def load_course_from(folder: Path) -> Course:
    """Parse a course folder (course.toml plus one Markdown file per lesson) without caching."""
    folder = Path(folder)
    data = read_course_toml(folder)
    lessons = [load_lesson(path) for path in sorted(folder.glob("*.md"))]
    return course_from_data(folder, data, lessons)


def read_course_toml(folder: Path) -> dict[str, Any]:
    """Return FOLDER's course.toml as a table, refusing a missing or broken file."""
    toml_path = folder / "course.toml"
    if not toml_path.exists():
        raise CourseError(f"{toml_path}: dit bestand ontbreekt; elke cursusmap heeft er een nodig")
    try:
        return tomllib.loads(_read_text(toml_path))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{toml_path}: {bad_toml('course.toml', str(exc))}") from None


def course_from_data(
    folder: Path, data: dict[str, Any], lessons: list[Lesson], version: str = ""
) -> Course:
    """Check course.toml's DATA and build the course of FOLDER (its name is the slug)."""
    toml_path = folder / "course.toml"
    _check_keys(toml_path, "course.toml", data, COURSE_KEYS_REQUIRED, COURSE_KEYS_OPTIONAL)
    clinic = _section(toml_path, data, "clinic", CLINIC_KEYS, {"name", "postal_address"})
    cta = _section(toml_path, data, "cta", CTA_KEYS, {"url", "label"})
    confirmation = _section(
        toml_path, data, "confirmation", CONFIRMATION_KEYS, {"subject", "preheader", "intro"}
    )
    consent = _section(toml_path, data, "consent", CONSENT_KEYS, set())
    cadence = _section(toml_path, data, "cadence", CADENCE_KEYS, set())
    closing = None
    if "closing" in data:
        section = data["closing"]
        if not isinstance(section, dict):
            raise CourseError(f"{toml_path}: [closing] moet een tabel zijn: een kopje [closing]")
        _check_keys(toml_path, "[closing]", section, CLOSING_REQUIRED, CLOSING_OPTIONAL)
        try:
            closing = read_closing(toml_path, section)
        except ClosingError as exc:
            raise CourseError(str(exc)) from None
    return Course(
        slug=folder.name,
        path=folder,
        title=str(data["title"]),
        language=str(data["language"]),
        sender_name=str(data["sender_name"]),
        clinic_name=clinic["name"],
        postal_address=clinic["postal_address"],
        clinic_website=clinic.get("website", ""),
        cta_url=cta["url"],
        cta_label=cta["label"],
        cta_text=cta.get("text", ""),
        confirmation={key: str(value) for key, value in confirmation.items()},
        welcome=str(data.get("welcome", "")).strip(),
        consent_version=str(consent.get("version", "1")),
        consent_text=str(consent.get("text", "")),
        send_time=cadence.get("send_time"),
        skip_weekends=cadence.get("skip_weekends"),
        timezone=cadence.get("timezone"),
        lessons=_order_lessons(folder, lessons),
        closing=closing,
        version=version,
    )


def course_folder(slug: str, content_dir: Path = CONTENT_DIR) -> Path:
    """Return the content folder of SLUG, refusing names that could leave the content dir."""
    if not slug or "/" in slug or "\\" in slug or slug.startswith("."):
        raise CourseError(f"{slug!r}: dit is geen geldige naam voor een cursus")
    folder = content_dir / slug
    if not folder.is_dir():
        known = ", ".join(list_courses(content_dir)) or "geen"
        raise CourseError(f"{folder}: deze cursus bestaat niet (wel: {known})")
    return folder


def list_courses(content_dir: Path = CONTENT_DIR) -> list[str]:
    """Return the slugs of every course folder."""
    if not content_dir.is_dir():
        return []
    return sorted(p.name for p in content_dir.iterdir() if (p / "course.toml").exists())
