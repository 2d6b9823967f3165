"""A new course from an article, in the studio: paste, outline, split, check coverage, save.

The outline (which article heading goes to which day, and each day's subject) is edited in
the page; "Indeling voorstellen" starts one from the article's headings. Splitting shows the
coverage report (course.coverage); saving stores the result as the new course's draft,
with the signup course's settings to start from (its example details still block publishing).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from course.article import SLUG, split_pasted, suggest_outline
from course.content import read_folder
from course.drafts import has_course, save_draft
from course.loader import CourseError
from course.split import SplitError
from course.versions import live_version
from runtime import Runtime
from subscribers.accounts import WRITE_DRAFTS
from web.auth import admin_page, require_admin, requires
from web.context import runtime
from web.studio_support import author

bp = Blueprint("studio_article", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)

ARTICLE_MAX = 200_000
OUTLINE_MAX = 50_000


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    form = {
        "slug": request.form.get("slug", "").strip()[:100],
        "title": request.form.get("title", "").strip()[:200],
        "article": request.form.get("article", "")[:ARTICLE_MAX],
        "outline": request.form.get("outline", "")[:OUTLINE_MAX],
        "markdown": request.form.get("format") == "markdown",
    }
    return admin_page(
        "admin/studio/article.html", status, form=form | context.pop("form", {}), **context
    )


@bp.get("/new")
@requires(WRITE_DRAFTS)
def new_course() -> ResponseReturnValue:
    """Show the form: the article, its outline, the new course's name."""
    return _page()


def _base_settings(nurture: Runtime, title: str) -> dict[str, Any]:
    """Return the settings a new course starts from: the signup course's, with TITLE."""
    with nurture.session() as session:
        live = live_version(session, nurture.settings.course)
        settings = copy.deepcopy(live.content["settings"]) if live else None
    if settings is None:
        settings = read_folder(nurture.courses.folder())["settings"]
    settings["title"] = title
    # A new course has its own consent text history: it starts at version 1.
    settings.setdefault("consent", {})["version"] = "1"
    return settings


@bp.post("/new")
@requires(WRITE_DRAFTS)
def split_or_save() -> ResponseReturnValue:
    """Suggest an outline, split the article and show the coverage, or save the draft course."""
    action = request.form.get("action", "split")
    article = request.form.get("article", "")
    markdown = request.form.get("format") == "markdown"
    if len(article) > ARTICLE_MAX or not article.strip():
        return _page(400, error="Plak de tekst van het artikel (hoogstens 200.000 tekens).")
    if action == "suggest":
        return _page(form={"outline": suggest_outline(article, markdown=markdown)})
    slug, title = request.form.get("slug", "").strip(), request.form.get("title", "").strip()
    if not SLUG.fullmatch(slug):
        return _page(
            400, error="Kies een korte naam voor de cursus: kleine letters, cijfers en streepjes."
        )
    nurture = runtime()
    try:
        settings = _base_settings(nurture, title or slug)
        content, report = split_pasted(
            article,
            request.form.get("outline", "")[:OUTLINE_MAX],
            markdown=markdown,
            settings=settings,
        )
    except SplitError as exc:
        return _page(400, problems=exc.problems)
    except CourseError as exc:
        return _page(400, problems=[str(exc)])
    if action != "save" or not report.complete:
        return _page(report=report, lessons=content["lessons"])
    with nurture.session() as session:
        if has_course(session, slug):
            return _page(409, error=f"Er is al een cursus {slug}; kies een andere naam.")
        save_draft(session, slug, content, author=author(), now=nurture.now())
    flash(
        f"Concept van de cursus {title or slug} opgeslagen ({len(content['lessons'])} lessen). "
        "Vul de gegevens van de praktijk in bij Instellingen en publiceer het."
    )
    return redirect(url_for("studio.course", slug=slug))
