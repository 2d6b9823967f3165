"""Support for the account tests: make accounts, log in through the form, read CSRF tokens."""

from __future__ import annotations

import base64
import re
from typing import Any

from runtime import Runtime
from subscribers.accounts import add_account

SHARED_PASSWORD = "test-admin-password"
OWNER_EMAIL, EDITOR_EMAIL = "eigenaar@kliniek.example", "redacteur@kliniek.example"
OWNER_PASSWORD = "eigenaar-wachtwoord-lang"
EDITOR_PASSWORD = "redacteur-wachtwoord-lang"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def make_account(runtime: Runtime, email: str, role: str, password: str) -> int:
    """Add an account straight through the service; return its id."""
    with runtime.session() as session:
        return add_account(session, email, role, password, runtime.now()).id


def make_owner_and_editor(runtime: Runtime) -> tuple[int, int]:
    """Add the usual owner and editor accounts; return their ids."""
    return (
        make_account(runtime, OWNER_EMAIL, "owner", OWNER_PASSWORD),
        make_account(runtime, EDITOR_EMAIL, "editor", EDITOR_PASSWORD),
    )


def csrf_token(client: Any, path: str = "/admin/login") -> str:
    """GET PATH as a browser and return the CSRF token of its first form."""
    return csrf_token_of(client.get(path, headers=BROWSER).get_data(as_text=True))


def csrf_token_of(page: str) -> str:
    """Return the CSRF token of PAGE's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def log_in(client: Any, email: str, password: str, address: str = "192.0.2.7") -> Any:
    """Log in through the form (with its CSRF token) from ADDRESS; return the response."""
    token = csrf_token(client)
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=BROWSER,
        environ_base={"REMOTE_ADDR": address},
    )


def basic(password: str = SHARED_PASSWORD, user: str = "beheer") -> dict[str, str]:
    """Return the HTTP Basic header for the shared password."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
