"""The course studio's service API: import, export, check, publish, revert, history, diff.

Editing a draft is course.drafts (each function takes a Session); what needs more than the
course layer lives here: the rendering check (emails), what a publish does to enrollments
(delivery.course_change) and the audit log. Each function runs in one transaction, so a
version, its effect on enrollments and its audit entry are written together or not at all.
Every refusal is a PublishRefused with one Dutch line per problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from course.content import Content, content_hash, read_folder, write_folder
from course.drafts import discard_draft, get_draft, save_draft
from course.loader import Course, CourseError
from course.review import publish_blockers
from course.versions import (
    FileDiff,
    VersionInfo,
    add_version,
    course_row,
    day_mapping,
    diff_contents,
    list_versions,
    live_version,
    moved_days,
    numbered_version,
    stored_slugs,
)
from delivery.course_change import OLD, SKIP, ChangeOutcome, apply_change, waiting_for
from emails.check import rendering_problems
from runtime import Runtime
from store.courses import CourseVersion
from subscribers.audit import COURSE_IMPORT, COURSE_PUBLISH, COURSE_REVERT, record_admin_action

DRAFT = "concept"
LIVE = "live"


class PublishRefused(Exception):
    """Publishing was refused: PROBLEMS says why, one Dutch line each."""

    def __init__(self, problems: list[str]) -> None:
        """Keep PROBLEMS; the message is the first of them."""
        super().__init__(problems[0])
        self.problems = problems


@dataclass(frozen=True)
class Published:
    """A publish or revert: the new live version, the days it moved, what enrollments did."""

    version: VersionInfo
    moved_days: list[int] = field(default_factory=list)
    outcome: ChangeOutcome = field(default_factory=ChangeOutcome)


def import_course(
    runtime: Runtime, folder: Path, *, author: str, slug: str | None = None
) -> tuple[str, str]:
    """Import the course folder FOLDER; return (what happened, its content hash).

    A course the database doesn't have becomes version 1, live at once ("live"): it is what
    the installation served from the folder until now. Otherwise the folder becomes the
    draft ("draft"), to publish with every check, or nothing happens ("unchanged").
    """
    content = read_folder(folder)
    slug = slug or Path(folder).name
    digest = content_hash(content)
    with runtime.session() as session:
        live = live_version(session, slug)
        if live is not None and live.content_hash == digest:
            return "unchanged", digest
        if live is None and not list_versions(session, slug):
            version = add_version(
                session, slug, content, author=author, now=runtime.now(), note="geïmporteerd"
            )
            _audit(runtime, session, author, COURSE_IMPORT, slug, version)
            return LIVE, digest
        save_draft(session, slug, content, author=author, now=runtime.now())
        return "draft", digest


def import_shipped_course(runtime: Runtime, *, author: str) -> str | None:
    """Import the signup course's folder when the database has no course; return its slug."""
    with runtime.session() as session:
        if stored_slugs(session):
            return None
    slug = runtime.settings.course
    try:
        folder = runtime.courses.folder(slug)
    except CourseError:
        return None  # no folder to import: the clinic imports its own course
    import_course(runtime, folder, author=author, slug=slug)
    return slug


def export_course(
    runtime: Runtime, slug: str, folder: Path, *, number: int | None = None
) -> tuple[str, list[Path]]:
    """Write SLUG's live version (or version NUMBER) as a course folder; return hash, files."""
    with runtime.session() as session:
        version = _version(session, slug, number)
        return version.content_hash, write_folder(version.content, folder)


def check_draft(runtime: Runtime, slug: str) -> list[str]:
    """Return what blocks publishing SLUG's draft (empty: it may be published)."""
    with runtime.session() as session:
        draft = get_draft(session, slug)
        if draft is None:
            return [f"{slug}: er is geen concept (open er een in de studio)"]
        return _blockers(runtime, session, slug, draft.content)


def publish(
    runtime: Runtime,
    slug: str,
    *,
    author: str,
    choice: str | None = None,
    note: str | None = None,
) -> Published:
    """Publish SLUG's draft as its next version, live for new sends at once.

    CHOICE (course_change.OLD or SKIP) says what happens to people waiting for a day the new
    version removes or renumbers; without it such a publish is refused.
    """
    with runtime.session() as session:
        _lock(session, slug)
        # Locked: an edit saved while this publish runs waits, then finds no draft and
        # starts a new one from the version published here, instead of being lost.
        draft = get_draft(session, slug, lock=True)
        if draft is None:
            raise PublishRefused([f"{slug}: er is geen concept om te publiceren"])
        published = _publish(runtime, session, slug, draft.content, author, choice, note)
        discard_draft(session, slug)
        _audit(runtime, session, author, COURSE_PUBLISH, slug, published.version, published)
        return published


def revert(
    runtime: Runtime, slug: str, number: int, *, author: str, choice: str | None = None
) -> Published:
    """Publish version NUMBER's content again as a new version (the draft stays as it is)."""
    with runtime.session() as session:
        _lock(session, slug)
        try:
            content = numbered_version(session, slug, number).content
        except CourseError as exc:
            raise PublishRefused([str(exc)]) from None
        note = f"teruggezet naar versie {number}"
        published = _publish(runtime, session, slug, content, author, choice, note)
        _audit(runtime, session, author, COURSE_REVERT, slug, published.version, published)
        return published


def versions(runtime: Runtime, slug: str) -> list[VersionInfo]:
    """Return SLUG's versions, newest first."""
    with runtime.session() as session:
        return list_versions(session, slug)


def diff(runtime: Runtime, slug: str, old: str, new: str) -> list[FileDiff]:
    """Return the diff from OLD to NEW: each a version number, "live" or "concept"."""
    with runtime.session() as session:
        return diff_contents(_content(session, slug, old), _content(session, slug, new), old, new)


def delivered_course(runtime: Runtime, slug: str, version: str | None) -> Course:
    """Return the course version a delivery was rendered from (live, if it recorded none)."""
    return runtime.courses.get_version(slug, version)


def _publish(
    runtime: Runtime,
    session: Session,
    slug: str,
    content: Content,
    author: str,
    choice: str | None,
    note: str | None,
) -> Published:
    live = live_version(session, slug)
    if live is not None and live.content_hash == content_hash(content):
        raise PublishRefused([f"{slug}: deze inhoud is al live (versie {live.number})"])
    problems = _blockers(runtime, session, slug, content)
    if problems:
        raise PublishRefused(problems)
    mapping = day_mapping(live.content, content) if live else {}
    moved = moved_days(mapping)
    waiting = waiting_for(session, slug, moved)
    if waiting and choice not in (OLD, SKIP):
        days = ", ".join(str(day) for day in moved)
        raise PublishRefused(
            [
                f"{slug}: deze versie verwijdert of vernummert dag {days}, en "
                f"{len(waiting)} inschrijving(en) wachten nog op die dag(en). Kies wat er "
                "met hen gebeurt: de cursus afmaken op de oude versie, of de verwijderde "
                "dag overslaan (`--finish-on-old` of `--skip-removed`)"
            ]
        )
    now = runtime.now()
    version = add_version(session, slug, content, author=author, now=now, note=note)
    outcome = ChangeOutcome()
    if waiting and live is not None and choice is not None:
        outcome = apply_change(
            session, waiting, choice=choice, old_version=live.content_hash, mapping=mapping, now=now
        )
    info = VersionInfo(version.number, version.content_hash, author, now, note, live=True)
    return Published(info, moved, outcome)


def _blockers(runtime: Runtime, session: Session, slug: str, content: Content) -> list[str]:
    history = [
        numbered_version(session, slug, info.number).content
        for info in list_versions(session, slug)
    ]
    renderer = runtime.renderer
    return publish_blockers(
        slug, content, history, also=lambda course: rendering_problems(renderer, course)
    )


def _lock(session: Session, slug: str) -> None:
    """Lock SLUG's course row: two publishes of one course run one after the other."""
    if course_row(session, slug, lock=True) is None:
        raise PublishRefused([f"{slug}: deze cursus staat niet in de database"])


def _version(session: Session, slug: str, number: int | None) -> CourseVersion:
    if number is not None:
        return numbered_version(session, slug, number)
    live = live_version(session, slug)
    if live is None:
        raise CourseError(f"{slug}: deze cursus heeft geen live versie in de database")
    return live


def _content(session: Session, slug: str, spec: str) -> Content:
    """Return the content SPEC names: a version number, "live" or "concept"."""
    if spec == DRAFT:
        draft = get_draft(session, slug)
        if draft is None:
            raise CourseError(f"{slug}: er is geen concept")
        return draft.content
    if spec == LIVE:
        return _version(session, slug, None).content
    if not spec.isdigit():
        raise CourseError(f"{spec!r}: geef een versienummer, {LIVE!r} of {DRAFT!r}")
    return numbered_version(session, slug, int(spec)).content


def _audit(
    runtime: Runtime,
    session: Session,
    author: str,
    action: str,
    slug: str,
    info: VersionInfo | CourseVersion,
    published: Published | None = None,
) -> None:
    """Write the audit entry of a publish, revert or first import of SLUG by AUTHOR."""
    detail = f"versie {info.number} ({info.content_hash[:12]})"
    if published is not None and published.moved_days:
        out = published.outcome
        detail += (
            f"; dagen {published.moved_days} verplaatst of verwijderd: {out.kept_on_old} op "
            f"de oude versie, {out.follow_new} volgen de nieuwe, {out.completed} afgerond"
        )
    record_admin_action(
        session, actor=author, action=action, target=slug, detail=detail, now=runtime.now()
    )
