"""The closing email's fill-in: a short thank-you after the last lesson, with the call to action.

Built once per course like a lesson (emails.layout), from the course's [closing] texts.
It ends with "Was deze cursus nuttig? Ja / Nee": the lessons' rating links, whose answer is
stored for this mail's day (CLOSING_DAY), so the dashboard shows it as the whole course's.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from course.loader import Course
from emails import lesson_links
from emails.layout import FillIn, LinkSlots, check_free_of_markers, cta_values, render_fill_in
from emails.names import clean_line


def build_closing(
    course: Course,
    context: dict[str, str],
    markdown: Callable[[str, LinkSlots], tuple[Markup, str]],
) -> FillIn:
    """Render COURSE's closing email once; CONTEXT holds the course-wide names.

    MARKDOWN turns course text into (HTML, text) with its links in slots, as for a lesson.
    """
    closing = course.closing
    if closing is None:
        raise ValueError(f"{course.slug} has no [closing] email")
    check_free_of_markers(closing.subject, closing.preheader, closing.text)
    links = LinkSlots()
    body_html, body_text = markdown(closing.text, links)
    values = {
        **context,
        "body_html": body_html,
        "body_text": body_text.rstrip("\n"),
        **cta_values(course.cta_url, course.cta_label, course.cta_text, links),
        # Per-reader rating links, resolved like a lesson's (emails.lesson_links).
        "rating_yes_href": links.slot(lesson_links.RATING_YES),
        "rating_no_href": links.slot(lesson_links.RATING_NO),
    }
    return render_fill_in(
        "closing",
        values,
        subject=clean_line(closing.subject),
        preheader=clean_line(closing.preheader),
        links=links,
    )
