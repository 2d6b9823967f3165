"""Accounts at /admin/accounts: owners manage them; everyone changes their own password.

Owners list, add, change a role and remove accounts; /admin/accounts/password is where anyone
logged in with an account changes their own password.

Each change is in the audit log with the account that made it. Nobody changes the role of or
removes their own account here (that could lock them out halfway); `nurture admin` can.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from sqlalchemy.orm import Session

from store.models import AdminAccount
from subscribers import audit
from subscribers.accounts import (
    ACCOUNTS,
    MIN_PASSWORD_LENGTH,
    ROLE_LABELS,
    ROLES,
    AccountError,
    add_account,
    list_accounts,
    password_matches,
    remove_account,
    set_password,
    set_role,
)
from web.admin_lockout import take_slot
from web.auth import (
    LOGIN_AT,
    admin_from_account,
    admin_page,
    current_admin,
    require_admin,
    requires,
    too_many_guesses,
)
from web.context import runtime

bp = Blueprint("accounts", __name__, url_prefix="/admin/accounts")
bp.before_request(require_admin)

SHARED_LOGIN_HINT = (
    "Je bent ingelogd met het gedeelde beheerwachtwoord; dat verander je op de server "
    "(NURTURE_ADMIN_PASSWORD)."
)


def _page(status: int = 200, error: str | None = None, **form: str) -> ResponseReturnValue:
    with runtime().session() as db:
        accounts = list_accounts(db)
    return admin_page(
        "admin/accounts.html",
        status,
        accounts=accounts,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        min_password=MIN_PASSWORD_LENGTH,
        error=error,
        form=form,
    )


def _back(message: str) -> ResponseReturnValue:
    flash(message)
    return redirect(url_for("accounts.accounts"))


@bp.get("")
@requires(ACCOUNTS)
def accounts() -> ResponseReturnValue:
    """List the accounts, with a form to add one."""
    return _page()


@bp.post("")
@requires(ACCOUNTS)
def add() -> ResponseReturnValue:
    """Add an account with the role and first password the owner chose."""
    email = request.form.get("email", "")[:320]
    role = request.form.get("role", "")
    nurture = runtime()
    try:
        with nurture.session() as db:
            account = add_account(db, email, role, request.form.get("password", ""), nurture.now())
            _log(db, audit.ACCOUNT_ADD, account, detail=f"rol {role}")
            address = account.email
    except AccountError as exc:
        return _page(400, str(exc), email=email, role=role)
    return _back(f"Account voor {address} aangemaakt.")


def _log(db: Session, action: str, account: AdminAccount, detail: str | None = None) -> None:
    audit.record_admin_action(
        db,
        actor=current_admin().actor,
        action=action,
        target=f"account:{account.id}",
        detail=detail,
        now=runtime().now(),
    )


def _other_account(db: Session, account_id: int) -> AdminAccount:
    """Return ACCOUNT_ID's account, unless it is missing or the owner's own (AccountError)."""
    account = db.get(AdminAccount, account_id)
    if account is None:
        raise AccountError("Dit account bestaat niet (meer).")
    if account.id == current_admin().account_id:
        raise AccountError("Je eigen account wijzig je hier niet; vraag een andere eigenaar.")
    return account


@bp.post("/<int:account_id>/role")
@requires(ACCOUNTS)
def change_role(account_id: int) -> ResponseReturnValue:
    """Give another account a new role; its open sessions end."""
    role = request.form.get("role", "")
    shared = bool(runtime().settings.admin_password)
    try:
        with runtime().session() as db:
            account = _other_account(db, account_id)
            set_role(db, account.email, role, shared_password=shared)
            _log(db, audit.ACCOUNT_ROLE, account, detail=f"rol {role}")
            address = account.email
    except AccountError as exc:
        return _page(400, str(exc))
    return _back(f"{address} is nu {ROLE_LABELS[role]}.")


@bp.post("/<int:account_id>/remove")
@requires(ACCOUNTS)
def remove(account_id: int) -> ResponseReturnValue:
    """Remove another account; its open sessions end at once."""
    shared = bool(runtime().settings.admin_password)
    try:
        with runtime().session() as db:
            account = _other_account(db, account_id)
            _log(db, audit.ACCOUNT_REMOVE, account)
            address = account.email
            remove_account(db, address, shared_password=shared)
    except AccountError as exc:
        return _page(400, str(exc))
    return _back(f"Account van {address} verwijderd.")


def _password_page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    return admin_page("admin/password.html", status, error=error, min_password=MIN_PASSWORD_LENGTH)


@bp.get("/password")
def password_form() -> ResponseReturnValue:
    """Show the form to change one's own password."""
    if current_admin().account_id is None:
        return _password_page(400, SHARED_LOGIN_HINT)
    return _password_page()


@bp.post("/password")
def change_password() -> ResponseReturnValue:
    """Change one's own password (the current one is counted as a guess, then checked)."""
    me = current_admin()
    if me.account_id is None:
        return _password_page(400, SHARED_LOGIN_HINT)
    new = request.form.get("new_password", "")
    if new != request.form.get("repeat_password", ""):
        return _password_page(400, "De twee nieuwe wachtwoorden zijn niet gelijk.")
    slot = take_slot()  # a stolen session must not become a way to guess the password
    if slot is None:
        return too_many_guesses()
    nurture = runtime()
    try:
        with nurture.session() as db:
            account = db.get(AdminAccount, me.account_id)
            current = request.form.get("current_password", "")
            if account is None or not password_matches(account.password_hash, current):
                raise AccountError("Je huidige wachtwoord klopt niet.")
            slot.give_back()
            set_password(db, account.email, new, nurture.now())
            _log(db, audit.ACCOUNT_PASSWORD, account, detail="eigen wachtwoord")
            renewed = admin_from_account(account)
    except AccountError as exc:
        return _password_page(400, str(exc))
    # Other sessions of this account end (session_version); this one goes on, renewed.
    login_user(renewed)
    session[LOGIN_AT] = nurture.now().timestamp()
    flash("Je wachtwoord is gewijzigd. Andere sessies van dit account zijn beëindigd.")
    return redirect(url_for("admin.dashboard"))
