"""Helpers for tests of courses in the database: import the shipped course, make it publishable."""

from __future__ import annotations

from course.drafts import open_draft, update_lesson, update_settings
from course.loader import CONTENT_DIR
from runtime import Runtime
from subscribers.studio import Published, import_course, publish

SLUG = "rugpijn-en-training"
AUTHOR = "test@studio"
# The clinic's real details, in place of the shipped examples that block publishing.
REAL_DETAILS = {
    "clinic.postal_address": "Kerkstraat 12, 1017 GB Amsterdam",
    "clinic.website": "https://praktijk.nl",
    "cta.url": "https://praktijk.nl/afspraak",
}


def import_shipped(runtime: Runtime) -> str:
    """Import the shipped course as version 1 (live); return its content hash."""
    status, digest = import_course(runtime, CONTENT_DIR / SLUG, author=AUTHOR)
    assert status == "live"
    return digest


def publish_real_details(runtime: Runtime) -> Published:
    """Import the shipped course and publish version 2 with the clinic's real details."""
    import_shipped(runtime)
    with runtime.session() as session:
        update_settings(session, SLUG, REAL_DETAILS, author=AUTHOR, now=runtime.now())
    return publish(runtime, SLUG, author=AUTHOR)


def edit_lesson(runtime: Runtime, day: int, **fields: str) -> None:
    """Change lesson DAY's FIELDS in the draft (opened from the live version if needed)."""
    with runtime.session() as session:
        open_draft(session, SLUG, author=AUTHOR, now=runtime.now())
        update_lesson(session, SLUG, day, author=AUTHOR, now=runtime.now(), **fields)
