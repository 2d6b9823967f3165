"""`nurture send-test`: send a lesson or the confirmation to an address, for the clinic to proof."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import fail, refuse_unsafe_to_serve, runtime_or_exit


@click.command("send-test")
@click.option("--to", "address", required=True, help="Address to send the proof to.")
@click.option("--day", type=int, default=None, help="Lesson day to send (default 1).")
@click.option("--confirm", is_flag=True, help="Send the double opt-in confirmation instead.")
@click.option("--name", "first_name", default="Anna", show_default=True, help="First name used.")
@click.option("--course", "slug", default=None, help="Course to use (default NURTURE_COURSE).")
@click.option(
    "--course-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Proof a course folder that is not installed yet (overrides --course).",
)
def send_test(
    address: str,
    day: int | None,
    confirm: bool,
    first_name: str,
    slug: str | None,
    course_dir: Path | None,
) -> None:
    """Send one lesson (or the confirmation) through the configured mail backend.

    It is a proof: the subject starts with [Proef], links go straight to their targets,
    there is no open pixel, and the unsubscribe and confirm links are placeholders.
    Nothing is written to the database.
    """
    refuse_unsafe_to_serve()
    runtime = runtime_or_exit()
    settings = runtime.settings
    if confirm and day is not None:
        fail("use either --day N or --confirm, not both")
    from email_validator import EmailNotValidError, validate_email

    try:
        address = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        fail(f"--to {address!r}: {exc}")

    from course.loader import CourseError, load_course_from
    from delivery.proof import send_proof
    from providers.base import SendError

    try:
        course = load_course_from(course_dir) if course_dir else runtime.courses.get(slug)
    except CourseError as exc:
        fail(f"course: {exc}")
    try:
        what, result = send_proof(
            runtime, course, address, day=day, confirm=confirm, first_name=first_name
        )
    except CourseError as exc:
        fail(str(exc))
    except SendError as exc:
        fail(f"{settings.mail_backend} did not accept the message: {exc}", code=1)
    where = f" (outbox: {settings.outbox_dir})" if settings.mail_backend == "outbox" else ""
    click.echo(
        f"Sent {what} of {course.slug} to {address} via {settings.mail_backend}"
        f"{where}; message id {result.message_id}"
    )


COMMANDS = [send_test]
