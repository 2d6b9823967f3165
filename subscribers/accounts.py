"""Admin accounts: one per person, a role, an Argon2id password hash, and what each role may do.

It lives next to the audit log (subscribers.audit), whose entries name these accounts. An
editor writes drafts and sends tests; an owner also publishes, sees and exports personal data,
forgets people, manages the suppression list and manages the accounts. The shared
NURTURE_ADMIN_PASSWORD (HTTP Basic) stays as the first owner and for scripts.

Passwords are hashed with argon2-cffi's defaults (Argon2id, RFC 9106's low-memory profile);
a hash made with older parameters is upgraded at the next successful login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import AdminAccount

EDITOR, OWNER = "editor", "owner"
ROLES = (EDITOR, OWNER)
ROLE_LABELS = {EDITOR: "redacteur", OWNER: "eigenaar"}

# Rights: what a role may do. Blueprints ask may(role, RIGHT), never compare roles themselves.
VIEW_DASHBOARD = "dashboard.view"
WRITE_DRAFTS = "drafts.write"
SEND_TESTS = "tests.send"
PUBLISH = "course.publish"
PERSONAL_DATA = "personal_data"  # see subscribers, their timelines and the audit log; export
FORGET = "subscriber.forget"
SUPPRESSIONS = "suppressions.manage"
ACCOUNTS = "accounts.manage"
EDITOR_RIGHTS = frozenset({VIEW_DASHBOARD, WRITE_DRAFTS, SEND_TESTS})
RIGHTS = {
    EDITOR: EDITOR_RIGHTS,
    OWNER: EDITOR_RIGHTS | {PUBLISH, PERSONAL_DATA, FORGET, SUPPRESSIONS, ACCOUNTS},
}

# NIST SP 800-63B asks for at least 8 characters and lets users pick long passphrases; the
# dashboard holds personal data, so ask for a little more. No composition rules (they backfire).
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; a megabyte "password" is just a DoS.
EMAIL_MAX = 320


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why, in Dutch."""


def may(role: str | None, right: str) -> bool:
    """Tell whether ROLE has RIGHT (an unknown role has none)."""
    return right in RIGHTS.get(role or "", frozenset())


def _hasher() -> PasswordHasher:
    # The library's defaults follow RFC 9106 and move with new releases; no state to share.
    return PasswordHasher()


def hash_password(password: str) -> str:
    """Return PASSWORD's Argon2id hash (salted; the parameters are part of the string)."""
    return _hasher().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Tell whether PASSWORD matches PASSWORD_HASH (constant-time in the library)."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_account_email(email: str) -> str:
    """Return EMAIL trimmed and lower-cased, or raise AccountError when it is no address."""
    text = (email or "").strip()
    if not text or len(text) > EMAIL_MAX:
        raise AccountError("Vul een geldig e-mailadres in.")
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"{text!r} is geen geldig e-mailadres.") from exc
    return checked.normalized.lower()


def check_password(password: str, email: str) -> None:
    """Raise AccountError when PASSWORD is too short, too long or the address itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Kies een wachtwoord van minstens {MIN_PASSWORD_LENGTH} tekens.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Kies een wachtwoord van hoogstens {MAX_PASSWORD_LENGTH} tekens.")
    if password.strip().lower() == email.lower():
        raise AccountError("Het wachtwoord mag niet je e-mailadres zijn.")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"Onbekende rol {role!r}: kies editor of owner.")
    return role


def find_account(session: Session, email: str) -> AdminAccount | None:
    """Return the account for EMAIL (any case), or None."""
    address = (email or "").strip().lower()
    query = select(AdminAccount).where(func.lower(AdminAccount.email) == address)
    return session.scalars(query).first()


def _existing(session: Session, email: str) -> AdminAccount:
    account = find_account(session, email)
    if account is None:
        raise AccountError(f"Er is geen beheeraccount voor {email.strip()!r}.")
    return account


def list_accounts(session: Session) -> list[AdminAccount]:
    """Return every account, owners first, then by address."""
    query = select(AdminAccount).order_by(AdminAccount.role.desc(), AdminAccount.email)
    return list(session.scalars(query))


def add_account(
    session: Session, email: str, role: str, password: str, now: datetime
) -> AdminAccount:
    """Create an account for EMAIL with ROLE and PASSWORD; AccountError if it cannot be."""
    address = normalise_account_email(email)
    _check_role(role)
    check_password(password, address)
    if find_account(session, address) is not None:
        raise AccountError(f"Er is al een beheeraccount voor {address}.")
    account = AdminAccount(
        email=address,
        role=role,
        password_hash=hash_password(password),
        session_version=1,
        created_at=now,
        password_changed_at=now,
    )
    session.add(account)
    session.flush()  # the unique index decides a race between two adds; the id is known now
    return account


def _owners_left(session: Session, without: AdminAccount) -> int:
    query = select(func.count()).where(AdminAccount.role == OWNER, AdminAccount.id != without.id)
    return int(session.scalar(query) or 0)


def _keep_an_owner(session: Session, account: AdminAccount, shared_password: bool) -> None:
    # With no owner account and no shared password, nobody could manage accounts any more.
    if account.role == OWNER and not shared_password and _owners_left(session, account) == 0:
        raise AccountError(
            f"{account.email} is de laatste eigenaar. Maak eerst een andere eigenaar aan "
            "(of stel NURTURE_ADMIN_PASSWORD in)."
        )


def remove_account(session: Session, email: str, *, shared_password: bool) -> AdminAccount:
    """Delete EMAIL's account (its sessions end with it); refuse to remove the last owner."""
    account = _existing(session, email)
    _keep_an_owner(session, account, shared_password)
    session.delete(account)
    session.flush()
    return account


def set_role(session: Session, email: str, role: str, *, shared_password: bool) -> AdminAccount:
    """Give EMAIL's account ROLE; its open sessions end (they carried the old rights)."""
    account = _existing(session, email)
    if _check_role(role) != OWNER:
        _keep_an_owner(session, account, shared_password)
    if account.role != role:
        account.role = role
        account.session_version += 1
    return account


def set_password(session: Session, email: str, password: str, now: datetime) -> AdminAccount:
    """Replace EMAIL's password; every session opened with the old one ends."""
    account = _existing(session, email)
    check_password(password, account.email)
    account.password_hash = hash_password(password)
    account.password_changed_at = now
    account.session_version += 1
    return account


@dataclass(frozen=True)
class LoginResult:
    """The account that logged in, or None; the same answer for unknown and wrong."""

    account: AdminAccount | None


def authenticate(session: Session, email: str, password: str, now: datetime) -> LoginResult:
    """Check EMAIL and PASSWORD; on success note the time and upgrade an old hash."""
    account = find_account(session, email) if len(email or "") <= EMAIL_MAX else None
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    if account is None:
        # Spend the same time as a real check, so the answer's speed tells no address apart.
        hash_password(password)
        return LoginResult(None)
    if not password_matches(account.password_hash, password):
        return LoginResult(None)
    if _hasher().check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = now
    return LoginResult(account)


def account_actor(account: AdminAccount) -> str:
    """Name ACCOUNT in the audit log: its address and id (the id outlives a renamed address)."""
    return f"{account.email} (#{account.id})"
