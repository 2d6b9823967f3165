"""Accounts at /admin/accounts (owners only): list, add, change a role, remove.

Each change is in the audit log with the owner who made it. Nobody changes or removes their
own account here (that could lock them out halfway); `nurture admin` on the server can.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
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
    remove_account,
    set_role,
)
from web.auth import admin_page, current_admin, require_admin, requires
from web.context import runtime

bp = Blueprint("accounts", __name__, url_prefix="/admin/accounts")
bp.before_request(require_admin)


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
