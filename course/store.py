"""CourseStore: the courses of one installation, served from the database by version hash.

The runtime builds one per process. `get(slug)` asks the database for the live version's
hash (one primary-key read) and returns that version, parsed once and then cached by hash:
publishing moves the hash, so the next send uses the new version without a restart, and a
version never changes, so its cache entry never goes stale. A course not in the database
(not imported yet: a fresh checkout, or a test's own folder) is read from its folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import DBAPIError

from course.content import Content, content_hash, course_from_content, read_folder
from course.loader import (
    CONTENT_DIR,
    Course,
    CourseError,
    course_folder,
    list_courses,
    load_course_from,
)
from store.courses import CourseRow, CourseVersion
from store.db import read_only

T = TypeVar("T")


class CourseStore:
    """The courses of one installation: live versions from the database, cached by hash."""

    def __init__(
        self, default_slug: str, content_dir: Path = CONTENT_DIR, engine: Engine | None = None
    ) -> None:
        """Serve courses from ENGINE's database, else from CONTENT_DIR's folders.

        DEFAULT_SLUG is the course signups join.
        """
        self.default_slug = default_slug
        self.content_dir = content_dir
        self.engine = engine
        # By (slug, hash): two courses may hold the same content, each under its own slug.
        self._by_hash: dict[tuple[str, str], Course] = {}
        self._folders: dict[str, Course] = {}
        self._lock = threading.Lock()

    def get(self, slug: str | None = None) -> Course:
        """Return the live version of course SLUG (default: the signup course)."""
        slug = slug or self.default_slug
        live = self.live_hash(slug)
        if live is not None:
            return self.version(live, slug)
        return self._folder_course(slug)

    def get_version(self, slug: str, content_hash: str | None) -> Course:
        """Return version CONTENT_HASH of SLUG, or its live version when the hash is None."""
        return self.version(content_hash, slug) if content_hash else self.get(slug)

    def live_hash(self, slug: str) -> str | None:
        """Return the content hash of SLUG's live version (None: not in the database)."""
        statement = select(CourseRow.live_hash).where(CourseRow.slug == slug)
        return self._read(lambda connection: connection.execute(statement).scalar_one_or_none())

    def _read(self, query: Callable[[Connection], T]) -> T | None:
        """Run QUERY on a lock-free read connection; None without a migrated database."""
        if self.engine is None:
            return None
        try:
            with read_only(self.engine) as connection:
                return query(connection)
        except DBAPIError:
            # A database not migrated yet (`course check` before `db upgrade`) serves the
            # folders; a database that is down raises again here and stays an error.
            with read_only(self.engine) as connection:
                if inspect(connection).has_table(CourseRow.__tablename__):
                    raise
            return None

    def version(self, content_hash: str, slug: str | None = None) -> Course:
        """Return the version with CONTENT_HASH (of course SLUG), parsed once per process."""
        if slug is not None:
            course = self._by_hash.get((slug, content_hash))
            if course is not None:
                return course
        statement = select(CourseVersion.slug, CourseVersion.content).where(
            CourseVersion.content_hash == content_hash
        )
        if slug is not None:
            statement = statement.where(CourseVersion.slug == slug)
        row = self._read(lambda connection: connection.execute(statement.limit(1)).first())
        if row is None:
            raise CourseError(f"cursusversie {content_hash[:12]} staat niet in de database")
        course = course_from_content(row.slug, row.content, content_hash)
        with self._lock:
            return self._by_hash.setdefault((row.slug, content_hash), course)

    def content(self, content_hash: str) -> Content | None:
        """Return the stored content (settings, lessons) of version CONTENT_HASH, uncached."""
        statement = (
            select(CourseVersion.content).where(CourseVersion.content_hash == content_hash).limit(1)
        )
        found: Content | None = self._read(lambda c: c.execute(statement).scalar_one_or_none())
        return found

    def _folder_course(self, slug: str) -> Course:
        """Return SLUG read from its folder (not imported yet), parsed on first use."""
        course = self._folders.get(slug)
        if course is None:
            with self._lock:
                course = self._folders.get(slug)
                if course is None:
                    folder = course_folder(slug, self.content_dir)
                    # Parsed by the loader, so messages name the real files and lines.
                    version = content_hash(read_folder(folder))
                    course = replace(load_course_from(folder), version=version)
                    self._folders[slug] = course
                    self._by_hash.setdefault((slug, version), course)
        return course

    def slugs(self) -> list[str]:
        """Return the slugs of every course, in the database or in a folder."""
        stored = self._read(
            lambda connection: set(connection.execute(select(CourseRow.slug)).scalars())
        )
        return sorted((stored or set()) | set(list_courses(self.content_dir)))

    def folder(self, slug: str | None = None) -> Path:
        """Return the folder of course SLUG (default: the signup course)."""
        return course_folder(slug or self.default_slug, self.content_dir)
