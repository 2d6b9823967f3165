"""Find the example content a course ships with that must be replaced before going live.

The shipped course carries an invented postal address, links to `umoya.example` (a domain that
cannot exist) and `VERVANG DIT` ("replace this") comments beside them. Mail with a fake postal
address breaks the law on commercial email, and its links lead nowhere, so `nurture doctor`
reports each one with the file and line to edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The shipped examples; the clinic replaces them in course.toml.
EXAMPLE_POSTAL_ADDRESS = "Voorbeeldstraat 1, 1234 AB Voorbeeldstad"
EXAMPLE_ADDRESS_WORDS = ("Voorbeeldstraat", "Voorbeeldstad")
EXAMPLE_DOMAIN = "umoya.example"
# The comment marking each example in course.toml ("replace this").
MARKER = "VERVANG DIT"


@dataclass
class Placeholders:
    """Where a course folder still holds example content: "file:line" each."""

    examples: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)


def find_placeholders(folder: Path) -> Placeholders:
    """Return the example address, example links and markers left in FOLDER's files.

    Examples (the address and `umoya.example`) are looked for in course.toml and in every
    lesson; the marker only in course.toml, where the shipped course puts it.
    """
    files: dict[str, str] = {}
    for path in sorted([folder / "course.toml", *folder.glob("*.md")]):
        try:
            files[path.name] = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # unreadable files are `nurture course check`'s to report
    return find_placeholders_in(files)


def find_placeholders_in(files: dict[str, str]) -> Placeholders:
    """Return the examples and markers in FILES (file name -> text), as "name:line" each."""
    found = Placeholders()
    for name, text in files.items():
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{name}:{number}"
            if name == "course.toml" and MARKER in line.upper():
                found.markers.append(where)
                continue  # the marker's own comment names the example domain
            lowered = line.lower()
            if EXAMPLE_DOMAIN in lowered or any(word in line for word in EXAMPLE_ADDRESS_WORDS):
                found.examples.append(where)
    return found
