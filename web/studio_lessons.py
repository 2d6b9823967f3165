"""The studio's lesson list actions: add, move and remove a lesson, and throw the draft away.

Each changes the draft only. A publish that then removes or renumbers a day people still
wait for asks the owner what happens to them (web/studio_versions.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from course.drafts import add_lesson, discard_draft, move_lesson, open_draft, remove_lesson
from course.loader import CourseError
from subscribers.accounts import WRITE_DRAFTS
from web.auth import require_admin, requires
from web.context import runtime
from web.studio_support import author

bp = Blueprint("studio_lessons", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)


def _change(slug: str, done: str, change: Callable[[Session], object]) -> ResponseReturnValue:
    """Open SLUG's draft, apply CHANGE, and go back to the lesson list saying DONE."""
    nurture = runtime()
    try:
        with nurture.session() as session:
            open_draft(session, slug, author=author(), now=nurture.now())
            change(session)
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
        f"Les '{subject}' toegevoegd aan het concept.",
        lambda session: add_lesson(
            session, slug, author=author(), now=runtime().now(), subject=subject, body=body
        ),
    )


@bp.post("/<slug>/lessons/<int:day>/move")
@requires(WRITE_DRAFTS)
def move(slug: str, day: int) -> ResponseReturnValue:
    """Move lesson DAY one day earlier or later in the draft."""
    to_day = day - 1 if request.form.get("direction") == "up" else day + 1
    return _change(
        slug,
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
        f"Dag {day} is uit het concept gehaald.",
        lambda session: remove_lesson(session, slug, day, author=author(), now=runtime().now()),
    )


@bp.post("/<slug>/discard")
@requires(WRITE_DRAFTS)
def discard(slug: str) -> ResponseReturnValue:
    """Throw the draft away: the editor shows the live version again."""
    with runtime().session() as session:
        had = discard_draft(session, slug)
    flash("Het concept is weggegooid." if had else "Er was geen concept.")
    return redirect(url_for("studio.course", slug=slug))
