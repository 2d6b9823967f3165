"""The Dutch wording the course loader and the course check share.

The clinic reads these messages in the studio (next to the field they are about) and
`nurture course check` prints them. A lesson's front matter key is named as the studio's field
is, with the key itself in brackets for whoever edits the file: "het onderwerp (subject)".
"""

from __future__ import annotations

LESSON_KEY_NAMES = {
    "day": "de dag",
    "subject": "het onderwerp",
    "preheader": "de voorvertoningstekst",
    "teaser": "de vooruitblik",
    "title": "de titel",
}
FRONT_MATTER = "de kop van de les"
NO_LESSONS = "deze cursus heeft geen lessen (geen .md-bestanden); voeg er minstens één toe"


def key_name(key: str) -> str:
    """Return how a message names lesson key KEY: "het onderwerp (subject)"."""
    name = LESSON_KEY_NAMES.get(key)
    return f"{name} ({key})" if name else key


def dutch_list(items: list[str]) -> str:
    """Return ITEMS as Dutch lists them: "a, b en c"."""
    return " en ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def twice(day: int, other: str) -> str:
    """Return the message for a second lesson on DAY (the first is in file OTHER)."""
    return f"dag {day} komt twee keer voor (ook in {other}); geef elke les een eigen dag"
