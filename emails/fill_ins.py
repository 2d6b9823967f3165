"""Render the fill-ins of lessons and the confirmation email, once per course.

emails.render then fills them per recipient (emails/layout.py has the slots).
"""

from __future__ import annotations

from markupsafe import Markup

from course.loader import Course
from emails import lesson_links, markup
from emails.layout import (
    CONFIRM_SLOT,
    PREFERENCES_SLOT,
    FillIn,
    LinkSlots,
    check_free_of_markers,
    cta_values,
    marker,
    render_fill_in,
)
from emails.names import clean_line


def markdown(source: str, links: LinkSlots) -> tuple[Markup, str]:
    """Render course Markdown to (HTML, text), its links put in LINKS' slots."""
    tokens = markup.parse(source)
    markup.replace_links(tokens, links.slot)
    # markdown-it escapes text and has raw HTML switched off, so its output is safe markup.
    return Markup(markup.to_html(tokens)), markup.to_text(tokens)  # noqa: S704


def course_context(course: Course) -> dict[str, str]:
    """Return the course-wide names every email of COURSE shows."""
    return {
        "clinic_name": course.clinic_name,
        "postal_address": course.postal_address,
        "course_title": course.title,
        "sender_name": course.sender_name,
    }


def build_lesson(course: Course, day: int) -> FillIn:
    """Render lesson DAY of COURSE once, with slots for each reader's values."""
    lesson = course.lesson(day)
    check_free_of_markers(lesson.body, lesson.subject, lesson.teaser, lesson.title, course.welcome)
    links = LinkSlots()
    welcome_html, welcome_text = (
        markdown(course.welcome, links) if day == 1 and course.welcome else (Markup(""), "")
    )
    body_html, body_text = markdown(lesson.body, links)
    cta = cta_values(course.cta_url, course.cta_label, course.cta_text, links)
    context = {
        **course_context(course),
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
        **cta,
        "preferences_url": marker(PREFERENCES_SLOT),
        # Per-reader links (emails.lesson_links): the rating answers and the scanner trap.
        "rating_yes_href": links.slot(lesson_links.RATING_YES),
        "rating_no_href": links.slot(lesson_links.RATING_NO),
        "trap_href": links.slot(lesson_links.TRAP),
    }
    return render_fill_in(
        "lesson",
        context,
        subject=clean_line(lesson.subject),
        preheader=clean_line(lesson.preheader),
        links=links,
    )


def build_confirmation(course: Course) -> FillIn:
    """Render COURSE's confirmation email once, with slots for each signup's values."""
    texts = course.confirmation
    check_free_of_markers(*texts.values())
    links = LinkSlots()
    intro_html, intro_text = markdown(texts.get("intro", ""), links)
    outro_html, outro_text = markdown(texts.get("outro", ""), links)
    if links.links:
        raise ValueError("the confirmation texts may not contain links besides the button")
    context = {
        **course_context(course),
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
