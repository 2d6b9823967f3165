"""`nurture subscribers` (GDPR export and erasure, pause, resume) and `nurture retention run`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from cli.common import fail, require_database, runtime_or_exit
from runtime import Runtime

T = TypeVar("T")


def _run(action: Callable[[Runtime, Session], T]) -> T:
    """Run ACTION in one transaction; turn SubscriberError into a one-line error."""
    from subscribers.service import SubscriberError

    runtime = runtime_or_exit()
    require_database(runtime)
    try:
        with runtime.session() as session:
            return action(runtime, session)
    except SubscriberError as exc:
        fail(str(exc))


@click.group()
def subscribers() -> None:
    """Look after one subscriber: export, forget, pause, resume."""


@subscribers.command("export")
@click.argument("email")
def export(email: str) -> None:
    """Print everything stored about EMAIL as JSON (GDPR access request)."""
    from subscribers.privacy import export_subscriber
    from subscribers.service import find_by_email

    data = _run(lambda _, session: export_subscriber(session, find_by_email(session, email)))
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def forget(email: str, yes: bool) -> None:
    """Erase EMAIL's personal data for good; anonymous counts are kept."""
    from store.erasure_lock import hold_for_erasure
    from subscribers.audit import FORGET, cli_actor, record_admin_action
    from subscribers.privacy import forget_subscriber
    from subscribers.service import find_by_email

    if not yes:
        click.confirm(f"Erase all personal data of {email}? This cannot be undone", abort=True)

    def erase(runtime: Runtime, session: Session) -> int:
        # First, before the row lock: an ingest under way finishes, later ones wait for us.
        hold_for_erasure(session)
        # Locked and read again: a second forget at once finds no one, and logs nothing.
        subscriber = find_by_email(session, email)
        forget_subscriber(
            session, subscriber, runtime.now(), runtime.mail, keys=runtime.settings.secret_keys
        )
        # In the same transaction: an erasure is logged if and only if it happened.
        record_admin_action(
            session,
            actor=cli_actor(),
            action=FORGET,
            target=f"subscriber:{subscriber.id}",
            now=runtime.now(),
        )
        return subscriber.id

    subscriber_id = _run(erase)
    click.echo(f"Forgotten: subscriber #{subscriber_id}'s personal data is erased.")


COURSE_OPTION = click.option(
    "--course", "course_slug", metavar="SLUG", help="the course (default: the newest one)"
)


@subscribers.command("pause")
@click.argument("email")
@COURSE_OPTION
def pause(email: str, course_slug: str | None) -> None:
    """Pause EMAIL's course: no lessons until `resume`."""
    from subscribers.service import pause as pause_course

    enrollment = _run(lambda runtime, session: pause_course(runtime, session, email, course_slug))
    click.echo(f"Paused {email} in {enrollment.course_slug} before day {enrollment.next_day}.")


@subscribers.command("resume")
@click.argument("email")
@COURSE_OPTION
def resume(email: str, course_slug: str | None) -> None:
    """Resume EMAIL's paused course at the day it stopped."""
    from subscribers.service import resume as resume_course

    enrollment = _run(lambda runtime, session: resume_course(runtime, session, email, course_slug))
    due = enrollment.next_due_at.isoformat() if enrollment.next_due_at else "now"
    click.echo(
        f"Resumed {email} in {enrollment.course_slug}: day {enrollment.next_day} is due at {due}."
    )


@click.group()
def retention() -> None:
    """Erase personal data that outlived its retention period (beat does it every hour)."""


@retention.command("run")
def retention_run() -> None:
    """Run the retention job once, now, and print what it erased and deleted."""
    from subscribers.retention import apply_retention

    runtime = runtime_or_exit()
    require_database(runtime)
    report = apply_retention(runtime)
    settings = runtime.settings
    click.echo(
        f"Unconfirmed signups erased (older than {settings.unconfirmed_retention_days} days): "
        f"{report.unconfirmed_erased}"
    )
    click.echo(
        "Finished or stopped subscribers anonymised "
        f"(after {settings.inactive_retention_months} months): {report.inactive_anonymised}"
    )
    click.echo(
        "Processed webhook batches deleted "
        f"(after {settings.webhook_batch_retention_days} days): {report.webhook_batches_deleted}"
    )
    click.echo(f"Spent hourly confirmation counters pruned: {report.hourly_windows_pruned}")
    click.echo(
        "Lesson comments deleted "
        f"(after {settings.feedback_comment_retention_months} months): {report.comments_deleted}"
    )


COMMANDS = [subscribers, retention]
