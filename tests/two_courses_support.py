"""Two courses side by side: a content folder holding the shipped course and a second one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from course.loader import CONTENT_DIR
from runtime import Runtime
from store.models import Delivery, DeliveryState, Enrollment

FIRST = "rugpijn-en-training"
SECOND = "hardlopen-zonder-blessures"
SECOND_TITLE = "Hardlopen zonder blessures"
SECOND_CONSENT = (
    "Ik wil de gratis e-mailcursus Hardlopen zonder blessures van UMOYA ontvangen: twee "
    "e-mails, één per dag. Afmelden kan altijd met één klik onderaan elke e-mail."
)


def make_two_courses(root: Path) -> Path:
    """Write ROOT/content with the shipped course and a two-day second one; return it."""
    content = root / "content"
    shutil.copytree(CONTENT_DIR / FIRST, content / FIRST)
    second = content / SECOND
    shutil.copytree(CONTENT_DIR / FIRST, second)
    for lesson in sorted(second.glob("*.md"))[2:]:
        lesson.unlink()
    toml = (second / "course.toml").read_text(encoding="utf-8")
    toml = toml.replace('title = "Rugpijn en training"', f'title = "{SECOND_TITLE}"')
    toml = toml.replace(
        'subject = "Bevestig je aanmelding voor de cursus Rugpijn en training"',
        f'subject = "Bevestig je aanmelding voor de cursus {SECOND_TITLE}"',
    )
    toml = re.sub(r'(?m)^text = "Ik wil .*"$', f'text = "{SECOND_CONSENT}"', toml)
    (second / "course.toml").write_text(toml, encoding="utf-8")
    return content


def enrollments_by_course(runtime: Runtime, subscriber_id: int) -> dict[str, list[str]]:
    """Return SUBSCRIBER_ID's enrollment statuses per course, oldest first."""
    with runtime.session() as session:
        rows = session.scalars(
            select(Enrollment)
            .where(Enrollment.subscriber_id == subscriber_id)
            .order_by(Enrollment.id)
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.course_slug, []).append(row.status)
        return found


def link_in(message: Any, kind: str) -> str:
    """Return the path of the first /KIND/<token> link in MESSAGE's text part."""
    match = re.search(rf"https?://[^/\s]+(/{kind}/[A-Za-z0-9_.\-]+)", message["text"])
    assert match, f"no {kind} link in {message['subject']!r}"
    return match.group(1)


def sends_in_flight(runtime: Runtime) -> int:
    """Return how many deliveries a worker has claimed but not yet recorded as sent."""
    with runtime.session() as session:
        rows = session.scalars(select(Delivery.id).where(Delivery.state == DeliveryState.SENDING))
        return len(rows.all())
