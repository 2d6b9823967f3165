"""The closing email's fill-in: a short thank-you after the last lesson, with the call to action.

Built once per course like a lesson (emails.layout), from the course's [closing] texts.

FEEDBACK HOOK (issue 15 §3, "Was deze les nuttig?"): the template shows a feedback link when
`feedback_href` is given. Until the rating feature has a page to link to, FEEDBACK_URL is
empty and the paragraph is left out; set it from the course (or pass a per-recipient slot as
the lesson's tracked links are) once that page exists.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from course.loader import Course
from emails.layout import FillIn, LinkSlots, check_free_of_markers, cta_values, render_fill_in
from emails.names import clean_line

# See the module docstring: where the closing email's feedback link will come from.
FEEDBACK_URL = ""


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
        "feedback_href": links.slot(FEEDBACK_URL) if FEEDBACK_URL else "",
    }
    return render_fill_in(
        "closing",
        values,
        subject=clean_line(closing.subject),
        preheader=clean_line(closing.preheader),
        links=links,
    )
