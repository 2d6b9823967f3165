"""The reader's preferences page (/voorkeuren/<token>): pause, hour and zone, restart, leave.

The link comes in every lesson, signed and never expiring (emails.tokens). A GET only shows
the page: mail scanners fetch every link. Each change is a POST of one small form to its own
address, answered with a redirect back to the page (?gedaan=...), so a reload posts nothing.
The link of an erased reader says so, and changes nothing (subscribers.preferences.Erased).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from emails.tokens import TokenError
from runtime import Runtime
from subscribers import leaving, preferences
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


def _subscriber_id(token: str) -> int | Response:
    """Return the subscriber id TOKEN names, or the Dutch page saying it does not work."""
    try:
        return runtime().tokens.read_preferences(token)
    except TokenError:
        return _message(400, INVALID)


def _show(token: str, subscriber_id: int, status: int = 200, **context: Any) -> Response:
    """Render SUBSCRIBER_ID's preferences page (CONTEXT: errors and the form sent back)."""
    nurture = runtime()
    with nurture.session() as session:
        standing = preferences.standing(nurture, session, subscriber_id)
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
            reasons=leaving.REASONS,
            hours=preferences.HOURS,
            done=DONE.get(request.args.get("gedaan", "")),
            **context,
        )


@bp.errorhandler(preferences.Erased)
def erased(_error: preferences.Erased) -> ResponseReturnValue:
    """Say that the reader was erased: their link shows and changes nothing any more."""
    return _message(410, ERASED)


@bp.get("/<token>")
def page(token: str) -> ResponseReturnValue:
    """Show the reader's course and choices; a GET changes nothing (scanners fetch links)."""
    subscriber_id = _subscriber_id(token)
    if isinstance(subscriber_id, Response):
        return subscriber_id
    return _show(token, subscriber_id)


def _after(token: str, changed: bool, done: str) -> Response:
    """Send the browser back to the page, saying DONE, or that nothing changed."""
    target = url_for("preferences.page", token=token, gedaan=done if changed else "niets")
    return redirect(target + "#melding", 303)  # type: ignore[return-value]


def _change(token: str, done: str, change: Callable[[Runtime, Session, int], bool]) -> Any:
    """Apply CHANGE for the token's reader in one transaction, then show the page saying DONE."""
    subscriber_id = _subscriber_id(token)
    if isinstance(subscriber_id, Response):
        return subscriber_id
    nurture = runtime()
    with nurture.session() as session:
        changed = change(nurture, session, subscriber_id)
    return _after(token, changed, done)


@bp.post("/<token>/pauze")
def pause(token: str) -> ResponseReturnValue:
    """Pause for a week (duur=week) or until the reader resumes."""
    week = request.form.get("duur") == "week"
    return _change(token, "pauze", partial(preferences.pause, week=week))


@bp.post("/<token>/hervatten")
def resume(token: str) -> ResponseReturnValue:
    """Resume a paused course at the day it stopped."""
    return _change(token, "hervat", preferences.resume)


@bp.post("/<token>/tijdstip")
def schedule(token: str) -> ResponseReturnValue:
    """Keep the reader's hour (morning, noon, evening or exact) and time zone."""
    subscriber_id = _subscriber_id(token)
    if isinstance(subscriber_id, Response):
        return subscriber_id
    form = request.form
    nurture = runtime()
    try:
        send_time = preferences.parse_hour(form.get("moment"), form.get("exact"))
        with nurture.session() as session:
            changed = preferences.set_schedule(
                nurture, session, subscriber_id, send_time=send_time, zone=form.get(TIMEZONE_FIELD)
            )
    except preferences.PreferenceError as error:
        return _show(token, subscriber_id, 400, errors={error.field: str(error)}, form=form)
    return _after(token, changed, "tijdstip")


@bp.post("/<token>/opnieuw")
def restart(token: str) -> ResponseReturnValue:
    """Start the course again from day 1."""
    return _change(token, "opnieuw", preferences.restart)


@bp.post("/<token>/uitschrijven")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Unsubscribe, with an optional reason and comment for the clinic."""
    subscriber_id = _subscriber_id(token)
    if isinstance(subscriber_id, Response):
        return subscriber_id
    form = request.form
    nurture = runtime()
    try:
        with nurture.session() as session:
            known = leaving.unsubscribe_with_reason(
                nurture,
                session,
                subscriber_id,
                reason=form.get("reden") or None,
                comment=form.get("toelichting") or None,
                ip=request.remote_addr,
                source=PAGE,
            )
    except preferences.PreferenceError as error:
        return _show(token, subscriber_id, 400, errors={error.field: str(error)}, form=form)
    if not known:
        return _message(404, UNKNOWN)
    return _page("public/unsubscribed.html")
