"""A course's draft: the one editable copy, changed lesson by lesson and setting by setting.

The studio (and `nurture course import`) writes here; nothing reaches a subscriber until the
draft is published as a new version. A draft may be incomplete or fail the check while it
is edited: the check runs on it (course.review) and blocks publishing, not saving.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from course.content import Content, content_hash, copy_content
from course.loader import CourseError
from course.versions import course_row, ensure_course, live_version
from store.courses import CourseDraft

# The lesson fields an editor may change (day is changed by moving the lesson).
LESSON_TEXT_FIELDS = ("subject", "preheader", "teaser", "title", "body")


def get_draft(session: Session, slug: str, *, lock: bool = False) -> CourseDraft | None:
    """Return SLUG's draft (locked against a concurrent edit when LOCK), or None."""
    return session.get(CourseDraft, slug, with_for_update=lock)


def save_draft(
    session: Session, slug: str, content: Content, *, author: str, now: datetime
) -> CourseDraft:
    """Replace SLUG's draft by CONTENT (creating the course when it is new); return it."""
    ensure_course(session, slug, now)
    draft = get_draft(session, slug)
    live = live_version(session, slug)
    if draft is None:
        draft = CourseDraft(slug=slug, base_number=live.number if live else None)
        session.add(draft)
    draft.content, draft.author, draft.updated_at = copy_content(content), author[:100], now
    session.flush()
    return draft


def open_draft(session: Session, slug: str, *, author: str, now: datetime) -> CourseDraft:
    """Return SLUG's draft (locked for the edit to come), starting one from the live version."""
    # The course row first (as a publish does): two first edits at once then take turns, and
    # the second finds the draft the first started instead of starting it over from live.
    course_row(session, slug, lock=True)
    draft = get_draft(session, slug, lock=True)
    if draft is not None:
        return draft
    live = live_version(session, slug)
    if live is None:
        raise CourseError(f"{slug}: deze cursus staat niet in de database (importeer hem eerst)")
    return save_draft(session, slug, live.content, author=author, now=now)


def discard_draft(session: Session, slug: str) -> bool:
    """Throw SLUG's draft away; return whether there was one."""
    draft = get_draft(session, slug)
    if draft is None:
        return False
    session.delete(draft)
    session.flush()
    return True


def draft_hash(draft: CourseDraft) -> str:
    """Return the content hash the draft would have as a version."""
    return content_hash(draft.content)


def _edit(session: Session, slug: str, author: str, now: datetime, change: Any) -> CourseDraft:
    """Apply CHANGE (content -> None) to a copy of SLUG's draft and save it."""
    draft = open_draft(session, slug, author=author, now=now)
    content = copy_content(draft.content)
    change(content)
    return save_draft(session, slug, content, author=author, now=now)


def _lesson_at(content: Content, slug: str, day: int) -> dict[str, Any]:
    for lesson in content["lessons"]:
        if int(lesson["day"]) == day:
            return lesson
    raise CourseError(f"{slug}: het concept heeft geen dag {day}")


def update_lesson(
    session: Session, slug: str, day: int, *, author: str, now: datetime, **fields: str
) -> CourseDraft:
    """Change lesson DAY's FIELDS (subject, preheader, teaser, title, body) in the draft."""
    unknown = sorted(set(fields) - set(LESSON_TEXT_FIELDS))
    if unknown:
        raise CourseError(f"{slug}: onbekend lesveld {', '.join(unknown)}")

    def change(content: Content) -> None:
        lesson = _lesson_at(content, slug, day)
        for key, value in fields.items():
            lesson[key] = value.strip() + "\n" if key == "body" else value.strip()

    return _edit(session, slug, author, now, change)


def add_lesson(
    session: Session,
    slug: str,
    *,
    author: str,
    now: datetime,
    subject: str,
    body: str,
    preheader: str = "",
    day: int | None = None,
) -> CourseDraft:
    """Insert a lesson at DAY (default: after the last); later lessons move one day on."""

    def change(content: Content) -> None:
        lessons = content["lessons"]
        at = len(lessons) + 1 if day is None else day
        if not 1 <= at <= len(lessons) + 1:
            raise CourseError(f"{slug}: dag {at} kan niet (1 tot en met {len(lessons) + 1})")
        lesson = {"day": at, "subject": subject.strip(), "preheader": preheader.strip()}
        lesson |= {"teaser": "", "title": "", "body": body.strip() + "\n"}
        lessons.insert(at - 1, lesson | {"name": f"{at:02d}-nieuw"})
        _renumber(content)

    return _edit(session, slug, author, now, change)


def remove_lesson(
    session: Session, slug: str, day: int, *, author: str, now: datetime
) -> CourseDraft:
    """Remove lesson DAY from the draft; later lessons move one day forward."""

    def change(content: Content) -> None:
        content["lessons"].remove(_lesson_at(content, slug, day))
        _renumber(content)

    return _edit(session, slug, author, now, change)


def move_lesson(
    session: Session, slug: str, day: int, to_day: int, *, author: str, now: datetime
) -> CourseDraft:
    """Move lesson DAY to TO_DAY in the draft; the lessons between shift by one."""

    def change(content: Content) -> None:
        lessons = content["lessons"]
        if not 1 <= to_day <= len(lessons):
            raise CourseError(f"{slug}: dag {to_day} bestaat niet (1 tot en met {len(lessons)})")
        lesson = _lesson_at(content, slug, day)
        lessons.remove(lesson)
        lessons.insert(to_day - 1, lesson)
        _renumber(content)

    return _edit(session, slug, author, now, change)


def _renumber(content: Content) -> None:
    """Number the lessons 1, 2, 3… in list order, and their file names to match."""
    for index, lesson in enumerate(content["lessons"], start=1):
        lesson["day"] = index
        stem = str(lesson["name"]).split("-", 1)
        rest = stem[1] if len(stem) == 2 and stem[0].isdigit() else lesson["name"]
        lesson["name"] = f"{index:02d}-{rest}"


def update_settings(
    session: Session, slug: str, changes: dict[str, Any], *, author: str, now: datetime
) -> CourseDraft:
    """Change the draft's settings: CHANGES maps "title" or "consent.text" style keys to values.

    None removes an optional key. The check, not this, says whether the result is valid.
    """

    def change(content: Content) -> None:
        settings = content["settings"]
        for key, value in changes.items():
            *tables, name = key.split(".")
            target = settings
            for table in tables:
                target = target.setdefault(table, {})
                if not isinstance(target, dict):
                    raise CourseError(f"{slug}: {key}: {table} is geen tabel")
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value

    return _edit(session, slug, author, now, change)


def has_course(session: Session, slug: str) -> bool:
    """Tell whether SLUG is in the database (with or without a live version)."""
    return course_row(session, slug) is not None
