"""Where the studio shows the check's problems: a lesson's next to its field in the editor; the
course's (settings, example content, consent version) next to their settings field and, in
every lesson editor, in the list on top with a link to that field (both databases)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from accounts_support import BROWSER, OWNER_EMAIL, OWNER_PASSWORD
from courses_support import SLUG, edit_lesson, import_shipped, publish_real_details
from studio_support import LESSON_3, logged_in, make_accounts, save_lesson

from course.drafts import update_settings
from course.placeholders import EXAMPLE_POSTAL_ADDRESS
from runtime import Runtime

COURSE = f"/admin/courses/{SLUG}"
SETTINGS = f"{COURSE}/settings"
HTTP_CTA = (
    "de link 'http://praktijk.nl/afspraak' moet een volledig adres zijn dat begint met https://"
)


@pytest.fixture
def owner(app: Any, runtime: Runtime) -> Any:
    make_accounts(runtime)
    return logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD)


def change_settings(runtime: Runtime, changes: dict[str, str]) -> None:
    with runtime.session() as session:
        update_settings(session, SLUG, changes, author="test", now=runtime.now())


def page(client: Any, path: str) -> str:
    answer = client.get(path, headers=BROWSER)
    assert answer.status_code == 200
    return html.unescape(answer.get_data(as_text=True))  # the message's quotes as typed


def element(markup: str, id_: str) -> str:
    """Return the element with id ID_ (up to its first closing tag of that kind)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{id_}"[^>]*>(.*?)</\1>', markup, re.DOTALL)
    assert found, id_
    return found.group(0)


def test_a_settings_problem_is_next_to_its_field_and_on_top_of_the_editor(
    owner: Any, runtime: Runtime
):
    publish_real_details(runtime)
    change_settings(runtime, {"cta.url": "http://praktijk.nl/afspraak"})

    settings = page(owner, SETTINGS)
    assert HTTP_CTA in element(settings, "problems-setting-cta-url")
    assert re.search(r'<input id="setting-cta-url"[^>]*aria-invalid="true"', settings)
    summary = element(settings, "settings-problems")
    assert '<a href="#setting-cta-url">Oproep tot actie: link (https://…)</a>: ' in summary
    assert "course.toml" not in summary  # no file name or line: the clinic edits no file

    editor = page(owner, LESSON_3)
    on_top = element(editor, "course-problems")
    assert "hidden" not in on_top.split(">", 1)[0]
    assert f'<a href="{SETTINGS}#setting-cta-url">' in on_top and HTTP_CTA in on_top
    assert HTTP_CTA not in element(editor, "problems-body")

    # As one types, the save's answer carries the same list (studio.js redraws it).
    answer = save_lesson(owner, 3, subject="Een nieuw onderwerp").get_json()
    assert answer["course_wide"] == [
        {
            "label": "Oproep tot actie: link (https://…)",
            "message": HTTP_CTA,
            "setting": "cta.url",
            "href": f"{SETTINGS}#setting-cta-url",
        }
    ]
    assert answer["by_field"] == {}


def test_the_shipped_example_content_is_next_to_the_fields_to_fill_in(owner: Any, runtime: Runtime):
    import_shipped(runtime)
    edit_lesson(runtime, 3, subject="Een concept")  # the example details block publishing
    settings = page(owner, SETTINGS)
    for field in ("clinic-postal_address", "cta-url", "clinic-website"):
        assert "voorbeeldinhoud" in element(settings, f"problems-setting-{field}"), field
    assert EXAMPLE_POSTAL_ADDRESS in settings  # the value to replace, in its field
    editor = page(owner, LESSON_3)
    assert element(editor, "course-problem-list").count("<li>") == 3


def test_a_changed_consent_text_is_shown_at_the_consent_version(owner: Any, runtime: Runtime):
    publish_real_details(runtime)
    change_settings(runtime, {"consent.text": "Een nieuwe toestemmingstekst."})
    version = element(page(owner, SETTINGS), "problems-setting-consent-version")
    assert "verhoog [consent] version" in version


def test_a_lesson_problem_stays_with_its_lesson(owner: Any, runtime: Runtime):
    publish_real_details(runtime)
    edit_lesson(runtime, 5, body="Zie [dit](http://praktijk.nl/oud).")
    answer = save_lesson(owner, 3, subject="x" * 71).get_json()
    assert answer["by_field"] == {
        "subject": ["het onderwerp is 71 tekens; houd het op 70 of minder"]
    }
    assert answer["course_wide"] == []  # lesson 5's link is lesson 5's, not the course's
    assert len(answer["problems"]) == 2  # both block publishing (the list at the bottom)
    editor = page(owner, LESSON_3)
    assert re.search(r'<section[^>]*id="course-problems"[^>]*\bhidden', editor)
    assert "http://praktijk.nl/oud" in element(page(owner, f"{COURSE}/lessons/5"), "problems-body")
    assert 'id="settings-problems"' not in page(owner, SETTINGS)
