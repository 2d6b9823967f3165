"""Admin accounts over HTTP: the rights of each role, logging in and out, sessions that end
(expiry, a new password, a removed account), the login form's lockout, and the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from accounts_support import (
    BROWSER,
    EDITOR_EMAIL,
    EDITOR_PASSWORD,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    basic,
    csrf_token,
    log_in,
    make_owner_and_editor,
)
from sqlalchemy import select
from tracking_support import make_subscriber

from runtime import Runtime
from store.clock import FrozenClock
from store.models import AdminAuditEntry
from subscribers.accounts import set_password

ATTACKER, CLINIC = "203.0.113.66", "192.0.2.10"


def audit_entries(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    with runtime.session() as session:
        rows = session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id))
        return [(row.actor, row.action, row.target) for row in rows]


@pytest.fixture
def people(runtime: Runtime) -> dict[str, Any]:
    owner_id, editor_id = make_owner_and_editor(runtime)
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    return {"owner": owner_id, "editor": editor_id, "subscriber": made.subscriber_id}


def client_as(app: Any, who: str) -> Any:
    client = app.test_client()
    if who == "owner":
        assert log_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    elif who == "editor":
        assert log_in(client, EDITOR_EMAIL, EDITOR_PASSWORD).status_code == 302
    return client


# What each role gets: 200 open, 403 refused (logged in, not allowed).
MATRIX = {
    "/admin": (200, 200),
    "/admin/subscribers": (200, 403),
    "/admin/subscribers/{subscriber}": (200, 403),
    "/admin/export/subscribers.csv": (200, 403),
    "/admin/export/events.csv": (200, 403),
    "/admin/audit": (200, 403),
    "/admin/accounts": (200, 403),
}


def test_rights_per_role(app: Any, people: dict[str, Any], runtime: Runtime) -> None:
    owner, editor = client_as(app, "owner"), client_as(app, "editor")
    shared = app.test_client()
    for path, (for_owner, for_editor) in MATRIX.items():
        url = path.format(**people)
        assert owner.get(url, headers=BROWSER).status_code == for_owner, url
        refused = editor.get(url, headers=BROWSER)
        assert refused.status_code == for_editor, url
        if for_editor == 403:
            assert "rol eigenaar nodig" in refused.get_data(as_text=True)
        # The shared password is the first owner: everything opens.
        assert shared.get(url, headers=basic()).status_code == 200, url
    # An editor's refused export wrote nothing; the owner's are logged with the account.
    exports = [e[0] for e in audit_entries(runtime) if e[1].startswith("export.")]
    owner_actor = f"{OWNER_EMAIL} (#{people['owner']})"
    # Each export twice: by the owner account (named), and by the shared password.
    assert exports[0::2] == [owner_actor] * 2
    assert all(actor.startswith("beheer@") for actor in exports[1::2]) and len(exports) == 4


def test_the_editor_cannot_manage_accounts(app: Any, people: dict[str, Any]) -> None:
    editor = client_as(app, "editor")
    token = csrf_token(editor, "/admin")
    form = {"email": "x@kliniek.example", "role": "owner", "password": "p" * 14}
    response = editor.post("/admin/accounts", data=dict(form, csrf_token=token), headers=BROWSER)
    assert response.status_code == 403
    response = editor.post(
        f"/admin/accounts/{people['owner']}/remove", data={"csrf_token": token}, headers=BROWSER
    )
    assert response.status_code == 403


def test_login_logs_and_redirects_only_inside_admin(
    app: Any, people: dict[str, Any], runtime: Runtime
) -> None:
    client = app.test_client()
    response = client.get("/admin/subscribers?q=anna", headers=BROWSER)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/subscribers?q%3Danna"
    token = csrf_token(client)
    form = {"email": OWNER_EMAIL.upper(), "password": OWNER_PASSWORD, "csrf_token": token}
    done = client.post("/admin/login", data=dict(form, next="/admin/subscribers?q=anna"))
    assert done.headers["Location"] == "/admin/subscribers?q=anna"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert audit_entries(runtime)[-1] == (
        f"{OWNER_EMAIL} (#{people['owner']})",
        "account.login",
        None,
    )
    for evil in (
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "/elders",
    ):
        again = app.test_client()
        form["csrf_token"] = csrf_token(again)
        answer = again.post("/admin/login", data=dict(form, next=evil))
        assert answer.headers["Location"] == "/admin/", evil


def test_wrong_and_unknown_get_the_same_dutch_answer(app: Any, people: dict[str, Any]) -> None:
    pages = []
    for email, password in ((OWNER_EMAIL, "verkeerd-wachtwoord"), ("niemand@x.example", "a" * 12)):
        response = log_in(app.test_client(), email, password)
        assert response.status_code == 401
        pages.append(response.get_data(as_text=True).replace(email, ""))
    assert "Onjuist e-mailadres of wachtwoord." in pages[0]
    assert pages[0].split('name="csrf_token"')[0] == pages[1].split('name="csrf_token"')[0]


def test_a_session_ends_after_its_lifetime(
    app: Any, people: dict[str, Any], clock: FrozenClock, runtime: Runtime
) -> None:
    client = client_as(app, "owner")
    hours = runtime.settings.admin_session_hours
    clock.advance(hours=hours - 0.1)
    assert client.get("/admin", headers=BROWSER).status_code == 200
    clock.advance(hours=0.2)
    response = client.get("/admin", headers=BROWSER)
    assert response.status_code == 302
    assert "verlopen=1" in response.headers["Location"]
    assert "Je sessie is verlopen" in client.get(response.headers["Location"]).get_data(True)


def test_a_new_password_or_removal_ends_open_sessions(
    app: Any, people: dict[str, Any], runtime: Runtime
) -> None:
    editor, owner = client_as(app, "editor"), client_as(app, "owner")
    with runtime.session() as session:
        set_password(session, EDITOR_EMAIL, "een-heel-nieuw-wachtwoord", runtime.now())
    assert editor.get("/admin", headers=BROWSER).status_code == 302
    editor = app.test_client()
    assert log_in(editor, EDITOR_EMAIL, "een-heel-nieuw-wachtwoord").status_code == 302
    assert editor.get("/admin", headers=BROWSER).status_code == 200
    # The owner removes the editor through the accounts page: the editor is out at once.
    token = csrf_token(owner, "/admin/accounts")
    url = f"/admin/accounts/{people['editor']}/remove"
    assert owner.post(url, data={"csrf_token": token}, headers=BROWSER).status_code == 302
    assert editor.get("/admin", headers=BROWSER).status_code == 302
    actions = [entry[1:] for entry in audit_entries(runtime)]
    assert ("account.remove", f"account:{people['editor']}") in actions
    # Nobody removes themselves there.
    own = owner.post(
        f"/admin/accounts/{people['owner']}/remove", data={"csrf_token": token}, headers=BROWSER
    )
    assert own.status_code == 400 and "eigen account" in own.get_data(as_text=True)


def test_the_login_form_counts_guesses_before_checking(
    app: Any, people: dict[str, Any], runtime: Runtime
) -> None:
    limit = runtime.settings.admin_failed_logins_per_client
    client = app.test_client()
    for _ in range(3):  # right passwords never count
        assert log_in(client, OWNER_EMAIL, OWNER_PASSWORD, ATTACKER).status_code == 302
    answers = [
        log_in(client, OWNER_EMAIL, "raden-raden", ATTACKER).status_code for _ in range(limit + 2)
    ]
    assert answers == [401] * limit + [429, 429]
    # Locked out: even the right password is not looked at, and the form says so in Dutch.
    refused = log_in(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, ATTACKER)
    assert refused.status_code == 429 and "Te veel mislukte inlogpogingen" in refused.get_data(True)
    # The same counters as HTTP Basic: the attacker's Basic guesses are refused too.
    basic_try = app.test_client().get(
        "/admin", headers=basic(), environ_base={"REMOTE_ADDR": ATTACKER}
    )
    assert basic_try.status_code == 429
    # Another address is not locked out.
    assert log_in(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, CLINIC).status_code == 302
    logins = [e for e in audit_entries(runtime) if e[1] == "account.login"]
    assert len(logins) == 4


def test_everyone_changes_their_own_password(
    app: Any, people: dict[str, Any], runtime: Runtime
) -> None:
    editor, elsewhere = client_as(app, "editor"), client_as(app, "editor")
    token = csrf_token(editor, "/admin/accounts/password")
    new = "mijn-eigen-nieuwe-wachtwoord"
    form = {"csrf_token": token, "new_password": new, "repeat_password": new}
    wrong = editor.post("/admin/accounts/password", data=dict(form, current_password="fout"))
    assert wrong.status_code == 400 and "huidige wachtwoord klopt niet" in wrong.get_data(True)
    differ = dict(form, current_password=EDITOR_PASSWORD, repeat_password=new + "x")
    assert "niet gelijk" in editor.post("/admin/accounts/password", data=differ).get_data(True)
    done = editor.post(
        "/admin/accounts/password", data=dict(form, current_password=EDITOR_PASSWORD)
    )
    assert done.status_code == 302
    # This session goes on; the one in another browser ended; the new password works.
    assert editor.get("/admin", headers=BROWSER).status_code == 200
    assert elsewhere.get("/admin", headers=BROWSER).status_code == 302
    assert log_in(app.test_client(), EDITOR_EMAIL, EDITOR_PASSWORD).status_code == 401
    assert log_in(app.test_client(), EDITOR_EMAIL, new).status_code == 302
    assert ("account.password", f"account:{people['editor']}") in [
        entry[1:] for entry in audit_entries(runtime)
    ]
    # The shared password has no account to change here.
    shared = app.test_client().get("/admin/accounts/password", headers=basic())
    assert shared.status_code == 400 and "NURTURE_ADMIN_PASSWORD" in shared.get_data(True)
