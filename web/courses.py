"""Which courses the public pages offer: the live ones by slug, and the front page's choice.

A course is live when its folder is in the content folder (`CourseStore.slugs`). The front
page (`/`) shows the signup course (NURTURE_COURSE); with that left empty it shows the one
live course, or a list when there are several.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template

from course.loader import Course, CourseError
from web.context import runtime

# Our pages post forms to ourselves; with 'no-referrer' browsers would send `Origin: null`.
PUBLIC_REFERRER_POLICY = "same-origin"
# The signup form's (hidden) field naming the course; absent: the signup course.
COURSE_FIELD = "course"


def live_courses() -> list[Course]:
    """Return every live course, the signup course first, then by title."""
    nurture = runtime()
    found = [course for slug in nurture.courses.slugs() if (course := live_course(slug))]
    default = nurture.settings.course
    return sorted(found, key=lambda course: (course.slug != default, course.title))


def live_course(slug: str | None) -> Course | None:
    """Return live course SLUG (None: the signup course), or None when there is no such one."""
    nurture = runtime()
    slug = slug or nurture.settings.course
    if not slug or slug not in nurture.courses.slugs():
        return None
    try:
        return nurture.courses.get(slug)
    except CourseError:
        return None  # a broken folder is `nurture course check`'s to report, not a 500 here


def front_course() -> Course | None:
    """Return the course the front page shows, or None when it lists several."""
    if runtime().settings.course:
        return live_course(None)
    courses = live_courses()
    return courses[0] if len(courses) == 1 else None


def page_course(slug: str | None = None) -> Course | None:
    """Return the course a page is about: SLUG's, else the front page's (None: no course)."""
    return (live_course(slug) if slug else None) or front_course()


def page(
    template: str, status: int = 200, *, course: Course | None = None, **context: Any
) -> Response:
    """Render a public page about COURSE (default: the front page's course)."""
    response = Response(
        render_template(template, course=course or page_course(), **context),
        status=status,
        mimetype="text/html",
    )
    response.headers["Referrer-Policy"] = PUBLIC_REFERRER_POLICY
    return response
