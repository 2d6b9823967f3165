"""A new course from an article, in the studio: paste, outline, split, check coverage, save.

The outline (which article heading goes to which day, and each day's subject) is edited in
the page; "Indeling voorstellen" starts one from the article's headings. Splitting shows the
coverage report (course.coverage); saving stores the result as the new course's draft,
with the signup course's settings to start from (its example details still block publishing).
A problem stands under the field it is about (web.studio_article_problems), and in a list
on top that links to it.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from course.article import LESSON_TEXTS, SLUG, outline_from_marks, split_pasted, suggest_marks
from course.content import read_folder
from course.coverage import sentences
from course.drafts import has_course, save_draft
from course.loader import CourseError
from course.split_problems import SplitError
from course.versions import live_version
from runtime import Runtime
from subscribers.accounts import WRITE_DRAFTS
from web.auth import admin_page, require_admin, requires
from web.context import runtime
from web.studio_article_problems import (
    ARTICLE_LABEL,
    BAD_SLUG,
    NO_HEADINGS,
    NO_OUTLINE,
    NOT_READ,
    NOT_SPLIT,
    SLUG_LABEL,
    TOO_LARGE,
    PageProblem,
    place_split_problems,
)
from web.studio_support import author

bp = Blueprint("studio_article", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)

ARTICLE_MAX = 200_000
OUTLINE_MAX = 50_000
MARKS_MAX = 300  # headings marked in the page; an article has far fewer


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    form = {
        "slug": request.form.get("slug", "").strip()[:100],
        "title": request.form.get("title", "").strip()[:200],
        "article": request.form.get("article", "")[:ARTICLE_MAX],
        "outline": request.form.get("outline", "")[:OUTLINE_MAX],
        "markdown": request.form.get("format") == "markdown",
    }
    form |= context.pop("form", {})
    marks = context.pop("marks", None)
    if marks is None and "drop_marks" not in context:
        marks = _marks_from_form()
    context.pop("drop_marks", None)
    return _render(status, form, marks or [], context)


def _render(
    status: int, form: dict[str, Any], marks: list[tuple[str, int]], context: dict[str, Any]
) -> ResponseReturnValue:
    """Render the page with FORM's values, MARKS and the problems (PageProblem) in CONTEXT."""
    days = sorted({day for _, day in marks if day > 0})
    problems: list[PageProblem] = context.pop("problems", [])
    by_target: dict[str, list[str]] = {}
    for problem in problems:
        by_target.setdefault(problem.target, []).append(problem.text)
    return admin_page(
        "admin/studio/article.html",
        status,
        form=form,
        marks=marks,
        days=days,
        day_fields=context.pop("day_fields", None) or _day_fields(days),
        sentence_count=lambda body: len(sentences(body)),
        problems=problems,
        by_target=by_target,
        **context,
    )


def _marks_from_form() -> list[tuple[str, int]] | None:
    """Return the (heading, day) marks the page sent, or None when it sent none."""
    marks = []
    for index in range(MARKS_MAX):
        heading = request.form.get(f"mark-heading-{index}")
        if heading is None:
            break
        day = request.form.get(f"mark-day-{index}", "0").strip()
        marks.append((heading[:300], int(day) if day.isdigit() and int(day) <= 99 else 0))
    return marks or None


def _day_fields(days: list[int]) -> dict[int, dict[str, str]]:
    """Return each day's subject, preheader and teaser as the page sent them."""
    return {
        day: {key: request.form.get(f"{key}-{day}", "")[:300] for key in LESSON_TEXTS}
        for day in days
    }


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


def _outline(outline: str, marks: list[tuple[str, int]] | None) -> dict[str, Any]:
    """Return the page context showing OUTLINE, and the marks unless the text was used."""
    context: dict[str, Any] = {"form": {"outline": outline}}
    return context if marks is not None else context | {"drop_marks": True}


@bp.errorhandler(413)
def too_large(error: Exception) -> ResponseReturnValue:
    """Answer a post too big to read: the CSRF check hit it before require_admin could run."""
    return require_admin() or _too_large(error)


@requires(WRITE_DRAFTS)
def _too_large(_error: Exception) -> ResponseReturnValue:
    """Show the page again, empty (the post was not read), saying the article is too long."""
    form = {"slug": "", "title": "", "article": "", "outline": "", "markdown": False}
    problem = PageProblem(TOO_LARGE, "article-text", ARTICLE_LABEL)
    return _render(413, form, [], {"problems": [problem], "summary": NOT_READ})


def _article_problem(article: str) -> str:
    """Return what is wrong with the pasted ARTICLE's length, or ""."""
    if not article.strip():
        return "plak eerst de tekst van het artikel in dit vak"
    if len(article) > ARTICLE_MAX:
        return (
            f"het artikel is {_number(len(article))} tekens; dat is te lang (hoogstens "
            f"{_number(ARTICLE_MAX)}). Maak er twee cursussen van, of kort het in"
        )
    return ""


def _number(count: int) -> str:
    """Return COUNT as Dutch writes it: 200.000."""
    return f"{count:,}".replace(",", ".")


@bp.post("/new")
@requires(WRITE_DRAFTS)
def split_or_save() -> ResponseReturnValue:
    """Suggest an outline, split the article and show the coverage, or save the draft course."""
    action = request.form.get("action", "split")
    article = request.form.get("article", "")
    markdown = request.form.get("format") == "markdown"
    if problem := _article_problem(article):
        return _page(400, problems=[PageProblem(problem, "article-text", ARTICLE_LABEL)])
    if action == "suggest":
        suggested = suggest_marks(article, markdown=markdown)
        if not suggested:
            found = PageProblem(NO_HEADINGS[markdown], "article-text", ARTICLE_LABEL)
            return _page(400, problems=[found], summary=NO_OUTLINE, marks=[])
        subjects = {day: {"subject": heading[:70]} for heading, day in suggested}
        return _page(marks=suggested, day_fields=subjects)
    outline = request.form.get("outline", "")[:OUTLINE_MAX]
    marks = None if action == "split-text" else _marks_from_form()
    if marks is not None:
        days = sorted({day for _, day in marks if day > 0})
        outline = outline_from_marks(marks, _day_fields(days))
    slug, title = request.form.get("slug", "").strip(), request.form.get("title", "").strip()
    if not SLUG.fullmatch(slug):
        return _page(400, problems=[PageProblem(BAD_SLUG, "article-slug", SLUG_LABEL)])
    nurture = runtime()
    try:
        settings = _base_settings(nurture, title or slug)
        content, report = split_pasted(article, outline, markdown=markdown, settings=settings)
    except SplitError as exc:
        placed = place_split_problems(exc.found, marks or [])
        return _page(400, problems=placed, summary=NOT_SPLIT, **_outline(outline, marks))
    except CourseError as exc:
        failed = [PageProblem(str(exc))]
        return _page(400, problems=failed, summary=NOT_SPLIT, **_outline(outline, marks))
    if action != "save" or not report.complete:
        return _page(report=report, lessons=content["lessons"], **_outline(outline, marks))
    with nurture.session() as session:
        if has_course(session, slug):
            taken = f"er is al een cursus {slug}; kies een andere korte naam"
            return _page(409, problems=[PageProblem(taken, "article-slug", SLUG_LABEL)])
        save_draft(session, slug, content, author=author(), now=nurture.now())
    flash(
        f"Concept van de cursus {title or slug} opgeslagen ({len(content['lessons'])} lessen). "
        "Vul de gegevens van de praktijk in bij Instellingen en publiceer het."
    )
    return redirect(url_for("studio.course", slug=slug))
