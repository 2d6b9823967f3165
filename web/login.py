"""The admin login page (/admin/login) and logout: accounts get a signed session cookie.

Each login attempt takes a guess slot before the password is checked (web/admin_lockout.py,
the same counters as HTTP Basic), and a right password gives it back. Unknown addresses and
wrong passwords get the same answer, after the same amount of hashing work.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user

from subscribers import audit
from subscribers.accounts import MAX_PASSWORD_LENGTH, authenticate
from web.admin_lockout import take_slot
from web.auth import (
    LOGIN_AT,
    admin_from_account,
    admin_page,
    shared_password_check,
    too_many_guesses,
)
from web.context import runtime

bp = Blueprint("login", __name__, url_prefix="/admin")

WRONG = "Onjuist e-mailadres of wachtwoord."


def _safe_next(target: str | None) -> str:
    """Return TARGET when it is a path inside /admin, else the dashboard (no open redirect)."""
    fallback = url_for("admin.dashboard")
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin"):
        return fallback
    if parts.path.startswith(("/admin/login", "/admin/logout")):
        return fallback
    return target


def _form(status: int = 200, error: str | None = None, email: str = "") -> Response:
    notice = None
    if request.args.get("uitgelogd"):
        notice = "Je bent uitgelogd."
    elif request.args.get("verlopen"):
        notice = "Je sessie is verlopen. Log opnieuw in."
    return admin_page(
        "admin/login.html",
        status,
        error=error,
        notice=notice,
        email=email,
        next=_safe_next(request.values.get("next")),
        max_password=MAX_PASSWORD_LENGTH,
    )


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    """Show the login form."""
    return _form()


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Check the address and password (counted first); open a session on success."""
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")
    if not email.strip() or not password:
        return _form(400, "Vul je e-mailadres en wachtwoord in.", email)
    slot = take_slot()
    if slot is None:
        return too_many_guesses()
    nurture = runtime()
    admin = None
    with nurture.session() as db:
        result = authenticate(db, email, password, nurture.now())
        if result.account is not None:
            admin = admin_from_account(result.account)
            audit.record_admin_action(db, actor=admin.actor, action=audit.LOGIN, now=nurture.now())
    # Rendered after the transaction: a page may look up who is logged in (its own session).
    if admin is None:
        return _form(401, WRONG, email)
    slot.give_back()
    # A fresh cookie: nothing an earlier visitor of this browser put in the session survives.
    session.clear()
    session.permanent = True
    session[LOGIN_AT] = nurture.now().timestamp()
    login_user(admin)
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/basic")
def shared_password() -> ResponseReturnValue:
    """Ask the browser for the shared password (HTTP Basic), then open the dashboard."""
    # require_admin sends browsers without credentials here to the login form; this page
    # answers with the Basic challenge instead, so the browser asks and then keeps sending it.
    refusal = shared_password_check()
    if refusal is not None:
        return refusal
    # Browsers send the password unasked only below the folder that asked for it (/admin/),
    # and "/admin" itself is not below it.
    target = _safe_next(request.args.get("next"))
    return redirect("/admin/" if target == "/admin" else target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session and show the login page."""
    logout_user()
    session.clear()
    return redirect(url_for("login.login_page", uitgelogd=1))
