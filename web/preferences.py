"""The reader's preferences page (/voorkeuren/<token>): pause, hour and zone, restart, leave.

The link comes in every lesson, signed and never expiring (emails.tokens), and names the
lesson's course: the page and its buttons are about that course (a link from before links
named one: the newest course). Leaving stops that course, or all mail with the second button.
A GET only shows the page: mail scanners fetch every link. Each change is a POST of one small
form to its own address, answered with a redirect back to the page (?gedaan=...), so a reload
posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from emails.tokens import TokenError
from subscribers import preference_changes as changes
from subscribers import preferences
from subscribers.signup import PAGE
from subscribers.validation import TIMEZONE_FIELD, iana_zones
from web.context import runtime

bp = Blueprint("preferences", __name__, url_prefix="/voorkeuren")

WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
# What the page says after a change (the ?gedaan= of the redirect); anything else: nothing.
DONE = {
    "pauze": "Je cursus staat op pauze.",
    "hervat": "Je cursus gaat weer verder.",
    "tijdstip": "Je tijdstip en tijdzone zijn opgeslagen.",
    "opnieuw": "Je begint opnieuw bij dag 1.",
    "niets": "Er was niets te veranderen.",
}
# The form field of the second leave button: stop all mail from the clinic (as on the
# unsubscribe page); without it a link that names its course stops that course.
SCOPE_FIELD = "scope"
ALL_MAIL = "all"
INVALID = "Deze link werkt niet. Gebruik de link 'Voorkeuren' onderaan een van onze e-mails."
UNKNOWN = "Bij deze link hoort geen aanmelding (meer)."
ERASED = (
    "Je gegevens zijn bij ons gewist. Via deze link kun je daarom niets meer instellen, "
    "en we bewaren niets meer van wat je hier invult."
)


def dutch_moment(moment: datetime | None) -> str:
    """Say MOMENT (already local) the Dutch way: 'dinsdag 3 maart om 07:30'."""
    if moment is None:
        return ""
    day = f"{WEEKDAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]}"
    return f"{day} om {moment:%H:%M}"


def _zones(current: str) -> list[str]:
    """Return the zones to choose from: the regions' names (no legacy aliases), sorted."""
    names = {z for z in iana_zones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))}
    return sorted(names | {current, "UTC"})


def _page(template: str, status: int = 200, *, slug: str | None = None, **context: Any) -> Response:
    """Render TEMPLATE for the course SLUG (default: the installation's course)."""
    course = runtime().courses.get(slug)
    response = Response(
        render_template(template, course=course, **context),
        status=status,
        mimetype="text/html",
    )
    # The page holds a personal link; no shared cache keeps it, no Referer leaks it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _message(status: int, message: str) -> Response:
    """Answer with a short Dutch page saying MESSAGE."""
    return _page("public/message.html", status, title="Voorkeuren", message=message)


Reader = tuple[int, str | None]  # the subscriber id and the course the link names (or None)


def _reader(token: str) -> Reader | Response:
    """Return whose page TOKEN is and its course, or the Dutch page saying it does not work."""
    try:
        return runtime().tokens.read_preferences_course(token)
    except TokenError:
        return _message(400, INVALID)


def _show(token: str, reader: Reader, status: int = 200, **context: Any) -> Response:
    """Render READER's preferences page (CONTEXT: errors and the form sent back)."""
    nurture = runtime()
    subscriber_id, course_slug = reader
    with nurture.session() as session:
        standing = preferences.standing(nurture, session, subscriber_id, course_slug)
        if standing is None:
            return _message(404, UNKNOWN)
        enrollment = standing.enrollment
        return _page(
            "public/preferences.html",
            status,
            slug=standing.course_slug,
            token=token,
            standing=standing,
            next_lesson=dutch_moment(
                standing.local(enrollment.next_due_at if enrollment else None)
            ),
            paused_until=dutch_moment(
                standing.local(enrollment.paused_until if enrollment else None)
            ),
            zones=_zones(standing.zone),
            reasons=preferences.REASONS,
            hours=preferences.HOURS,
            done=DONE.get(request.args.get("gedaan", "")),
            scope_field=SCOPE_FIELD,
            all_mail=ALL_MAIL,
            **context,
        )


@bp.errorhandler(preferences.Erased)
def erased(_error: preferences.Erased) -> ResponseReturnValue:
    """Say that the reader was erased: their link shows and changes nothing any more."""
    return _message(410, ERASED)


@bp.get("/<token>")
def page(token: str) -> ResponseReturnValue:
    """Show the reader's course and choices; a GET changes nothing (scanners fetch links)."""
    reader = _reader(token)
    if isinstance(reader, Response):
        return reader
    return _show(token, reader)


def _after(token: str, changed: bool, done: str) -> Response:
    """Send the browser back to the page, saying DONE, or that nothing changed."""
    target = url_for("preferences.page", token=token, gedaan=done if changed else "niets")
    return redirect(target + "#melding", 303)  # type: ignore[return-value]


def _change(token: str, done: str, change: Callable[..., bool]) -> Any:
    """Apply CHANGE to the token's reader and course in one transaction; show DONE."""
    reader = _reader(token)
    if isinstance(reader, Response):
        return reader
    nurture = runtime()
    subscriber_id, course_slug = reader
    with nurture.session() as session:
        changed = change(nurture, session, subscriber_id, course_slug=course_slug)
    return _after(token, changed, done)


@bp.post("/<token>/pauze")
def pause(token: str) -> ResponseReturnValue:
    """Pause for a week (duur=week) or until the reader resumes."""
    week = request.form.get("duur") == "week"
    return _change(token, "pauze", partial(changes.pause, week=week))


@bp.post("/<token>/hervatten")
def resume(token: str) -> ResponseReturnValue:
    """Resume a paused course at the day it stopped."""
    return _change(token, "hervat", changes.resume)


@bp.post("/<token>/tijdstip")
def schedule(token: str) -> ResponseReturnValue:
    """Keep the reader's hour (morning, noon, evening or exact) and time zone."""
    reader = _reader(token)
    if isinstance(reader, Response):
        return reader
    form = request.form
    nurture = runtime()
    try:
        send_time = preferences.parse_hour(form.get("moment"), form.get("exact"))
        with nurture.session() as session:
            changed = changes.set_schedule(
                nurture,
                session,
                reader[0],
                send_time=send_time,
                zone=form.get(TIMEZONE_FIELD),
                course_slug=reader[1],
            )
    except preferences.PreferenceError as error:
        return _show(token, reader, 400, errors={error.field: str(error)}, form=form)
    return _after(token, changed, "tijdstip")


@bp.post("/<token>/opnieuw")
def restart(token: str) -> ResponseReturnValue:
    """Start the course again from day 1."""
    return _change(token, "opnieuw", changes.restart)


@bp.post("/<token>/uitschrijven")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Stop the link's course (or all mail), with an optional reason and comment for the clinic."""
    reader = _reader(token)
    if isinstance(reader, Response):
        return reader
    subscriber_id, course_slug = reader
    form = request.form
    everything = course_slug is None or form.get(SCOPE_FIELD) == ALL_MAIL
    nurture = runtime()
    try:
        with nurture.session() as session:
            known = changes.unsubscribe_with_reason(
                nurture,
                session,
                subscriber_id,
                reason=form.get("reden") or None,
                comment=form.get("toelichting") or None,
                ip=request.remote_addr,
                source=PAGE,
                course_slug=course_slug,
                everything=everything,
            )
    except preferences.PreferenceError as error:
        return _show(token, reader, 400, errors={error.field: str(error)}, form=form)
    if not known:
        return _message(404, UNKNOWN)
    return _page("public/unsubscribed.html", slug=course_slug, everything=everything)
