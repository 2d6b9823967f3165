"""The course check's rendering half: every lesson renders as sent, and Gmail won't clip it."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from course.loader import Course
from emails.preview import render_sample
from emails.render import Renderer

# Gmail clips a message whose HTML is over about 102 KB; stay clear of it.
HTML_MAX_BYTES = 102_000


def rendering_problems(renderer: Renderer, course: Course) -> list[str]:
    """Render every lesson as sent and report template errors and clipping size."""
    problems = []
    for lesson in course.lessons:
        try:
            rendered = render_sample(renderer, course, lesson.day, tracked=True)
        except TemplateSyntaxError as exc:
            problems.append(
                f"{exc.filename or exc.name}:{exc.lineno}: fout in het mailsjabloon bij het "
                f"opmaken van {lesson.path.name} ({exc.message}); dit is een fout in de "
                "software, niet in de les"
            )
            continue
        except Exception as exc:  # any failure here would also fail the real send
            problems.append(
                f"{lesson.path}:1: deze les kon niet als mail worden opgemaakt "
                f"({type(exc).__name__}: {exc})"
            )
            continue
        size = len(rendered.html.encode("utf-8"))
        if size >= HTML_MAX_BYTES:
            problems.append(
                f"{lesson.path}:{lesson.body_line}: de mail is {size // 1000} KB; Gmail knipt "
                "mails boven 102 KB af, dus maak de les korter"
            )
    return problems
