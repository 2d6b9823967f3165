"""What stands between a draft and publishing: the course check, example content, consent.

The check is `nurture course check`'s, run on the draft written out as a folder, so its
messages name the same files and lines an export would have. Publishing is also refused
while the example address or `umoya.example` links are left, and when the consent text
changed but its version did not (a consent version must name one text for good: the
consent history records the version people agreed to). These name their course.toml line
too, so the studio can show each next to its field (course.placing).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from course.check import CourseCheck, check_folder
from course.content import Content, content_files, write_folder
from course.placeholders import EXAMPLE_DOMAIN, find_placeholders_in
from course.placing import toml_line


def check_content(slug: str, content: Content, also: CourseCheck | None = None) -> list[str]:
    """Return the course check's problems of CONTENT, as "SLUG/file:line: message"."""
    with tempfile.TemporaryDirectory(prefix="nurture-check-") as tmp:
        folder = Path(tmp) / slug
        write_folder(content, folder)
        problems = check_folder(folder, also)
    return [problem.replace(str(folder), slug) for problem in problems]


def placeholder_problems(slug: str, content: Content) -> list[str]:
    """Return a Dutch message for each line that still holds the shipped example content."""
    found = find_placeholders_in(content_files(content))
    return [
        f"{slug}/{where}: voorbeeldinhoud (het voorbeeldadres of een link naar "
        f"{EXAMPLE_DOMAIN}); vul de echte gegevens van de praktijk in"
        for where in found.examples
    ]


# Settings every mail or the signup page shows: present but empty is a mistake (the studio's
# settings form can empty them; the loader only asks that the key is there).
FILLED_SETTINGS = {
    "title": "de titel van de cursus",
    "sender_name": "de naam van de afzender",
    "clinic.name": "de naam van de praktijk",
    "clinic.postal_address": "het postadres van de praktijk (verplicht onderaan elke mail)",
    "cta.url": "de link van de oproep tot actie",
    "cta.label": "de knoptekst van de oproep tot actie",
    "confirmation.subject": "het onderwerp van de bevestigingsmail",
    "confirmation.intro": "de tekst van de bevestigingsmail",
}


def empty_setting_problems(slug: str, content: Content) -> list[str]:
    """Return a Dutch message for each setting every mail needs that is present but empty."""
    problems = []
    toml = content_files(content)["course.toml"]
    for key, label in FILLED_SETTINGS.items():
        value: Any = content["settings"]
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and not str(value).strip():
            problems.append(
                f"{slug}/course.toml:{toml_line(toml, key)}: {label} is leeg; vul het in"
            )
    return problems


def _consent(content: Content) -> tuple[str, str]:
    consent: dict[str, Any] = content["settings"].get("consent", {})
    return str(consent.get("version", "1")), str(consent.get("text", ""))


def consent_problem(slug: str, content: Content, history: Iterable[Content]) -> str | None:
    """Return why CONTENT's consent version may not be used, or None.

    HISTORY is the course's earlier versions. A version that already named another text is
    refused: the text changed, so the version must be raised.
    """
    version, text = _consent(content)
    for earlier in history:
        earlier_version, earlier_text = _consent(earlier)
        if earlier_version == version and earlier_text != text:
            line = toml_line(content_files(content)["course.toml"], "consent.version")
            return (
                f"{slug}/course.toml:{line}: de toestemmingstekst is gewijzigd, maar de versie "
                f'("{version}") niet; verhoog [consent] version, want die versie hoort al '
                "bij een andere tekst"
            )
    return None


def publish_blockers(
    slug: str, content: Content, history: Iterable[Content], also: CourseCheck | None = None
) -> list[str]:
    """Return everything that blocks publishing CONTENT (empty: it may be published)."""
    problems = check_content(slug, content, also)
    problems += empty_setting_problems(slug, content)
    problems += placeholder_problems(slug, content)
    consent = consent_problem(slug, content, history)
    return problems + ([consent] if consent else [])
