"""What a split of an article can find wrong: each problem, where it is and what it is about.

`nurture course split` prints them as "path:line: message"; the studio's article page shows
each under the field it is about (web.studio_article_problems).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SplitProblem:
    """One reason a split fails: the file and line, the Dutch message, and what it is about.

    HEADING is the article line (a heading, or the first words of text) and DAY the lesson
    day the problem is about; KEY a [[lesson]] key. The studio uses them to show the problem
    next to that heading's or day's field; str() gives "path:line: message".
    """

    path: Path
    message: str
    line: int = 0
    heading: str = ""
    day: int = 0
    key: str = ""

    def __str__(self) -> str:
        """Return the problem as "path:line: message" ("path: message" without a line)."""
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class SplitError(Exception):
    """The article and outline don't split cleanly; `found` holds every reason."""

    def __init__(self, found: list[SplitProblem]) -> None:
        """Keep every problem; the message is the first."""
        super().__init__(str(found[0]) if found else "het artikel kon niet gesplitst worden")
        self.found = found

    @property
    def problems(self) -> list[str]:
        """Return every problem as "path:line: message"."""
        return [str(problem) for problem in self.found]
