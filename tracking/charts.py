"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, no inline styles (CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from tracking.stats import LessonStats

# (attribute, Dutch label, colour): the lesson chart's series, in funnel order.
LESSON_SERIES = [
    ("sent", "Verzonden", "#9aa5b1"),
    ("delivered", "Afgeleverd", "#3e7cb1"),
    ("human_opened", "Geopend (mens)", "#2f9e44"),
    ("machine_opened", "Geopend (machine)", "#c5d86d"),
    ("clicked", "Geklikt", "#e8590c"),
]
WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 36, 40
DUTCH_MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


def _nice_max(value: int) -> int:
    """Round VALUE up to 1, 2 or 5 times a power of ten, so gridlines land on round numbers."""
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _axes(top_value: int, title: str, label: str) -> list[str]:
    plot_height = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(title)}</title>",
    ]
    for n in range(5):
        value = top_value * n // 4
        y = TOP + plot_height - plot_height * n / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            'stroke="#e3e7eb" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#52606d">{value}</text>'
        )
    return parts


def lesson_chart(lessons: Sequence[LessonStats]) -> Markup:
    """Draw grouped bars per lesson: sent, delivered, human and machine opens, clicks."""
    top_value = _nice_max(max((lesson.sent for lesson in lessons), default=0))
    parts = _axes(
        top_value, "Per les", "Staafdiagram per les: verzonden, afgeleverd, geopend, geklikt"
    )
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    group = plot_width / max(len(lessons), 1)
    bar = group * 0.8 / len(LESSON_SERIES)
    for index, lesson in enumerate(lessons):
        x0 = LEFT + index * group + group * 0.1
        for n, (name, label, colour) in enumerate(LESSON_SERIES):
            value = int(getattr(lesson, name))
            height = plot_height * value / top_value
            x = x0 + n * bar
            y = TOP + plot_height - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>Dag {lesson.day}, {escape(label)}: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="12" fill="#1f2933">Dag {lesson.day}</text>'
        )
    x = LEFT
    for _name, label, colour in LESSON_SERIES:
        parts.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 16}" y="20" font-size="12" fill="#1f2933">{escape(label)}</text>'
        )
        # About 7 px per character at 12 px, plus the swatch and a gap.
        x += 16 + 7 * len(label) + 24
    parts.append("</svg>")
    # Safe: every piece of text above went through escape(); the rest is numbers.
    return Markup("".join(parts))  # noqa: S704


def signups_chart(days: Sequence[tuple[date, int]]) -> Markup:
    """Draw one bar per day for signups."""
    top_value = _nice_max(max((count for _day, count in days), default=0))
    parts = _axes(top_value, "Aanmeldingen per dag", "Staafdiagram: aanmeldingen per dag")
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(days), 1)
    for index, (day, count) in enumerate(days):
        height = plot_height * count / top_value
        x = LEFT + index * slot + slot * 0.15
        y = TOP + plot_height - height
        label = f"{day.day} {DUTCH_MONTHS[day.month - 1]}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="#3e7cb1"><title>{label}: {count}</title></rect>'
        )
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle" font-size="11" fill="#52606d">{label}</text>'
            )
    parts.append("</svg>")
    # Safe: every piece of text above went through escape(); the rest is numbers.
    return Markup("".join(parts))  # noqa: S704
