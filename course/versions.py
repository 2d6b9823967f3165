"""Course versions in the database: add one and make it live, read, list, compare.

A version is written once and never changed. "Live" is the course row's pointer to the
version new sends use; moving it is publishing. Every function takes the caller's Session,
so a publish, its effect on enrollments and its audit entry commit together.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from course.content import Content, content_files, content_hash, validate_content
from course.loader import CourseError
from store.courses import CourseRow, CourseVersion


@dataclass(frozen=True)
class VersionInfo:
    """One line of a course's history: number, hash, author, time, note, and whether live."""

    number: int
    content_hash: str
    author: str
    created_at: datetime
    note: str | None
    live: bool


def course_row(session: Session, slug: str, *, lock: bool = False) -> CourseRow | None:
    """Return the course row of SLUG (locked for a publish when LOCK), or None."""
    statement = select(CourseRow).where(CourseRow.slug == slug)
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


def ensure_course(session: Session, slug: str, now: datetime) -> CourseRow:
    """Return the course row of SLUG, creating it (with nothing live yet) when missing."""
    row = course_row(session, slug, lock=True)
    if row is None:
        row = CourseRow(slug=slug, live_hash=None, live_number=None, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
    return row


def add_version(
    session: Session,
    slug: str,
    content: Content,
    *,
    author: str,
    now: datetime,
    note: str | None = None,
) -> CourseVersion:
    """Store CONTENT as SLUG's next version and make it live; return it."""
    validate_content(slug, content)
    row = ensure_course(session, slug, now)
    last = session.scalar(select(func.max(CourseVersion.number)).where(CourseVersion.slug == slug))
    version = CourseVersion(
        slug=slug,
        number=(last or 0) + 1,
        content_hash=content_hash(content),
        content=content,
        author=author[:100],
        created_at=now,
        note=note[:500] if note else None,
    )
    session.add(version)
    row.live_hash, row.live_number, row.updated_at = version.content_hash, version.number, now
    session.flush()
    return version


def live_version(session: Session, slug: str) -> CourseVersion | None:
    """Return SLUG's live version, or None when it has none."""
    row = course_row(session, slug)
    if row is None or row.live_number is None:
        return None
    return numbered_version(session, slug, row.live_number)


def numbered_version(session: Session, slug: str, number: int) -> CourseVersion:
    """Return version NUMBER of SLUG, refusing one that does not exist (in Dutch)."""
    version = session.scalars(
        select(CourseVersion).where(CourseVersion.slug == slug, CourseVersion.number == number)
    ).first()
    if version is None:
        raise CourseError(f"{slug}: versie {number} bestaat niet (zie `nurture course versions`)")
    return version


def list_versions(session: Session, slug: str) -> list[VersionInfo]:
    """Return SLUG's versions, newest first, marking the live one."""
    row = course_row(session, slug)
    live = row.live_number if row else None
    versions = session.scalars(
        select(CourseVersion)
        .where(CourseVersion.slug == slug)
        .order_by(CourseVersion.number.desc())
    )
    return [
        VersionInfo(v.number, v.content_hash, v.author, v.created_at, v.note, v.number == live)
        for v in versions
    ]


def stored_slugs(session: Session) -> list[str]:
    """Return the slug of every course in the database."""
    return list(session.scalars(select(CourseRow.slug).order_by(CourseRow.slug)))


@dataclass(frozen=True)
class FileDiff:
    """How one file of the folder format differs: added, removed or changed, as diff lines."""

    name: str
    status: str
    lines: list[str]


def diff_contents(old: Content, new: Content, old_label: str, new_label: str) -> list[FileDiff]:
    """Return a readable diff of OLD and NEW, file by file (course.toml, then the lessons)."""
    old_files, new_files = content_files(old), content_files(new)
    diffs = []
    for name in [*old_files, *(n for n in new_files if n not in old_files)]:
        before, after = old_files.get(name), new_files.get(name)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        lines = difflib.unified_diff(
            (before or "").splitlines(),
            (after or "").splitlines(),
            fromfile=f"{old_label}/{name}",
            tofile=f"{new_label}/{name}",
            lineterm="",
        )
        diffs.append(FileDiff(name, status, list(lines)))
    return diffs


def day_mapping(old: Content, new: Content) -> dict[int, int | None]:
    """Return where each of OLD's days went in NEW: its new day, or None when removed.

    Lessons have no id but their day, so a lesson is found again by its subject or its body
    (the same day first). A day with no match is edited in place when NEW still has it.
    """

    def matches(lesson: dict[str, Any]) -> list[int]:
        return [
            int(other["day"])
            for other in new["lessons"]
            if other["subject"] == lesson["subject"] or other["body"] == lesson["body"]
        ]

    found = {int(lesson["day"]): matches(lesson) for lesson in old["lessons"]}
    # A new day that is another old lesson found again is not this day edited in place.
    taken = {day if day in days else days[0] for day, days in found.items() if days}
    mapping: dict[int, int | None] = {}
    for day, same in found.items():
        if day in same:
            mapping[day] = day
        elif same:
            mapping[day] = same[0]
        else:
            edited = day <= len(new["lessons"]) and day not in taken
            mapping[day] = day if edited else None
    return mapping


def moved_days(mapping: dict[int, int | None]) -> list[int]:
    """Return the old days a new version removes or renumbers."""
    return sorted(day for day, new_day in mapping.items() if new_day != day)
