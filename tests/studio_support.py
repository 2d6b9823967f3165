"""Support for the studio tests: log in as owner or editor, post a studio form with its token,
read a form's fields and the stamp ("seen") it was shown with."""

from __future__ import annotations

import re
from html.parser import HTMLParser
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


def seen_in(page: str, form_id: str) -> str:
    """Return the stamp ("seen") the form FORM_ID of PAGE was shown with."""
    form = page.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    found = re.search(r'name="seen"(?: id="seen")? value="([0-9a-f]+)"', form)
    assert found, form[:500]
    return found.group(1)


class _FormReader(HTMLParser):
    """Collect the named fields of one form as a browser would send them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, {}
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.inside = named.get("id") == self.form_id
        name = named.get("name")
        if not self.inside or not name or name == "csrf_token":
            return
        if tag == "textarea":
            self._textarea, self.values[name] = name, ""
        elif tag == "input" and (named.get("type") != "checkbox" or "checked" in named):
            self.values[name] = named.get("value") or ("on" if "checked" in named else "")

    def handle_endtag(self, tag: str) -> None:
        self._textarea = None if tag == "textarea" else self._textarea
        self.inside = self.inside and tag != "form"

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_values(page: str, form_id: str) -> dict[str, str]:
    """Return what the form FORM_ID of PAGE sends as it is (its CSRF token left out)."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return dict(reader.values)
