"""`nurture admin`: add (hidden prompt or stdin, never an option), list, set-password,
set-role and remove, each audited; the last owner is kept."""

from __future__ import annotations

import getpass
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import select

from runtime import Runtime
from store.models import AdminAccount, AdminAuditEntry
from subscribers.accounts import password_matches

PASSWORD = "een-lang-wachtwoord"


def accounts(runtime: Runtime) -> dict[str, AdminAccount]:
    with runtime.session() as session:
        rows = list(session.scalars(select(AdminAccount)))
        for row in rows:
            session.expunge(row)
        return {row.email: row for row in rows}


def audit_actions(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.session() as session:
        rows = session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id))
        return [(row.actor, row.action) for row in rows]


def test_add_asks_for_the_password_twice(runner: Callable[..., Result], runtime: Runtime) -> None:
    result = runner(
        "admin", "add", "Ilse@Kliniek.example", "--role", "owner", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden prompt
    ilse = accounts(runtime)["ilse@kliniek.example"]
    assert ilse.role == "owner" and password_matches(ilse.password_hash, PASSWORD)
    assert audit_actions(runtime) == [(f"cli:{getpass.getuser()}", "account.add")]
    listed = runner("admin", "list")
    assert "ilse@kliniek.example" in listed.output and "never logged in" in listed.output


def test_scripts_pass_the_password_on_stdin(
    runner: Callable[..., Result], runtime: Runtime
) -> None:
    result = runner(
        "admin",
        "add",
        "jan@kliniek.example",
        "--role",
        "editor",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert accounts(runtime)["jan@kliniek.example"].role == "editor"
    assert (
        runner(
            "admin", "add", "jan@kliniek.example", "--role", "editor", "--password", PASSWORD
        ).exit_code
        == 2
    )


def test_refusals_are_one_line_and_change_nothing(
    runner: Callable[..., Result], runtime: Runtime
) -> None:
    short = runner(
        "admin",
        "add",
        "kim@kliniek.example",
        "--role",
        "editor",
        "--password-stdin",
        input="kort\n",
    )
    assert short.exit_code == 2 and "minstens 12 tekens" in short.output
    wrong_role = runner(
        "admin",
        "add",
        "kim@kliniek.example",
        "--role",
        "admin",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert wrong_role.exit_code == 2
    missing = runner(
        "admin",
        "set-password",
        "niemand@kliniek.example",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert missing.exit_code == 2 and "geen beheeraccount" in missing.output
    assert accounts(runtime) == {} and audit_actions(runtime) == []


def test_change_and_remove_accounts(
    runner: Callable[..., Result], runtime: Runtime, configure: Callable[..., object]
) -> None:
    for email, role in (("lot@kliniek.example", "owner"), ("max@kliniek.example", "editor")):
        assert (
            runner(
                "admin", "add", email, "--role", role, "--password-stdin", input=f"{PASSWORD}\n"
            ).exit_code
            == 0
        )
    new = "een-ander-lang-wachtwoord"
    assert (
        runner(
            "admin", "set-password", "max@kliniek.example", "--password-stdin", input=f"{new}\n"
        ).exit_code
        == 0
    )
    max_ = accounts(runtime)["max@kliniek.example"]
    assert password_matches(max_.password_hash, new) and max_.session_version == 2
    assert runner("admin", "set-role", "max@kliniek.example", "--role", "owner").exit_code == 0
    assert runner("admin", "remove", "max@kliniek.example", "--yes").exit_code == 0
    # Without the shared password, the last owner account stays.
    configure(admin_password="")
    last = runner("admin", "remove", "lot@kliniek.example", "--yes")
    assert last.exit_code == 2 and "laatste eigenaar" in last.output
    assert list(accounts(runtime)) == ["lot@kliniek.example"]
    assert [action for _actor, action in audit_actions(runtime)] == [
        "account.add",
        "account.add",
        "account.password",
        "account.role",
        "account.remove",
    ]
