"""The Dutch wording the course loader, the course check and the article splitter share.

The clinic reads these messages in the studio (next to the field they are about) and
`nurture course check` / `nurture course split` print them. A lesson's front matter key is
named as the studio's field is, with the key itself in brackets for whoever edits the file:
"het onderwerp (subject)".
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


def missing(where: str, names: list[str]) -> str:
    """Return the message for keys NAMES (already worded) missing in WHERE."""
    verb, them = ("ontbreekt", "het") if len(names) == 1 else ("ontbreken", "ze")
    return f"in {where} {verb} {dutch_list(names)}; vul {them} in"


def unknown_keys(where: str, unknown: list[str], allowed: list[str]) -> str:
    """Return the message for keys UNKNOWN in WHERE, which takes only ALLOWED."""
    what = "onbekend veld" if len(unknown) == 1 else "onbekende velden"
    # "(toegestaan" ends the part course.check searches for the line of the key.
    return (
        f"{what} {', '.join(unknown)} in {where} (toegestaan: {', '.join(allowed)}); "
        "controleer de spelling of haal het weg"
    )


def empty(name: str) -> str:
    """Return the message for a field NAME (worded: "het onderwerp (subject)") left empty."""
    return f"{name} is leeg; vul het in"


def not_utf8(byte: int) -> str:
    """Return the message for a file that is not UTF-8 from BYTE on."""
    return f"het bestand is niet als UTF-8 opgeslagen (byte {byte}); sla het op als UTF-8"


def unreadable(reason: str) -> str:
    """Return the message for a file the system can't read, for REASON (strerror)."""
    return f"het bestand kan niet gelezen worden ({reason})"


def bad_toml(what: str, detail: str) -> str:
    """Return the message for a TOML file WHAT (named in Dutch) that tomllib can't parse."""
    # DETAIL is tomllib's "... (at line 5, column 3)": course.check takes the line from it.
    return (
        f"{what} is niet te lezen ({detail}); controleer de aanhalingstekens, de haken [ ] "
        "en het = op die regel"
    )


def count_problems(count: int) -> str:
    """Return "1 probleem" or "N problemen"."""
    return "1 probleem" if count == 1 else f"{count} problemen"
