"""`nurture suppressions`: the permanent list of addresses that get no mail (list, add, remove).

The list holds HMACs of addresses, never the addresses, so `list` shows hash prefixes; `add`
and `remove` take an address and hash it with the secret key (and its fallbacks).
"""

from __future__ import annotations

from datetime import UTC

import click
from email_validator import EmailNotValidError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cli.common import fail, require_database, runtime_or_exit
from runtime import Runtime
from store.models import Subscriber

# Characters of the address hash shown: enough to tell entries apart, not a lookup key.
HASH_PREFIX = 12


def _address(email: str) -> str:
    """Return EMAIL normalised as signups store it, or exit 2 naming what is wrong."""
    from subscribers.validation import normalise_email

    try:
        return normalise_email(email.strip())
    except EmailNotValidError as exc:
        fail(f"{email!r} is not a valid email address ({exc})")


def _runtime() -> Runtime:
    runtime = runtime_or_exit()
    require_database(runtime)
    return runtime


def _audit(runtime: Runtime, session: Session, action: str, address: str, detail: str) -> None:
    """Log a change to the list; the entry names the hash prefix, never the address."""
    from subscribers import audit
    from subscribers.suppression import address_hash

    prefix = address_hash(runtime.settings.secret_key, address)[:HASH_PREFIX]
    audit.record_admin_action(
        session,
        actor=audit.cli_actor(),
        action=action,
        target=f"suppression:{prefix}",
        detail=detail,
        now=runtime.now(),
    )


def _subscriber(session: Session, address: str) -> Subscriber | None:
    query = select(Subscriber).where(func.lower(Subscriber.email) == address)
    return session.scalars(query.with_for_update()).first()


@click.group()
def suppressions() -> None:
    """The addresses that never get mail again: hard bounces, complaints, manual blocks."""


@suppressions.command("list")
def list_entries() -> None:
    """Show how many addresses are suppressed, and each entry (no addresses are kept)."""
    from subscribers.suppression import suppression_count, suppression_entries

    runtime = _runtime()
    with runtime.session() as session:
        count = suppression_count(session)
        entries = suppression_entries(session)
        lines = [
            f"{entry.address_hash[:HASH_PREFIX]}  {entry.reason:<12}  {entry.source:<8}  "
            f"{entry.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            + (f"  {entry.note}" if entry.note else "")
            for entry in entries
        ]
    click.echo(f"{count} suppressed address{'es' if count != 1 else ''}.")
    for line in lines:
        click.echo(line)


@suppressions.command("add")
@click.argument("email")
@click.option("--note", default=None, help="Why, for later readers (no addresses, please).")
def add(email: str, note: str | None) -> None:
    """Never mail EMAIL again; stops all mail to its subscriber, if there is one."""
    from subscribers.audit import SUPPRESSION_ADD
    from subscribers.suppression import MANUAL, suppress_subscriber

    address = _address(email)
    runtime = _runtime()
    with runtime.session() as session:
        subscriber = _subscriber(session, address)
        listed = suppress_subscriber(
            session,
            runtime.settings.secret_keys,
            subscriber=subscriber,
            email=address,
            reason=MANUAL,
            source="cli",
            now=runtime.now(),
            note=note[:200] if note else None,
        )
        subscriber_id = subscriber.id if subscriber else None
        if listed:
            who = f"subscriber:{subscriber_id}" if subscriber_id else "no subscriber"
            _audit(runtime, session, SUPPRESSION_ADD, address, f"{MANUAL}, {who}")
    stopped = f"; subscriber #{subscriber_id} gets no more mail" if subscriber_id else ""
    if listed:
        click.echo(f"Suppressed {address}: it gets no mail from now on{stopped}.")
    else:
        click.echo(f"{address} was already on the suppression list{stopped}.")


@suppressions.command("remove")
@click.argument("email")
def remove(email: str) -> None:
    """Take EMAIL off the list: it may sign up (and confirm) again; nothing is sent now."""
    from subscribers.audit import SUPPRESSION_REMOVE
    from subscribers.suppression import lift_subscriber

    address = _address(email)
    runtime = _runtime()
    with runtime.session() as session:
        lifted = lift_subscriber(
            session,
            runtime.settings.secret_keys,
            subscriber=_subscriber(session, address),
            email=address,
            now=runtime.now(),
        )
        if lifted:
            _audit(runtime, session, SUPPRESSION_REMOVE, address, "lifted")
    if lifted:
        click.echo(f"Lifted {address}: it may sign up again and get mail once confirmed.")
    else:
        click.echo(f"{address} was not on the suppression list; nothing changed.")


COMMANDS = [suppressions]
