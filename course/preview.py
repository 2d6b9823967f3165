"""Render a course's lessons as a subscriber sees them, and write them out for proofreading.

Lessons go through the real email renderer (`emails.render`) when it is installed; until
then `_fallback_render` makes a plain HTML page from the Markdown, so check and preview work
either way.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from course.loader import Course

SAMPLE_EMAIL = "voorbeeld@umoya.example"
SAMPLE_FIRST_NAME = "Sanne"


@dataclass(frozen=True)
class Rendered:
    """One lesson rendered for one (sample) recipient."""

    day: int
    subject: str
    html: str
    text: str
    real: bool  # True when the real email renderer made it


def render_lesson(
    course: Course, day: int, *, tracked: bool = False, first_name: str | None = SAMPLE_FIRST_NAME
) -> Rendered:
    """Render DAY of COURSE for a sample recipient, with the real email renderer if present.

    TRACKED gives links and the open pixel their per-delivery form, as in a real send (the
    largest the HTML gets); without it links point straight at their targets.
    """
    try:
        from emails.render import Recipient, render_lesson_email
    except ModuleNotFoundError as exc:
        # Only the renderer's own absence means "not written yet"; anything else is a bug.
        if exc.name not in {"emails.render", "emails"}:
            raise
        return _fallback_render(course, day, first_name)
    recipient = Recipient(
        subscriber_id=1,
        delivery_id=1 if tracked else None,
        email=SAMPLE_EMAIL,
        first_name=first_name,
    )
    message = render_lesson_email(course, day, recipient)
    return Rendered(day, message.subject, message.html, message.text, real=True)


def _fallback_render(course: Course, day: int, first_name: str | None) -> Rendered:
    """Render a lesson as a plain HTML page and its Markdown as text (no email layout)."""
    lesson = course.lesson(day)
    esc = html.escape
    greeting = f"Hoi {first_name}," if first_name else "Hoi,"
    parts = [f"<p>{esc(greeting)}</p>", f"<p><small>dag {day} van {course.days}</small></p>"]
    if day == 1 and course.welcome:
        parts.append(f"<p>{esc(course.welcome)}</p>")
    parts.append(MarkdownIt("commonmark", {"html": False}).render(lesson.body))
    if lesson.teaser:
        parts.append(f"<p><em>{esc(lesson.teaser)}</em></p>")
    if course.cta_text:
        parts.append(f"<p>{esc(course.cta_text)}</p>")
    parts.append(f'<p><a href="{esc(course.cta_url)}">{esc(course.cta_label)}</a></p>')
    parts.append(
        f"<hr><p><small>{esc(course.clinic_name)}, {esc(course.postal_address)}</small></p>"
    )
    page = (
        f'<!doctype html>\n<html lang="{esc(course.language)}"><head><meta charset="utf-8">'
        f"<title>{esc(lesson.subject)}</title></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    text_parts = [greeting, f"dag {day} van {course.days}"]
    if day == 1 and course.welcome:
        text_parts.append(course.welcome)
    text_parts += [lesson.body.strip(), lesson.teaser, course.cta_text]
    text_parts += [
        f"{course.cta_label}: {course.cta_url}",
        f"{course.clinic_name}, {course.postal_address}",
    ]
    text = "\n\n".join(part for part in text_parts if part) + "\n"
    return Rendered(day, lesson.subject, page, text, real=False)


def _page(language: str, title: str, body: str) -> str:
    """Wrap BODY (HTML) in a minimal page."""
    return (
        f'<!doctype html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_preview(course: Course, out: Path) -> list[Path]:
    """Write every lesson as .html and .txt into OUT plus an index.html; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    links = []
    for lesson in course.lessons:
        rendered = render_lesson(course, lesson.day)
        stem = f"dag-{lesson.day:02d}"
        for suffix, content in ((".html", rendered.html), (".txt", rendered.text)):
            path = out / f"{stem}{suffix}"
            path.write_text(content, encoding="utf-8")
            paths.append(path)
        subject, preheader = html.escape(rendered.subject), html.escape(lesson.preheader)
        links.append(
            f'<li><a href="{stem}.html">Dag {lesson.day}: {subject}</a>'
            f' (<a href="{stem}.txt">tekst</a>)<br><small>{preheader}</small></li>'
        )
    index = out / "index.html"
    items = "\n".join(links)
    heading = f"<h1>{html.escape(course.title)}</h1>"
    index.write_text(
        _page(course.language, course.title, f"{heading}\n<ol>\n{items}\n</ol>"),
        encoding="utf-8",
    )
    paths.append(index)
    return paths
