"""The studio's lesson list actions: add, move and remove a lesson, and throw the draft away.

Each changes the draft only. A publish that then removes or renumbers a day people still
wait for asks the owner what happens to them (web/studio_versions.py). Each form carries the
stamp of the list it was shown with: when someone else changed the list since, the action is
refused (409) and the page shows the list as it is now (web/studio_support.check_seen).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from course.drafts import (
    add_lesson,
    discard_draft,
    get_draft,
    move_lesson,
    open_draft,
    remove_lesson,
)
from course.loader import CourseError
from subscribers.accounts import WRITE_DRAFTS
from web.auth import require_admin, requires
from web.context import runtime
from web.studio_support import EditConflict, author, check_seen, course_page, lesson_list

bp = Blueprint("studio_lessons", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)

LIST_CONFLICT = (
    "Iemand anders heeft de lessenlijst intussen gewijzigd. Je wijziging ({attempt}) is daarom "
    "niet uitgevoerd. Hieronder staat de lijst zoals hij nu is: kijk of je wijziging nog klopt "
    "en doe hem dan opnieuw."
)
DRAFT_CONFLICT = (
    "Iemand anders heeft het concept intussen gewijzigd, daarom is het niet weggegooid. "
    "Bekijk de wijzigingen onder 'Versies en publiceren' en gooi het daarna eventueel alsnog weg."
)


def _change(
    slug: str, attempt: str, done: str, change: Callable[[Session], object], **kept: Any
) -> ResponseReturnValue:
    """Open SLUG's draft, apply CHANGE, and go back to the lesson list saying DONE.

    Refused, the page names the ATTEMPT and shows KEPT (what the editor typed) again.
    """
    nurture = runtime()
    try:
        with nurture.session() as session:
            draft = open_draft(session, slug, author=author(), now=nurture.now())
            check_seen(request.form.get("seen", ""), lesson_list(draft.content))
            change(session)
    except EditConflict:
        conflict = LIST_CONFLICT.format(attempt=attempt)
        return course_page(slug, 409, conflict=conflict, **kept)
    except CourseError as exc:
        flash(str(exc))
    else:
        flash(done)
    return redirect(url_for("studio.course", slug=slug))


@bp.post("/<slug>/lessons")
@requires(WRITE_DRAFTS)
def add(slug: str) -> ResponseReturnValue:
    """Add a lesson at the end of the draft, with a subject to start from."""
    subject = request.form.get("subject", "").strip()[:200] or "Nieuwe les"
    body = "Schrijf hier de tekst van de les."
    return _change(
        slug,
        f"les '{subject}' toevoegen",
        f"Les '{subject}' toegevoegd aan het concept.",
        lambda session: add_lesson(
            session, slug, author=author(), now=runtime().now(), subject=subject, body=body
        ),
        new_subject=request.form.get("subject", "")[:200],
    )


@bp.post("/<slug>/lessons/<int:day>/move")
@requires(WRITE_DRAFTS)
def move(slug: str, day: int) -> ResponseReturnValue:
    """Move lesson DAY one day earlier or later in the draft."""
    to_day = day - 1 if request.form.get("direction") == "up" else day + 1
    return _change(
        slug,
        f"dag {day} {'eerder' if to_day < day else 'later'} zetten",
        f"Dag {day} is nu dag {to_day} in het concept.",
        lambda session: move_lesson(
            session, slug, day, to_day, author=author(), now=runtime().now()
        ),
    )


@bp.post("/<slug>/lessons/<int:day>/remove")
@requires(WRITE_DRAFTS)
def remove(slug: str, day: int) -> ResponseReturnValue:
    """Remove lesson DAY from the draft; the days after it move one forward."""
    return _change(
        slug,
        f"dag {day} verwijderen",
        f"Dag {day} is uit het concept gehaald.",
        lambda session: remove_lesson(session, slug, day, author=author(), now=runtime().now()),
    )


@bp.post("/<slug>/discard")
@requires(WRITE_DRAFTS)
def discard(slug: str) -> ResponseReturnValue:
    """Throw the draft away: the editor shows the live version again."""
    try:
        with runtime().session() as session:
            draft = get_draft(session, slug, lock=True)
            if draft is not None:
                # Edits saved after the page was shown would be thrown away unseen.
                check_seen(request.form.get("seen", ""), draft.content)
            had = discard_draft(session, slug)
    except EditConflict:
        return course_page(slug, 409, conflict=DRAFT_CONFLICT)
    flash("Het concept is weggegooid." if had else "Er was geen concept.")
    return redirect(url_for("studio.course", slug=slug))
