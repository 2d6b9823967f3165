"""The dashboard charts' data: labels and series, drawn in the browser by Chart.js.

Chart.js is vendored in web/static/vendor/chartjs/ and started by web/static/charts.js, which
reads this data from a <script type="application/json"> block (the CSP allows no inline
script). The same data fills each chart's table, which screen readers read and which is what
a browser without JavaScript shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracking.stats import LessonStats

# (attribute, Dutch label, colour): the lesson chart's series, in funnel order.
LESSON_SERIES = [
    ("sent", "Verzonden", "#9aa5b1"),
    ("delivered", "Afgeleverd", "#3e7cb1"),
    ("human_opened", "Geopend (mens)", "#2f9e44"),
    ("machine_opened", "Geopend (machine)", "#c5d86d"),
    ("clicked", "Geklikt", "#e8590c"),
]
SIGNUPS_COLOUR = "#3e7cb1"
DUTCH_MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@dataclass(frozen=True)
class Series:
    """One row of bars: its name, its colour and a whole number per label."""

    label: str
    colour: str
    values: list[int]


@dataclass(frozen=True)
class Chart:
    """A bar chart: what it shows (for screen readers too), its x labels and its series."""

    title: str
    description: str
    labels: list[str]
    series: list[Series] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return what web/static/charts.js reads."""
        return {
            "title": self.title,
            "labels": self.labels,
            "series": [
                {"label": each.label, "colour": each.colour, "values": each.values}
                for each in self.series
            ],
        }

    def rows(self) -> list[tuple[str, list[int]]]:
        """Return the table fallback's rows: each label with its value per series."""
        return [
            (label, [each.values[index] for each in self.series])
            for index, label in enumerate(self.labels)
        ]


def lesson_chart(lessons: Sequence[LessonStats]) -> Chart:
    """Return grouped bars per lesson: sent, delivered, human and machine opens, clicks."""
    return Chart(
        title="Per les",
        description=(
            "Per les: verzonden, afgeleverd, geopend en geklikt (de cijfers van de grafiek)."
        ),
        labels=[f"Dag {lesson.day}" for lesson in lessons],
        series=[
            Series(label, colour, [int(getattr(lesson, name)) for lesson in lessons])
            for name, label, colour in LESSON_SERIES
        ],
    )


def day_label(day: date) -> str:
    """Return DAY the Dutch short way: "2 mrt"."""
    return f"{day.day} {DUTCH_MONTHS[day.month - 1]}"


def signups_chart(days: Sequence[tuple[date, int]]) -> Chart:
    """Return one bar per day for signups."""
    return Chart(
        title="Aanmeldingen per dag",
        description="Aanmeldingen per dag (de cijfers van de grafiek).",
        labels=[day_label(day) for day, _count in days],
        series=[Series("Aanmeldingen", SIGNUPS_COLOUR, [count for _day, count in days])],
    )
