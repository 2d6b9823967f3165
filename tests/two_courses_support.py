"""Two courses side by side: a content folder holding the shipped course and a second one,
and the mails of each that the fake SendGrid received."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from helpers import wait_until
from sqlalchemy import select
from subscribers_support import signup_form

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


def mail_to(fake: Any, count: int, *, course: str, kind: str) -> Any:
    """Wait for the fake to hold COUNT mails; return the newest one of COURSE and KIND."""
    assert wait_until(lambda: sum(len(a.recipients) for a in fake.accepted) >= count, 30)
    messages = [m for a in fake.accepted for m in a.messages]
    assert len(messages) == count, [m.subject for m in messages]
    found = [
        m
        for m in messages
        if m["custom_args"].get("course") == course
        and (m["custom_args"].get("kind") == kind or m["custom_args"].get("day") == kind)
    ]
    assert found, f"no {kind} mail of {course}"
    return found[-1]


def sign_up_and_confirm(client: Any, fake: Any, count: int, course: str) -> None:
    """Sign up for COURSE, wait for its confirmation (mail COUNT) and confirm through its link."""
    assert client.post("/subscribe", data=signup_form(course=course)).status_code == 200
    confirmation = mail_to(fake, count, course=course, kind="confirmation")
    page = client.get(link_in(confirmation, "confirm")).get_data(as_text=True)
    title = SECOND_TITLE if course == SECOND else "Rugpijn en training"
    assert f"de gratis e-mailcursus {title} wilt ontvangen" in page  # the right course
    answer = client.post(link_in(confirmation, "confirm"))
    assert "Je aanmelding is bevestigd" in answer.get_data(as_text=True)


def lesson_days(fake: Any, course: str) -> list[str]:
    """Return the lesson days of COURSE the fake received, sorted."""
    return sorted(
        m["custom_args"]["day"]
        for a in fake.accepted
        for m in a.messages
        if m["custom_args"].get("course") == course and "kind" not in m["custom_args"]
    )
