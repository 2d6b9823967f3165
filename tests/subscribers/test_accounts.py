"""Admin accounts as a service: Argon2id hashes, address and password rules, the rights of
each role, an owner always left, session versions, and old hashes upgraded at login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from runtime import Runtime
from store.clock import FrozenClock
from store.models import AdminAccount
from subscribers import accounts
from subscribers.accounts import AccountError, add_account, authenticate, may

PASSWORD = "lang-genoeg-wachtwoord"


def account(runtime: Runtime, email: str) -> AdminAccount:
    with runtime.session() as session:
        found = session.scalars(select(AdminAccount).where(AdminAccount.email == email)).one()
        session.expunge(found)
        return found


def test_passwords_are_stored_as_salted_argon2id_hashes(runtime: Runtime) -> None:
    with runtime.session() as session:
        add_account(session, "  Anna@Kliniek.Example ", "owner", PASSWORD, runtime.now())
        add_account(session, "bert@kliniek.example", "editor", PASSWORD, runtime.now())
    anna, bert = account(runtime, "anna@kliniek.example"), account(runtime, "bert@kliniek.example")
    assert anna.password_hash.startswith("$argon2id$v=19$")
    assert PASSWORD not in anna.password_hash
    assert anna.password_hash != bert.password_hash  # salted: same password, other hash
    assert accounts.password_matches(anna.password_hash, PASSWORD)
    assert not accounts.password_matches(anna.password_hash, PASSWORD + "!")
    assert not accounts.password_matches("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("geen-adres", "owner", PASSWORD, "geen geldig e-mailadres"),
        ("", "owner", PASSWORD, "Vul een geldig e-mailadres in"),
        ("c@kliniek.example", "admin", PASSWORD, "Onbekende rol"),
        ("c@kliniek.example", "editor", "kort", "minstens 12 tekens"),
        ("c@kliniek.example", "editor", "x" * 1025, "hoogstens 1024 tekens"),
        ("lang.adres@kliniek.example", "editor", "LANG.ADRES@kliniek.example", "e-mailadres zijn"),
    ],
)
def test_bad_accounts_are_refused_in_dutch(
    runtime: Runtime, email: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message), runtime.session() as session:
        add_account(session, email, role, password, runtime.now())


def test_an_address_has_one_account_whatever_its_case(runtime: Runtime) -> None:
    with runtime.session() as session:
        add_account(session, "dora@kliniek.example", "editor", PASSWORD, runtime.now())
    with pytest.raises(AccountError, match="al een beheeraccount"), runtime.session() as session:
        add_account(session, "DORA@kliniek.example", "owner", PASSWORD, runtime.now())


def test_rights_per_role() -> None:
    editor = {right for right in accounts.RIGHTS["owner"] if may("editor", right)}
    assert editor == {accounts.VIEW_DASHBOARD, accounts.WRITE_DRAFTS, accounts.SEND_TESTS}
    for right in (
        accounts.PUBLISH,
        accounts.PERSONAL_DATA,
        accounts.FORGET,
        accounts.SUPPRESSIONS,
        accounts.ACCOUNTS,
    ):
        assert may("owner", right) and not may("editor", right)
    assert not may(None, accounts.VIEW_DASHBOARD) and not may("beheer", accounts.VIEW_DASHBOARD)


def test_the_last_owner_stays_unless_the_shared_password_is_set(runtime: Runtime) -> None:
    with runtime.session() as session:
        add_account(session, "eva@kliniek.example", "owner", PASSWORD, runtime.now())
    for change in (
        lambda s: accounts.remove_account(s, "eva@kliniek.example", shared_password=False),
        lambda s: accounts.set_role(s, "eva@kliniek.example", "editor", shared_password=False),
    ):
        with pytest.raises(AccountError, match="laatste eigenaar"), runtime.session() as session:
            change(session)
    with runtime.session() as session:
        accounts.set_role(session, "eva@kliniek.example", "editor", shared_password=True)
    assert account(runtime, "eva@kliniek.example").role == "editor"


def test_changes_raise_the_session_version(runtime: Runtime) -> None:
    with runtime.session() as session:
        add_account(session, "fred@kliniek.example", "owner", PASSWORD, runtime.now())
        add_account(session, "gijs@kliniek.example", "editor", PASSWORD, runtime.now())
    assert account(runtime, "gijs@kliniek.example").session_version == 1
    with runtime.session() as session:
        accounts.set_password(session, "gijs@kliniek.example", "nog-een-wachtwoord", runtime.now())
    with runtime.session() as session:
        accounts.set_role(session, "gijs@kliniek.example", "owner", shared_password=False)
        accounts.set_role(session, "gijs@kliniek.example", "owner", shared_password=False)
    assert account(runtime, "gijs@kliniek.example").session_version == 3


def test_login_upgrades_an_old_hash_and_notes_the_time(
    runtime: Runtime, clock: FrozenClock
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with runtime.session() as session:
        add_account(session, "hans@kliniek.example", "owner", PASSWORD, runtime.now())
        session.scalars(select(AdminAccount)).one().password_hash = weak
    with runtime.session() as session:
        assert (
            authenticate(session, "hans@kliniek.example", "fout-wachtwoord!", runtime.now()).account
            is None
        )
        assert (
            authenticate(session, "niemand@kliniek.example", PASSWORD, runtime.now()).account
            is None
        )
    assert account(runtime, "hans@kliniek.example").password_hash == weak
    with runtime.session() as session:
        assert authenticate(session, "HANS@kliniek.example", PASSWORD, runtime.now()).account
    upgraded = account(runtime, "hans@kliniek.example")
    assert upgraded.password_hash != weak and not PasswordHasher().check_needs_rehash(
        upgraded.password_hash
    )
    assert accounts.password_matches(upgraded.password_hash, PASSWORD)
    assert upgraded.last_login_at == runtime.now()
