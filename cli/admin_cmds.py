"""`nurture admin`: the dashboard's accounts (add, list, set-password, set-role, remove).

A password is asked at a hidden prompt (twice), or read from standard input with
--password-stdin for scripts; never from an option, which would land in the shell's history
and in the process list. Each change is written to the admin audit log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC

import click
from sqlalchemy.orm import Session

from cli.common import fail, require_database, runtime_or_exit
from runtime import Runtime
from store.models import AdminAccount

Change = Callable[[Session], AdminAccount]
ROLE_CHOICE = click.Choice(["editor", "owner"])
PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)


def _runtime() -> Runtime:
    runtime = runtime_or_exit()
    require_database(runtime)
    return runtime


def _password(from_stdin: bool) -> str:
    """Return the new password: stdin's first line, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _apply(runtime: Runtime, action: str, detail: str, change: Change) -> str:
    """Run CHANGE and its audit entry in one transaction; return the account's address.

    A refusal (AccountError) exits 2 with its one-line message, and nothing is written.
    """
    from subscribers import audit
    from subscribers.accounts import AccountError

    try:
        with runtime.session() as session:
            account = change(session)
            audit.record_admin_action(
                session,
                actor=audit.cli_actor(),
                action=action,
                target=f"account:{account.id}",
                detail=detail,
                now=runtime.now(),
            )
            address: str = account.email
    except AccountError as exc:
        fail(str(exc))
    return address


@click.group()
def admin() -> None:
    """The dashboard's accounts: editors write drafts and send tests; owners do everything."""


@admin.command("add")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, required=True, help="editor or owner.")
@PASSWORD_STDIN
def add(email: str, role: str, password_stdin: bool) -> None:
    """Add an account for EMAIL with ROLE; the password is asked for."""
    from subscribers import audit
    from subscribers.accounts import add_account

    runtime = _runtime()
    password = _password(password_stdin)
    address = _apply(
        runtime,
        audit.ACCOUNT_ADD,
        f"rol {role}",
        lambda session: add_account(session, email, role, password, runtime.now()),
    )
    click.echo(f"Added {address} as {role}; log in at /admin/login.")


@admin.command("list")
def list_accounts() -> None:
    """Show every account: address, role, last login."""
    from subscribers.accounts import list_accounts as accounts

    runtime = _runtime()
    with runtime.session() as session:
        rows = [
            f"{account.email:<40}  {account.role:<6}  "
            + (
                f"{account.last_login_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
                if account.last_login_at
                else "never logged in"
            )
            for account in accounts(session)
        ]
    shared = "set" if runtime.settings.admin_password else "not set"
    click.echo("\n".join(rows) if rows else "No accounts.")
    click.echo(f"NURTURE_ADMIN_PASSWORD (HTTP Basic, an owner): {shared}.")


@admin.command("set-password")
@click.argument("email")
@PASSWORD_STDIN
def set_password(email: str, password_stdin: bool) -> None:
    """Give EMAIL's account a new password; its open sessions end."""
    from subscribers import audit
    from subscribers.accounts import set_password as change

    runtime = _runtime()
    password = _password(password_stdin)
    address = _apply(
        runtime,
        audit.ACCOUNT_PASSWORD,
        "via cli",
        lambda session: change(session, email, password, runtime.now()),
    )
    click.echo(f"New password set for {address}; its sessions have ended.")


@admin.command("set-role")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, required=True, help="editor or owner.")
def set_role(email: str, role: str) -> None:
    """Give EMAIL's account ROLE; its open sessions end."""
    from subscribers import audit
    from subscribers.accounts import set_role as change

    runtime = _runtime()
    shared = bool(runtime.settings.admin_password)
    address = _apply(
        runtime,
        audit.ACCOUNT_ROLE,
        f"rol {role}",
        lambda session: change(session, email, role, shared_password=shared),
    )
    click.echo(f"{address} is now {role}.")


@admin.command("remove")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(email: str, yes: bool) -> None:
    """Remove EMAIL's account; its open sessions end at once."""
    from subscribers import audit
    from subscribers.accounts import remove_account

    runtime = _runtime()
    if not yes:
        click.confirm(f"Remove the account of {email}?", abort=True)
    shared = bool(runtime.settings.admin_password)
    address = _apply(
        runtime,
        audit.ACCOUNT_REMOVE,
        "via cli",
        lambda session: remove_account(session, email, shared_password=shared),
    )
    click.echo(f"Removed {address}.")


COMMANDS = [admin]
