"""Support for the studio tests: log in as owner or editor, post a studio form with its token."""

from __future__ import annotations

from typing import Any

from accounts_support import BROWSER, csrf_token_of, log_in, make_owner_and_editor

from runtime import Runtime

JSON = {"Accept": "application/json"}
LESSON_3 = "/admin/courses/rugpijn-en-training/lessons/3"


def logged_in(app: Any, runtime: Runtime, email: str, password: str) -> Any:
    """Return a test client logged in through the form as EMAIL (accounts made once)."""
    client = app.test_client()
    assert log_in(client, email, password).status_code == 302
    return client


def make_accounts(runtime: Runtime) -> None:
    """Add the usual owner and editor."""
    make_owner_and_editor(runtime)


def post_form(client: Any, page: str, action: str, data: dict[str, Any], **headers: str) -> Any:
    """GET PAGE as a browser, then POST DATA with its CSRF token to ACTION."""
    token = csrf_token_of(client.get(page, headers=BROWSER).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token}, headers={**BROWSER, **headers})


def save_lesson(client: Any, day: int, **fields: str) -> Any:
    """Save lesson DAY's FIELDS as the editor's page does as one types (JSON answer)."""
    page = f"/admin/courses/rugpijn-en-training/lessons/{day}"
    return post_form(client, page, page, fields, **JSON)
