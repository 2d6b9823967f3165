"""Build personalised lesson and confirmation emails from per-lesson fill-ins, fast.

Per lesson (once per process and course object): Markdown, Jinja2 layout and CSS inlining,
see emails/layout.py. Per recipient: a cleaned first name, two or three signed tokens per
email plus one per distinct link, and two `str.format` calls.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from config import get_settings
from course.loader import Course
from emails import markup
from emails.bulk import Bulk, Personal
from emails.layout import (
    CONFIRM_SLOT,
    FillIn,
    LinkSlots,
    check_free_of_markers,
    marker,
    render_fill_in,
)
from emails.message import Message
from emails.names import checked_address, clean_first_name, clean_line, greeting_for
from emails.tokens import make_click_token, make_open_token, make_unsubscribe_token

CATEGORY = "nurture"
CATEGORY_MAX = 255
PREVIEW_TOKEN = "voorbeeld"  # noqa: S105 (a placeholder in proof mails, not a secret)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who one email is for; delivery_id is set for lessons (it keys opens and clicks).

    preview marks a proof sent by `nurture send-test`: no real subscriber, so the links are
    untracked and the unsubscribe link is a harmless placeholder.
    """

    subscriber_id: int
    email: str
    first_name: str | None
    delivery_id: int | None = None
    preview: bool = False


# Fill-ins per course object: (weak reference to the course, fill-in). A reloaded course is a
# new object and so gets fresh fill-ins; the weak reference guards against id() reuse.
_FILL_INS: dict[tuple[int, str, int], tuple[weakref.ref[Course], FillIn]] = {}
_FILL_INS_LOCK = threading.Lock()


def _cached(course: Course, kind: str, day: int, build: Callable[[], FillIn]) -> FillIn:
    key = (id(course), kind, day)
    entry = _FILL_INS.get(key)
    if entry is not None and entry[0]() is course:
        return entry[1]
    with _FILL_INS_LOCK:
        entry = _FILL_INS.get(key)
        if entry is not None and entry[0]() is course:
            return entry[1]
        fill_in = build()
        # Forget fill-ins of courses that are gone (tests and reloads make many Course objects).
        for stale in [k for k, (ref, _) in _FILL_INS.items() if ref() is None]:
            del _FILL_INS[stale]
        _FILL_INS[key] = (weakref.ref(course), fill_in)
        return fill_in


def clear_render_cache() -> None:
    """Forget every prepared lesson (after course files change in a long-lived process)."""
    with _FILL_INS_LOCK:
        _FILL_INS.clear()


def _markdown(source: str, links: LinkSlots) -> tuple[Markup, str]:
    tokens = markup.parse(source)
    markup.replace_links(tokens, links.slot)
    # markdown-it escapes text and has raw HTML switched off, so its output is safe markup.
    return Markup(markup.to_html(tokens)), markup.to_text(tokens)  # noqa: S704


def _course_context(course: Course) -> dict[str, str]:
    return {
        "clinic_name": course.clinic_name,
        "postal_address": course.postal_address,
        "course_title": course.title,
        "sender_name": course.sender_name,
    }


def _build_lesson(course: Course, day: int) -> FillIn:
    lesson = course.lesson(day)
    check_free_of_markers(lesson.body, lesson.subject, lesson.teaser, lesson.title, course.welcome)
    links = LinkSlots()
    welcome_html, welcome_text = (
        _markdown(course.welcome, links) if day == 1 and course.welcome else (Markup(""), "")
    )
    body_html, body_text = _markdown(lesson.body, links)
    cta_url = course.cta_url
    cta_href = links.slot(cta_url) if cta_url.startswith(markup.TRACKABLE_SCHEMES) else cta_url
    context = {
        **_course_context(course),
        "day": day,
        "days": course.days,
        "title": lesson.title,
        "body_html": body_html,
        "body_text": body_text.rstrip("\n"),
        "welcome_html": welcome_html,
        "welcome_text": welcome_text.rstrip("\n"),
        "teaser": lesson.teaser,
        # Course authors often start the teaser with "Morgen" already; don't say it twice.
        "teaser_label": "" if lesson.teaser.lower().startswith("morgen") else "Morgen:",
        "cta_text": course.cta_text,
        "cta_label": course.cta_label,
        "cta_href": cta_href,
    }
    return render_fill_in(
        "lesson",
        context,
        subject=clean_line(lesson.subject),
        preheader=clean_line(lesson.preheader),
        links=links,
    )


def _build_confirmation(course: Course) -> FillIn:
    texts = course.confirmation
    check_free_of_markers(*texts.values())
    links = LinkSlots()
    intro_html, intro_text = _markdown(texts.get("intro", ""), links)
    outro_html, outro_text = _markdown(texts.get("outro", ""), links)
    if links.links:
        raise ValueError("the confirmation texts may not contain links besides the button")
    context = {
        **_course_context(course),
        "intro_html": intro_html,
        "intro_text": intro_text.rstrip("\n"),
        "outro_html": outro_html,
        "outro_text": outro_text.rstrip("\n"),
        "button": texts.get("button") or "Ja, stuur mij de cursus",
        "confirm_url": marker(CONFIRM_SLOT),
        "pixel": "",
    }
    return render_fill_in(
        "confirmation",
        context,
        subject=clean_line(texts["subject"]),
        preheader=clean_line(texts.get("preheader", "")),
        links=links,
    )


def _list_unsubscribe(unsubscribe_url: str) -> dict[str, str]:
    value = f"<{unsubscribe_url}>"
    mailto = get_settings().unsubscribe_mailto.strip()
    if mailto:
        address = mailto.removeprefix("mailto:")
        value += f", <mailto:{address}?subject=uitschrijven>"
    return {"List-Unsubscribe": value, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _message(
    course: Course,
    fill_in: FillIn,
    recipient: Recipient,
    *,
    text_values: tuple[str, ...],
    html_values: tuple[str, ...],
    custom_args: dict[str, str],
    category: str,
) -> Personal:
    """Fill FILL_IN for RECIPIENT: greeting and unsubscribe link, then the given values."""
    settings = get_settings()
    first_name = clean_first_name(recipient.first_name)
    greeting = greeting_for(first_name)
    unsubscribe_url = _unsubscribe_url(settings.base_url, recipient)
    if not recipient.preview:
        custom_args["subscriber_id"] = str(recipient.subscriber_id)
    subject = fill_in.subject
    if recipient.preview:
        subject = f"[Proef] {subject}"
    all_text = (greeting, unsubscribe_url, *text_values)
    all_html = (escape(greeting), escape(unsubscribe_url), *html_values)
    head = Message(
        to_email=checked_address(recipient.email),
        to_name=first_name,
        subject=subject,
        html="",
        text="",
        from_email=settings.from_email,
        from_name=course.sender_name or settings.from_name,
        reply_to=settings.reply_to,
        headers=_list_unsubscribe(unsubscribe_url),
        custom_args=custom_args,
        categories=(CATEGORY, category[:CATEGORY_MAX]),
    )
    return Personal(head, all_text, all_html, fill_in.text, fill_in.html)


def _unsubscribe_url(base_url: str, recipient: Recipient) -> str:
    if recipient.preview:
        return f"{base_url}/unsubscribe/{PREVIEW_TOKEN}"
    return f"{base_url}/unsubscribe/{make_unsubscribe_token(recipient.subscriber_id)}"


def render_lesson_email(course: Course, day: int, recipient: Recipient) -> Message:
    """Build the lesson of DAY for RECIPIENT, with tracked links when delivery_id is set."""
    return _lesson(course, _lesson_fill_in(course, day), day, recipient).message


def render_lesson_bulk(course: Course, day: int, recipients: Sequence[Recipient]) -> Bulk:
    """Build the lesson of DAY for RECIPIENTS as one Bulk (shared parts, per-recipient values)."""
    if not recipients:
        raise ValueError("a bulk needs at least one recipient")
    fill_in = _lesson_fill_in(course, day)
    return Bulk(tuple(_lesson(course, fill_in, day, recipient) for recipient in recipients))


def _lesson_fill_in(course: Course, day: int) -> FillIn:
    return _cached(course, "lesson", day, lambda: _build_lesson(course, day))


def _lesson(course: Course, fill_in: FillIn, day: int, recipient: Recipient) -> Personal:
    base_url = get_settings().base_url
    delivery_id = recipient.delivery_id
    if delivery_id is not None and not recipient.preview:
        links = [f"{base_url}/c/{make_click_token(delivery_id, url)}" for url in fill_in.links]
        pixel = (
            f'<img src="{escape(base_url)}/o/{make_open_token(delivery_id)}.gif" width="1" '
            'height="1" alt="" style="display:block;width:1px;height:1px;border:0;">'
        )
        custom_args = {"course": course.slug, "day": str(day), "delivery_id": str(delivery_id)}
    else:
        links, pixel = list(fill_in.links), ""
        custom_args = {"course": course.slug, "day": str(day), "kind": "test"}
    return _message(
        course,
        fill_in,
        recipient,
        text_values=("", "", *links),
        html_values=(pixel, "", *[escape(link) for link in links]),
        custom_args=custom_args,
        category=f"{course.slug}-dag-{day}",
    )


def render_confirmation_email(course: Course, recipient: Recipient, confirm_url: str) -> Message:
    """Build the double opt-in email: an untracked confirm link, no pixel, a footer."""
    fill_in = _cached(course, "confirmation", 0, lambda: _build_confirmation(course))
    confirm_url = clean_line(confirm_url)
    return _message(
        course,
        fill_in,
        recipient,
        text_values=("", confirm_url),
        html_values=("", escape(confirm_url)),
        custom_args={"course": course.slug, "kind": "confirmation"},
        category=f"{course.slug}-bevestiging",
    ).message
