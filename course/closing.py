"""The optional closing email of a course: the [closing] table of course.toml.

Off unless the table is there with after_days above 0: the course then sends one short
thank-you (with the call to action) that many days after the last lesson.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOSING_REQUIRED = {"after_days", "subject", "text"}
CLOSING_OPTIONAL = {"preheader"}
MAX_AFTER_DAYS = 60


class ClosingError(ValueError):
    """The [closing] table is wrong; the message says what to fix."""


@dataclass(frozen=True)
class Closing:
    """The closing email: a thank-you AFTER_DAYS days after the last lesson."""

    after_days: int
    subject: str
    preheader: str
    text: str


def read_closing(path: Path, section: dict[str, Any]) -> Closing | None:
    """Read the [closing] table (its keys already checked); None when after_days is 0."""
    after_days = section["after_days"]
    if (
        not isinstance(after_days, int)
        or isinstance(after_days, bool)
        or not 0 <= after_days <= MAX_AFTER_DAYS
    ):
        raise ClosingError(
            f"{path}: [closing] after_days moet een heel getal van 0 tot en met "
            f"{MAX_AFTER_DAYS} zijn (het aantal dagen na de laatste les; 0 zet de mail uit)"
        )
    for key in ("subject", "preheader", "text"):
        if not isinstance(section.get(key, ""), str):
            raise ClosingError(f"{path}: [closing] {key} moet tekst zijn, tussen aanhalingstekens")
    if not section["subject"].strip() or not section["text"].strip():
        raise ClosingError(f"{path}: [closing] subject en text mogen niet leeg zijn; vul ze in")
    if after_days == 0:
        return None
    return Closing(
        after_days=after_days,
        subject=section["subject"].strip(),
        preheader=str(section.get("preheader", "")).strip(),
        text=section["text"].strip(),
    )
