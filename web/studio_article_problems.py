"""Where the article page shows a problem: under the field the clinic fixes it in.

A split problem (course.outline.SplitProblem) says which file and line it is in and which
heading or day it is about. With the heading table in the page ("marks"), a problem about a
heading stands under that heading's day, one about a day under that day's fields, and the
rest of the outline's under the table; with the outline as text, under that text. A problem
in the article's text stands under the article, with its line.
"""

from __future__ import annotations

from dataclasses import dataclass

from course.article import ARTICLE
from course.content import OUTLINE_FILE
from course.split_problems import SplitProblem

ARTICLE_LABEL = "Tekst van het artikel"
SLUG_LABEL = "Korte naam"
OUTLINE_LABEL = "Indeling als tekst"
MARKS_LABEL = "Indeling"
DAY_FIELD_LABELS = {
    "subject": "onderwerp",
    "preheader": "voorvertoningstekst",
    "teaser": "vooruitblik",
}
NOT_SPLIT = "Het artikel kon niet zo worden gesplitst. Los dit op en splits opnieuw:"
NOT_READ = "Het artikel kon niet gelezen worden:"
NO_OUTLINE = "Er kon geen indeling worden voorgesteld:"
BAD_SLUG = (
    "kies een korte naam voor de cursus: alleen kleine letters, cijfers en streepjes, zoals "
    "rug-en-nek"
)
TOO_LARGE = (
    "het artikel is te lang om in één keer te versturen (Nurture neemt tot ongeveer 200.000 "
    "tekens); maak er twee cursussen van, of kort het in, en plak het opnieuw"
)
NO_HEADINGS = {
    False: "in dit artikel staat geen regel die op een kop lijkt (een korte regel die niet "
    "eindigt op een punt); zet elke kop op een eigen regel, of schrijf de indeling als tekst",
    True: "in dit Markdown-artikel staat geen kop met ## ervoor; zet ## voor elke kop die een "
    "dag begint, of kies Platte tekst als het geen Markdown is",
}


@dataclass(frozen=True)
class PageProblem:
    """A problem, the id of the field it stands under ("" for none), and that field's name.

    LINE is the line of the article or of the outline text it is in (0: none to show).
    """

    message: str
    target: str = ""
    label: str = ""
    line: int = 0

    @property
    def text(self) -> str:
        """Return the problem as it stands under its field: "regel 3: ..." when it has a line."""
        return f"regel {self.line}: {self.message}" if self.line else self.message


def place_split_problems(
    found: list[SplitProblem], marks: list[tuple[str, int]]
) -> list[PageProblem]:
    """Return each split problem with the field it belongs under; MARKS: the heading table."""
    return [_place(problem, marks) for problem in found]


def _place(problem: SplitProblem, marks: list[tuple[str, int]]) -> PageProblem:
    in_article = problem.path.stem == ARTICLE
    days = {day for _, day in marks if day > 0}
    if marks:
        row = next((n for n, (text, _) in enumerate(marks) if text == problem.heading), None)
        if problem.heading and row is not None:
            label = f'Kop "{problem.heading}"'
            return PageProblem(problem.message, f"mark-day-{row}", label)
        if problem.day in days and problem.key in DAY_FIELD_LABELS:
            label = f"Dag {problem.day}: {DAY_FIELD_LABELS[problem.key]}"
            return PageProblem(problem.message, f"{problem.key}-{problem.day}", label)
        if problem.day in days:
            return PageProblem(problem.message, f"day-{problem.day}", f"Dag {problem.day}")
    if in_article:
        return PageProblem(problem.message, "article-text", ARTICLE_LABEL, problem.line)
    if not problem.path.name:
        return PageProblem(problem.message)
    if marks:
        # The outline was made from the table: its lines mean nothing to the clinic.
        return PageProblem(problem.message, "marks", MARKS_LABEL)
    line = problem.line if problem.path.name == OUTLINE_FILE else 0
    return PageProblem(problem.message, "article-outline", OUTLINE_LABEL, line)
