"""What the studio's pages share: the course list, the content being edited, problems per field.

The editor shows the draft when there is one, else the live version; the first change
opens the draft (course.drafts.open_draft), so merely looking writes nothing. A problem of
the check is shown next to its field (course.placing says which): a lesson's own problems in
the lesson editor, the course's (settings, days, consent) next to the settings field, and in
the list at the top of every lesson editor, with a link to that field.

Two people (or two tabs) may edit one course: each page carries the stamp of the part it
shows (a lesson, the settings, the lesson list, the whole draft) as its form's "seen", and a
save whose part has changed since is refused (EditConflict, 409) instead of overwriting.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from course.content import Content, course_from_content
from course.drafts import get_draft
from course.loader import Course
from course.placing import BODY, Placed
from course.versions import live_version, stored_slugs
from runtime import Runtime
from store.models import Enrollment, EnrollmentStatus
from subscribers.studio import check_draft
from web.auth import admin_page, current_admin
from web.context import runtime

# The lesson editor's fields besides the body; a problem with none of them goes with the body.
LESSON_FIELDS = ("subject", "preheader", "teaser")
# The settings form: (dotted key, Dutch label, kind) in the order the page shows them.
SETTINGS_FIELDS = [
    ("title", "Titel van de cursus", "line"),
    ("sender_name", "Naam van de afzender", "line"),
    ("clinic.name", "Naam van de praktijk", "line"),
    ("clinic.postal_address", "Postadres van de praktijk", "line"),
    ("clinic.website", "Website van de praktijk (https://…)", "line"),
    ("cta.label", "Oproep tot actie: knoptekst", "line"),
    ("cta.url", "Oproep tot actie: link (https://…)", "line"),
    ("cta.text", "Oproep tot actie: tekst", "text"),
    ("confirmation.subject", "Bevestigingsmail: onderwerp", "line"),
    ("confirmation.preheader", "Bevestigingsmail: voorvertoning", "line"),
    ("confirmation.intro", "Bevestigingsmail: tekst", "text"),
    ("confirmation.button", "Bevestigingsmail: knop", "line"),
    ("confirmation.outro", "Bevestigingsmail: slot", "text"),
    ("consent.text", "Toestemmingstekst bij het aanmelden", "text"),
    ("consent.version", "Versie van de toestemmingstekst (verhoog bij een nieuwe tekst)", "line"),
    ("cadence.send_time", "Verzendtijd (UU:MM)", "line"),
    ("cadence.timezone", "Tijdzone (zoals Europe/Amsterdam)", "line"),
    ("cadence.skip_weekends", "Geen lessen in het weekend", "check"),
]
SETTING_LABELS = {key: label for key, label, _ in SETTINGS_FIELDS}
IN_COURSE = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


@dataclass(frozen=True)
class CourseListing:
    """One row of the course list."""

    slug: str
    title: str
    live_number: int | None
    live_at: datetime | None
    has_draft: bool
    subscribers: int

    @property
    def status(self) -> str:
        """Return the status in Dutch: live, concept, or both."""
        if self.live_number is None:
            return "concept"
        return "live, met concept" if self.has_draft else "live"


def course_listing(session: Session) -> list[CourseListing]:
    """Return every course in the database with its status and how many people follow it."""
    counts = dict(
        session.execute(
            select(Enrollment.course_slug, func.count())
            .where(Enrollment.status.in_(IN_COURSE))
            .group_by(Enrollment.course_slug)
        ).all()
    )
    rows = []
    for slug in stored_slugs(session):
        live = live_version(session, slug)
        draft = get_draft(session, slug)
        content = draft.content if draft else (live.content if live else {"settings": {}})
        rows.append(
            CourseListing(
                slug=slug,
                title=str(content["settings"].get("title", slug)),
                live_number=live.number if live else None,
                live_at=live.created_at if live else None,
                has_draft=draft is not None,
                subscribers=int(counts.get(slug, 0)),
            )
        )
    return rows


def working_content(session: Session, slug: str) -> tuple[Content, bool]:
    """Return what the editor shows of SLUG (the draft, else live) and whether it is the draft."""
    draft = get_draft(session, slug)
    if draft is not None:
        return draft.content, True
    live = live_version(session, slug)
    if live is None:
        abort(404)
    return live.content, False


def working_course(nurture: Runtime, slug: str) -> Course:
    """Return SLUG's draft (else live version) as a Course, to render previews and proofs."""
    with nurture.session() as session:
        content, _ = working_content(session, slug)
    return course_from_content(slug, content)


def lesson_of(content: Content, day: int) -> dict[str, Any]:
    """Return lesson DAY of CONTENT, or answer 404."""
    for lesson in content["lessons"]:
        if int(lesson["day"]) == day:
            return dict(lesson)
    abort(404)


class EditConflict(Exception):
    """The part of the draft a page showed changed since (another person, another tab)."""


def stamp(part: Any) -> str:
    """Return a short fingerprint of PART of a course (a lesson, its settings, its lesson list)."""
    canonical = json.dumps(part, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def check_seen(seen: str, part: Any) -> None:
    """Raise EditConflict when PART's stamp is no longer SEEN, the one its page was shown with.

    Call it in the transaction that writes, after open_draft locked the draft: check and write
    are then one step, so two saves from stale pages cannot both pass. An empty SEEN (a form
    from before the guard) is not checked.
    """
    if seen and stamp(part) != seen:
        raise EditConflict  # raised inside the session: the transaction rolls back


def lesson_list(content: Content) -> list[list[str]]:
    """Return the part of CONTENT the lesson list acts on: each lesson's file and subject, in order.

    Adding, moving and removing name lessons by day; once someone else renumbered or renamed
    them, "day 3" may be another lesson than the one the page showed.
    """
    return [[str(lesson["name"]), str(lesson["subject"])] for lesson in content["lessons"]]


def course_page(slug: str, status: int = 200, **extra: Any) -> ResponseReturnValue:
    """Render SLUG's lesson list; EXTRA: a refused change (`conflict`) and the editor's input."""
    with runtime().session() as session:
        content, is_draft = working_content(session, slug)
    problems = check_draft(runtime(), slug) if is_draft else []
    return admin_page(
        "admin/studio/course.html",
        status,
        slug=slug,
        content=content,
        is_draft=is_draft,
        problems=problems,
        seen=stamp(lesson_list(content)),
        seen_draft=stamp(content),
        **extra,
    )


def lesson_problems(placed: list[Placed], lesson_name: str) -> dict[str, list[str]]:
    """Sort the problems of lesson file LESSON_NAME by the editor's field (body for the rest)."""
    found: dict[str, list[str]] = {}
    for problem in placed:
        if problem.file != f"{lesson_name}.md" or problem.whole_course:
            continue
        for field in [key for key in problem.keys if key in LESSON_FIELDS] or [BODY]:
            found.setdefault(field, []).append(problem.message)
    return found


@dataclass(frozen=True)
class CourseProblem:
    """A problem of the whole course: what it is about (LABEL), and the settings field if any."""

    label: str
    message: str
    setting: str = ""
    href: str = ""


def setting_id(key: str) -> str:
    """Return the id of setting KEY's field on the settings page."""
    return "setting-" + key.replace(".", "-")


def course_problems(placed: list[Placed], settings_url: str) -> list[CourseProblem]:
    """Return the problems of the whole course, each linking to its settings field if it has one."""
    found = []
    for problem in placed:
        if not problem.whole_course:
            continue
        key = problem.keys[0] if problem.keys and problem.file == "course.toml" else ""
        if key in SETTING_LABELS:
            href = f"{settings_url}#{setting_id(key)}"
            found.append(CourseProblem(SETTING_LABELS[key], problem.message, key, href))
        elif problem.file == "course.toml":
            label = f"Instelling {key}" if key else "Instellingen"
            found.append(CourseProblem(label, problem.message))
        else:
            label = f"Dag {problem.day}" if problem.day else ""
            found.append(CourseProblem(label, problem.message))
    return found


def author() -> str:
    """Return who is doing this, as the audit log and the draft name them."""
    return current_admin().actor
