"""`nurture subscribers`: GDPR export and erasure, and pausing or resuming one person's course."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from cli.common import fail, settings_or_exit

T = TypeVar("T")


def _run(action: Callable[[Session], T]) -> T:
    """Run ACTION in one transaction; turn SubscriberError into a one-line error."""
    settings_or_exit()
    from store.db import session_scope
    from subscribers.service import SubscriberError

    try:
        with session_scope() as session:
            return action(session)
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

    data = _run(lambda session: export_subscriber(session, find_by_email(session, email)))
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def forget(email: str, yes: bool) -> None:
    """Erase EMAIL's personal data for good; anonymous counts are kept."""
    from subscribers.privacy import forget_subscriber
    from subscribers.service import find_by_email

    if not yes:
        click.confirm(f"Erase all personal data of {email}? This cannot be undone", abort=True)

    def erase(session: Session) -> int:
        subscriber = find_by_email(session, email)
        forget_subscriber(session, subscriber)
        return subscriber.id

    subscriber_id = _run(erase)
    click.echo(f"Forgotten: subscriber #{subscriber_id}'s personal data is erased.")


@subscribers.command("pause")
@click.argument("email")
def pause(email: str) -> None:
    """Pause EMAIL's course: no lessons until `resume`."""
    from subscribers.service import pause as pause_course

    enrollment = _run(lambda session: pause_course(session, email))
    click.echo(f"Paused {email} before day {enrollment.next_day}.")


@subscribers.command("resume")
@click.argument("email")
def resume(email: str) -> None:
    """Resume EMAIL's paused course at the day it stopped."""
    from subscribers.service import resume as resume_course

    enrollment = _run(lambda session: resume_course(session, email))
    due = enrollment.next_due_at.isoformat() if enrollment.next_due_at else "now"
    click.echo(f"Resumed {email}: day {enrollment.next_day} is due at {due}.")


COMMANDS = [subscribers]
