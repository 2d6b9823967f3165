"""Render a course's lessons (and closing email) as a subscriber sees them, for proofreading."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from course.loader import Course
from emails.render import Recipient, Renderer

SAMPLE_EMAIL = "voorbeeld@umoya.example"
SAMPLE_FIRST_NAME = "Sanne"


@dataclass(frozen=True)
class Rendered:
    """One lesson rendered for one (sample) recipient."""

    day: int
    subject: str
    html: str
    text: str


def render_sample(
    renderer: Renderer,
    course: Course,
    day: int,
    *,
    tracked: bool = False,
    first_name: str | None = SAMPLE_FIRST_NAME,
) -> Rendered:
    """Render DAY of COURSE for a sample recipient through the real email renderer.

    TRACKED gives links and the open pixel their per-delivery form, as in a real send (the
    largest the HTML gets); without it links point straight at their targets.
    """
    recipient = Recipient(
        subscriber_id=1,
        delivery_id=1 if tracked else None,
        email=SAMPLE_EMAIL,
        first_name=first_name,
    )
    message = renderer.lesson(course, day, recipient)
    return Rendered(day, message.subject, message.html, message.text)


def _page(language: str, title: str, body: str) -> str:
    """Wrap BODY (HTML) in a minimal page."""
    return (
        f'<!doctype html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def _write(out: Path, stem: str, rendered_html: str, text: str) -> list[Path]:
    """Write one email as STEM.html and STEM.txt into OUT; return both paths."""
    paths = []
    for suffix, content in ((".html", rendered_html), (".txt", text)):
        path = out / f"{stem}{suffix}"
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def _item(stem: str, label: str, subject: str, preheader: str) -> str:
    return (
        f'<li><a href="{stem}.html">{label}: {html.escape(subject)}</a>'
        f' (<a href="{stem}.txt">tekst</a>)<br><small>{html.escape(preheader)}</small></li>'
    )


def write_preview(renderer: Renderer, course: Course, out: Path) -> list[Path]:
    """Write every lesson (and the closing email) as .html and .txt into OUT, plus an index."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    links = []
    for lesson in course.lessons:
        rendered = render_sample(renderer, course, lesson.day)
        stem = f"dag-{lesson.day:02d}"
        paths += _write(out, stem, rendered.html, rendered.text)
        links.append(_item(stem, f"Dag {lesson.day}", rendered.subject, lesson.preheader))
    if course.closing is not None:
        sample = Recipient(subscriber_id=1, email=SAMPLE_EMAIL, first_name=SAMPLE_FIRST_NAME)
        [message] = renderer.closing_bulk(course, [sample]).messages
        paths += _write(out, "afsluiting", message.html, message.text)
        label = f"Afsluitmail ({course.closing.after_days} dagen na de laatste les)"
        links.append(_item("afsluiting", label, message.subject, course.closing.preheader))
    index = out / "index.html"
    items = "\n".join(links)
    heading = f"<h1>{html.escape(course.title)}</h1>"
    index.write_text(
        _page(course.language, course.title, f"{heading}\n<ol>\n{items}\n</ol>"),
        encoding="utf-8",
    )
    paths.append(index)
    return paths
