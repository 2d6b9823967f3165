"""Unsubscribe pages: stop one course's mail, or all mail from the clinic (RFC 8058 too).

The link in a course's mail (and its one-click List-Unsubscribe header) names that course:
its button and the mail client's one-click POST stop that course only, and the page offers
a second button that stops all mail. A link without a course (mail sent before there were
several courses) stops all mail, as it did then. A GET only shows the page: mail scanners
fetch every link.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask.typing import ResponseReturnValue

from emails.tokens import TokenError
from subscribers import service, signup
from web.context import runtime
from web.courses import page, page_course

bp = Blueprint("unsubscribe", __name__)

# The form field of the page's second button: stop all mail from the clinic.
SCOPE_FIELD = "scope"
ALL_MAIL = "all"


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """Show the buttons; a GET never unsubscribes, as mail scanners fetch links."""
    tokens = runtime().tokens
    try:
        subscriber_id, course_slug = tokens.read_unsubscribe_course(token)
    except TokenError:
        return page("public/unsubscribe_invalid.html", 400)
    # Some would rather pause or move the hour than leave: offer the course's preferences page.
    preferences_token = tokens.make_preferences(subscriber_id, course_slug)
    preferences = url_for("preferences.page", token=preferences_token)
    return page(
        "public/unsubscribe.html",
        course=page_course(course_slug),
        token=token,
        one_course=course_slug is not None,
        preferences=preferences,
        scope_field=SCOPE_FIELD,
        all_mail=ALL_MAIL,
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Unsubscribe: the page's buttons and RFC 8058 one-click both land here, no login needed."""
    nurture = runtime()
    try:
        subscriber_id, course_slug = nurture.tokens.read_unsubscribe_course(token)
    except TokenError:
        return page("public/unsubscribe_invalid.html", 400)
    # RFC 8058: a mail client's own button posts exactly this body (and stops the course).
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    source = signup.ONE_CLICK if one_click else signup.PAGE
    ip = request.remote_addr
    everything = course_slug is None or request.form.get(SCOPE_FIELD) == ALL_MAIL
    with nurture.session() as session:
        if course_slug is not None and not everything:
            service.leave_course(nurture, session, subscriber_id, course_slug, source=source, ip=ip)
        else:
            service.unsubscribe(
                nurture, session, subscriber_id, source=source, ip=ip, course_slug=course_slug
            )
    return page(
        "public/unsubscribed.html",
        course=page_course(course_slug),
        everything=everything,
    )
