"""A copy of the shipped course with its closing email switched on, for the closing tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from course.loader import CONTENT_DIR

COURSE = "rugpijn-en-training"
CLOSING_TEXT = (
    "Je hebt alle vijf lessen ontvangen: dank je wel voor het lezen! Merk je dat rugpijn je "
    "training nog steeds afremt? Dan kijken we graag met je mee."
)
CLOSING_TOML = f"""
[closing]
after_days = {{after_days}}
subject = "Bedankt voor het volgen van de cursus"
preheader = "Nog één tip, en de vraag wat je ervan vond."
text = "{CLOSING_TEXT}"
"""


SECOND = "tweede-cursus"  # a copy of the shipped course under another name, without closing


def content_with_closing(root: Path, after_days: int = 3, *, second: bool = False) -> Path:
    """Copy the shipped course under ROOT with [closing] after AFTER_DAYS; return ROOT.

    SECOND: a second course (SECOND) stands beside it, as a clinic with two courses has.
    """
    folder = root / COURSE
    shutil.copytree(CONTENT_DIR / COURSE, folder)
    with (folder / "course.toml").open("a", encoding="utf-8") as toml:
        toml.write(CLOSING_TOML.format(after_days=after_days))
    if second:
        shutil.copytree(CONTENT_DIR / COURSE, root / SECOND)
    return root
