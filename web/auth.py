"""Who is at the dashboard, and what they may do there.

Two ways in:
- an account (subscribers.accounts) logs in at /admin/login; Flask-Login keeps its id in
  Flask's signed session cookie, together with the account's session_version (a password or
  role change, or removal, ends every session) and the login time (the session ends
  settings.admin_session_hours later, measured on the runtime's clock);
- the shared NURTURE_ADMIN_PASSWORD over HTTP Basic: the first owner, and scripts. Its guesses
  are counted before they are checked (web/admin_lockout.py), like the login form's.

Every view behind require_admin needs the VIEW_DASHBOARD right; views that need more say so
with @requires(RIGHT). CSRF: every POST in the app needs flask-wtf's token, except the public
blueprints (signup, confirm, one-click unsubscribe, webhooks, pixel and clicks), which must
work without cookies (RFC 8058: a one-click POST carries none).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import exists, select

from store.models import AdminAccount
from subscribers import audit
from subscribers.accounts import OWNER, ROLE_LABELS, VIEW_DASHBOARD, account_actor, may
from web.admin_lockout import WINDOW_SECONDS, take_slot
from web.context import runtime

LOGIN_AT = "nurture_login_at"
View = TypeVar("View", bound=Callable[..., Any])


@dataclass
class Admin(UserMixin):
    """The person behind this request: an account, or the shared password (an owner)."""

    role: str
    actor: str
    account_id: int | None = None
    email: str | None = None
    session_version: int = 0

    def get_id(self) -> str:
        """Return what the session cookie keeps: the account id and its session version."""
        return f"{self.account_id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        """Return the role in Dutch."""
        return ROLE_LABELS.get(self.role, self.role)


def admin_from_account(account: AdminAccount) -> Admin:
    """Return the Admin that ACCOUNT logs in as."""
    return Admin(
        role=account.role,
        actor=account_actor(account),
        account_id=account.id,
        email=account.email,
        session_version=account.session_version,
    )


def _load_account(user_id: str) -> Admin | None:
    """Return the session's account while its version and lifetime hold, else None."""
    account_id, _, version = user_id.partition(":")
    if not (account_id.isdigit() and version.isdigit()):
        return None
    nurture = runtime()
    started = session.get(LOGIN_AT)
    lifetime = timedelta(hours=nurture.settings.admin_session_hours).total_seconds()
    if not isinstance(started, int | float) or nurture.now().timestamp() - started >= lifetime:
        return None
    with nurture.session() as db:
        account = db.get(AdminAccount, int(account_id))
        if account is None or account.session_version != int(version):
            return None
        return admin_from_account(account)


def current_admin() -> Admin:
    """Return who is logged in (require_admin has run for every admin view)."""
    found: Admin = g.nurture_admin
    return found


def admin_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render an admin TEMPLATE with STATUS."""
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def _message(title: str, message: str, status: int, **headers: str) -> Response:
    if _wants_page():
        response = admin_page("admin/message.html", status, title=title, message=message)
    else:
        response = Response(message, status=status, mimetype="text/plain")
    response.headers.update(headers)
    return response


def too_many_guesses() -> Response:
    """Answer a refused guess: 429 in Dutch, with when to try again."""
    return _message(
        "Even geduld",
        "Te veel mislukte inlogpogingen. Probeer het over enkele minuten opnieuw.",
        429,
        **{"Retry-After": str(WINDOW_SECONDS)},
    )


def _wants_page() -> bool:
    # Browsers ask for text/html when they navigate; scripts and curl send */* or nothing.
    return "text/html" in request.headers.get("Accept", "")


def _ask_for_basic(message: str) -> Response:
    return Response(
        message,
        status=401,
        mimetype="text/plain",
        headers={"WWW-Authenticate": 'Basic realm="Nurture beheer", charset="UTF-8"'},
    )


def _shared_password_admin(password: str) -> Admin | Response:
    """Check the request's HTTP Basic password (counted first); an owner, or the refusal."""
    auth = request.authorization
    if auth is None:
        return _ask_for_basic("Log in met het beheerwachtwoord.")
    slot = take_slot()
    if slot is None:
        return too_many_guesses()
    given = (auth.password or "").encode()
    if not password or not hmac.compare_digest(given, password.encode()):
        return _ask_for_basic("Onjuist wachtwoord.")
    slot.give_back()
    actor = audit.admin_actor(runtime().settings.secret_key, request.remote_addr, auth.username)
    return Admin(role=OWNER, actor=actor)


def _any_account() -> bool:
    with runtime().session() as db:
        return bool(db.scalar(select(exists().select_from(AdminAccount))))


def shared_password_check() -> Response | None:
    """Check this request's HTTP Basic password (counted first); None when it opens the door."""
    found = _shared_password_admin(runtime().settings.admin_password)
    if isinstance(found, Response):
        return found
    g.nurture_admin = found
    return None


def require_admin() -> ResponseReturnValue | None:
    """Let a logged-in account or the shared password through; send everyone else away."""
    if current_user.is_authenticated:
        g.nurture_admin = current_user._get_current_object()
        return _refuse_without(VIEW_DASHBOARD)
    password = runtime().settings.admin_password
    if not password and not _any_account():
        return Response(
            "Het beheer is uitgeschakeld: stel NURTURE_ADMIN_PASSWORD in of maak een "
            "account aan met `nurture admin add`.",
            status=403,
            mimetype="text/plain",
        )
    if request.authorization is None and _wants_page():
        target = request.full_path.rstrip("?")
        # A session cookie that no longer opens anything: expired, or its password changed.
        ended: dict[str, Any] = {"verlopen": 1} if session.get("_user_id") else {}
        return redirect(url_for("login.login_page", next=target, **ended))
    return shared_password_check()


def _refuse_without(right: str) -> Response | None:
    if may(current_admin().role, right):
        return None
    return _message(
        "Geen toegang",
        "Hiervoor heb je de rol eigenaar nodig. Vraag een eigenaar om het te doen.",
        403,
    )


def requires(right: str) -> Callable[[View], View]:
    """Decorate a view (behind require_admin) so only roles with RIGHT may open it."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return _refuse_without(right) or view(*args, **kwargs)

        return cast(View, guarded)

    return decorate


def _csrf_refused(error: CSRFError) -> Response:
    return _message(
        "Formulier verlopen",
        "Dit formulier is verlopen of kwam niet van deze site. Laad de pagina opnieuw en "
        "probeer het nog eens.",
        400,
    )


def init_app(app: Flask, public_blueprints: list[Any]) -> None:
    """Install sessions for accounts and CSRF checks on APP; PUBLIC_BLUEPRINTS need none."""
    settings = app.extensions["nurture"].settings
    app.permanent_session_lifetime = timedelta(hours=settings.admin_session_hours)
    manager = LoginManager(app)
    manager.user_loader(_load_account)
    manager.session_protection = "basic"
    csrf = CSRFProtect(app)
    for blueprint in public_blueprints:
        csrf.exempt(blueprint)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.context_processor(_template_names)


def _template_names() -> dict[str, Any]:
    """Give admin templates who is logged in and can(RIGHT) for what they may do."""
    admin: Admin | None = g.get("nurture_admin")
    return {"admin": admin, "can": lambda right: admin is not None and may(admin.role, right)}
