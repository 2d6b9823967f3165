"""Proofs: one lesson or the confirmation sent to an address for the clinic to check.

`nurture send-test` and the studio's "Stuur een test" both send through here. A proof is
rendered for a preview recipient (emails.render.Recipient.preview): Tags kind "test", the
subject starts with [Proef], links go straight to their targets, no open pixel, placeholder
unsubscribe and confirm links. Nothing is written to the database: no subscriber record is
read or touched.
"""

from __future__ import annotations

from course.loader import Course, CourseError
from emails.render import Recipient
from providers.base import SendResult
from runtime import Runtime

TEST_CONFIRM_PATH = "/confirm/voorbeeld"


def send_proof(
    runtime: Runtime,
    course: Course,
    address: str,
    *,
    day: int | None = None,
    confirm: bool = False,
    first_name: str = "Anna",
) -> tuple[str, SendResult]:
    """Send COURSE's lesson DAY (default 1), or its confirmation, to ADDRESS; return what, result.

    Raises CourseError for a day the course does not have, SendError when the backend refuses.
    """
    recipient = Recipient(subscriber_id=0, email=address, first_name=first_name, preview=True)
    if confirm:
        confirm_url = runtime.settings.base_url + TEST_CONFIRM_PATH
        message = runtime.renderer.confirmation(course, recipient, confirm_url)
        what = "confirmation"
    else:
        day = 1 if day is None else day
        if not 1 <= day <= course.days:
            raise CourseError(f"--day {day}: {course.slug} has days 1 to {course.days}")
        message = runtime.renderer.lesson(course, day, recipient)
        what = f"day {day}"
    return what, runtime.mail.send(message)
