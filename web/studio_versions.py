"""The studio's course pages beyond the lessons: settings, versions, diff, publish and revert.

Publishing and reverting need the PUBLISH right (owners) and are written to the audit log
by subscribers.studio with who did it. A publish that removes or renumbers a day people
still wait for is refused until the owner chooses what happens to them (the form offers it).
The settings form carries the stamp of the settings it showed: a save after someone else
changed them is refused (409), as a lesson's is (web/studio_support.check_seen).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from course.drafts import open_draft, update_settings
from course.loader import CourseError
from course.placing import place_problems
from delivery.course_change import OLD, SKIP
from subscribers.accounts import PUBLISH, WRITE_DRAFTS
from subscribers.studio import PublishRefused, check_draft, diff, publish, revert, versions
from web.auth import admin_page, require_admin, requires
from web.context import runtime
from web.studio_support import (
    SETTINGS_FIELDS,
    EditConflict,
    author,
    check_seen,
    course_problems,
    setting_id,
    stamp,
    working_content,
)

bp = Blueprint("studio_versions", __name__, url_prefix="/admin/courses")
bp.before_request(require_admin)

OPTIONAL = {"clinic.website"}  # left empty: the key is removed
LONGEST = 10_000
SETTINGS_CONFLICT = (
    "Iemand anders heeft de instellingen intussen gewijzigd, daarom zijn jouw wijzigingen niet "
    "opgeslagen. Het formulier toont de instellingen zoals ze nu zijn. Wat jij had ingevuld "
    "en anders is, staat onder het veld: neem over wat je wilt houden en sla opnieuw op."
)
# PublishRefused says so when people still wait for a removed or renumbered day.
CHOICE_NEEDED = "Kies wat er met hen gebeurt"


def _value(settings: dict[str, Any], key: str) -> Any:
    found: Any = settings
    for part in key.split("."):
        found = found.get(part, "") if isinstance(found, dict) else ""
    return found


def _shown(value: Any) -> str:
    """Return VALUE as the settings form shows it (a check box: aan or uit)."""
    if isinstance(value, bool):
        return "aan" if value else "uit"
    return "" if value is None else str(value).strip()


def _settings_page(
    slug: str, status: int = 200, *, mine: dict[str, Any] | None = None, **extra: Any
) -> ResponseReturnValue:
    """Render the settings form, problems next to their field; MINE: a refused save's values."""
    with runtime().session() as session:
        content, is_draft = working_content(session, slug)
    problems = check_draft(runtime(), slug) if is_draft else []
    values = {key: _value(content["settings"], key) for key, _, _ in SETTINGS_FIELDS}
    listed = course_problems(place_problems(slug, content, problems), "")
    by_setting: dict[str, list[str]] = {}
    for problem in listed:
        if problem.setting:
            by_setting.setdefault(problem.setting, []).append(problem.message)
    now = {
        key: bool(values[key]) if kind == "check" else values[key]
        for key, _, kind in SETTINGS_FIELDS
    }
    kept = {
        key: _shown(value)
        for key, value in (mine or {}).items()
        if _shown(value) != _shown(now[key])
    }
    return admin_page(
        "admin/studio/settings.html",
        status,
        slug=slug,
        fields=[(key, label, kind, setting_id(key)) for key, label, kind in SETTINGS_FIELDS],
        values=values,
        problems=listed,
        by_setting=by_setting,
        seen=stamp(content["settings"]),
        kept=kept,
        **extra,
    )


@bp.get("/<slug>/settings")
def settings_form(slug: str) -> ResponseReturnValue:
    """Show the course settings as a form, the course's problems next to their field."""
    return _settings_page(slug)


@bp.post("/<slug>/settings")
@requires(WRITE_DRAFTS)
def save_settings(slug: str) -> ResponseReturnValue:
    """Save the settings form into the draft (the check says whether it may be published)."""
    changes: dict[str, Any] = {}
    for key, _, kind in SETTINGS_FIELDS:
        if kind == "check":
            changes[key] = key in request.form
            continue
        value = request.form.get(key, "").strip()[:LONGEST]
        changes[key] = None if (key in OPTIONAL and not value) else value
    nurture = runtime()
    try:
        with nurture.session() as session:
            draft = open_draft(session, slug, author=author(), now=nurture.now())
            check_seen(request.form.get("seen", ""), draft.content["settings"])
            update_settings(session, slug, changes, author=author(), now=nurture.now())
    except EditConflict:
        return _settings_page(slug, 409, mine=changes, conflict=SETTINGS_CONFLICT)
    except CourseError as exc:
        flash(str(exc))
    else:
        flash("De instellingen zijn opgeslagen in het concept.")
    return redirect(url_for("studio_versions.settings_form", slug=slug))


def _versions_page(slug: str, status: int = 200, **extra: Any) -> ResponseReturnValue:
    nurture = runtime()
    with nurture.session() as session:
        _, is_draft = working_content(session, slug)
    history = versions(nurture, slug)
    specs = ["concept"] if is_draft else []
    specs += [str(info.number) for info in history]
    old = request.args.get("old", specs[1] if len(specs) > 1 else "")
    new = request.args.get("new", specs[0] if specs else "")
    changes, diff_error = [], None
    if old and new and old != new:
        try:
            changes = diff(nurture, slug, old, new)
        except CourseError as exc:
            diff_error = str(exc)
    return admin_page(
        "admin/studio/versions.html",
        status,
        slug=slug,
        history=history,
        is_draft=is_draft,
        specs=specs,
        old=old,
        new=new,
        changes=changes,
        diff_error=diff_error,
        problems=extra.pop("problems", None)
        if "problems" in extra
        else (check_draft(nurture, slug) if is_draft else []),
        **extra,
    )


@bp.get("/<slug>/versions")
def versions_page(slug: str) -> ResponseReturnValue:
    """Show the history (author, time), a diff between two versions, publish and revert."""
    return _versions_page(slug)


def _choice() -> str | None:
    choice = request.form.get("choice", "")
    return choice if choice in (OLD, SKIP) else None


@bp.post("/<slug>/publish")
@requires(PUBLISH)
def publish_draft(slug: str) -> ResponseReturnValue:
    """Publish the draft as the next version: live for new sends at once."""
    note = request.form.get("note", "").strip()[:200] or None
    try:
        published = publish(runtime(), slug, author=author(), choice=_choice(), note=note)
    except PublishRefused as exc:
        return _refused(slug, exc, "publish")
    flash(f"Versie {published.version.number} is gepubliceerd en nu live.")
    return redirect(url_for("studio_versions.versions_page", slug=slug))


@bp.post("/<slug>/revert/<int:number>")
@requires(PUBLISH)
def revert_to(slug: str, number: int) -> ResponseReturnValue:
    """Publish version NUMBER's content again, as a new version."""
    try:
        published = revert(runtime(), slug, number, author=author(), choice=_choice())
    except PublishRefused as exc:
        return _refused(slug, exc, f"revert-{number}")
    flash(
        f"Versie {number} is opnieuw gepubliceerd als versie {published.version.number} en nu live."
    )
    return redirect(url_for("studio_versions.versions_page", slug=slug))


def _refused(slug: str, refused: PublishRefused, action: str) -> ResponseReturnValue:
    needs_choice = any(CHOICE_NEEDED in problem for problem in refused.problems)
    return _versions_page(
        slug,
        409,
        problems=refused.problems,
        refused=True,
        choose_for=action if needs_choice else None,
    )
