"""Each live course has its own signup page, form and consent text; the dashboard switches.

`/cursus/<slug>` shows one course; `/` shows the signup course, or a list when no default is
set. A form names its course in a hidden field; an unknown course is refused in Dutch. The
dashboard's funnel and CSV exports are per course, the signup course first.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from typing import Any

import pytest
from subscribers_support import confirmations_of, consent_events, signup_form, subscriber_by_email
from two_courses_support import FIRST, SECOND, SECOND_CONSENT, SECOND_TITLE, make_two_courses

from config import Settings, load_settings
from runtime import Runtime
from store.clock import FrozenClock
from subscribers.consent import consent_text_sha256
from web import create_app

FIRST_CONSENT_START = "Ik wil de gratis e-mailcursus Rugpijn en training"


@pytest.fixture
def settings(nurture_env: dict[str, str], tmp_path, monkeypatch) -> Settings:
    """This test's settings, with two course folders side by side."""
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(make_two_courses(tmp_path)))
    return load_settings()


def _auth() -> dict[str, str]:
    token = base64.b64encode(b"beheer:test-admin-password").decode()
    return {"Authorization": f"Basic {token}"}


def test_each_course_has_its_own_page_form_and_consent_text(client: Any) -> None:
    second = client.get(f"/cursus/{SECOND}").get_data(as_text=True)
    assert f"<h1>{SECOND_TITLE}</h1>" in second
    assert SECOND_CONSENT in second and FIRST_CONSENT_START not in second
    assert f'<input type="hidden" name="course" value="{SECOND}">' in second
    first = client.get(f"/cursus/{FIRST}").get_data(as_text=True)
    assert FIRST_CONSENT_START in first and SECOND_CONSENT not in first
    # The front page is the signup course's own page.
    front = client.get("/").get_data(as_text=True)
    assert f'name="course" value="{FIRST}"' in front and FIRST_CONSENT_START in front
    missing = client.get("/cursus/bestaat-niet")
    assert missing.status_code == 404
    assert "Deze cursus bestaat niet (meer)" in missing.get_data(as_text=True)


def test_without_a_default_the_front_page_lists_the_live_courses(
    settings: Settings, configure: Any, make_runtime: Any
) -> None:
    runtime = make_runtime(configure(course=""))
    client = create_app(runtime=runtime).test_client()
    page = client.get("/").get_data(as_text=True)
    assert f'href="/cursus/{SECOND}"' in page and f'href="/cursus/{FIRST}"' in page
    assert 'name="email"' not in page  # a list, not a form
    assert client.get(f"/cursus/{SECOND}").status_code == 200
    missing = client.get("/cursus/bestaat-niet")  # a page about no course still renders
    assert missing.status_code == 404 and "Deze cursus bestaat niet" in missing.get_data(
        as_text=True
    )
    # A form that names no course has none to join: refused, nothing stored.
    response = client.post("/subscribe", json=signup_form())
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": {
            "course": "Deze cursus bestaat niet (meer). Kies een cursus op de aanmeldpagina."
        }
    }
    assert confirmations_of(runtime) == []


def test_a_signup_is_for_the_course_of_its_form(client: Any, runtime: Runtime) -> None:
    page = client.post("/subscribe", data=signup_form(course=SECOND)).get_data(as_text=True)
    assert f"<title>Check je inbox – {SECOND_TITLE}</title>" in page
    subscriber = subscriber_by_email(runtime, "anna.jansen@example.com")
    assert subscriber is not None and subscriber.course_slug == SECOND
    [confirmation] = confirmations_of(runtime)
    assert confirmation.course_slug == SECOND
    [signup] = consent_events(runtime, subscriber.id)
    second = runtime.courses.get(SECOND)
    assert (signup.course_slug, signup.consent_text_sha256) == (SECOND, consent_text_sha256(second))
    # A bot filling the hidden field gets the very same page, and nothing is stored.
    bot = {**signup_form(email="bot@example.com", course=SECOND), "website": "x"}
    assert client.post("/subscribe", data=bot).get_data(as_text=True) == page
    assert subscriber_by_email(runtime, "bot@example.com") is None
    # An unknown course, or not a text, is refused in Dutch and stores nothing.
    for course in ("bestaat-niet", ["lijst"]):
        answer = client.post(
            "/subscribe", json={**signup_form(email="b@example.com"), "course": course}
        )
        assert answer.status_code == 422 and "course" in answer.get_json()["errors"]
    form = client.post("/subscribe", data=signup_form(email="b@example.com", course="x"))
    assert form.status_code == 422
    assert "Deze cursus bestaat niet (meer)" in form.get_data(as_text=True)
    assert subscriber_by_email(runtime, "b@example.com") is None
    # A form with errors is shown again for its own course.
    again = client.post("/subscribe", data={"email": "", "course": SECOND}).get_data(as_text=True)
    assert SECOND_CONSENT in again and 'id="form-errors"' in again


def test_the_dashboard_switches_course_and_exports_per_course(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    client.post("/subscribe", data=signup_form(email="een@example.com", course=FIRST))
    for address in ("twee@example.com", "drie@example.com"):
        client.post("/subscribe", data=signup_form(email=address, course=SECOND))
    clock.advance(minutes=11)
    # A reader of the first course who signs up for the second counts in both.
    client.post("/subscribe", data=signup_form(email="een@example.com", course=SECOND))

    default = client.get("/admin", headers=_auth()).get_data(as_text=True)
    options = default.split('<select id="course" name="course">', 1)[1].split("</select>", 1)[0]
    assert options.index(FIRST) < options.index(SECOND)  # the signup course first
    assert f'<option value="{FIRST}" selected>' in options
    assert '<span class="value" id="signups">1</span>' in default

    second = client.get(f"/admin?course={SECOND}", headers=_auth()).get_data(as_text=True)
    assert f"<h1>Overzicht: {SECOND}</h1>" in second
    assert '<span class="value" id="signups">3</span>' in second
    assert f'href="/admin/export/subscribers.csv?course={SECOND}"' in second
    assert client.get("/admin?course=bestaat-niet", headers=_auth()).status_code == 404

    export = client.get(f"/admin/export/subscribers.csv?course={SECOND}", headers=_auth())
    assert (
        export.headers["Content-Disposition"] == f'attachment; filename="subscribers-{SECOND}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert sorted(row["email"] for row in rows) == [
        "drie@example.com",
        "een@example.com",
        "twee@example.com",
    ]
    everyone = client.get("/admin/export/subscribers.csv", headers=_auth()).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(everyone)))) == 3
    first_only = client.get(f"/admin/export/subscribers.csv?course={FIRST}", headers=_auth())
    assert [r["email"] for r in csv.DictReader(io.StringIO(first_only.get_data(as_text=True)))] == [
        "een@example.com"
    ]
    assert client.get("/admin/export/events.csv?course=nee", headers=_auth()).status_code == 404


def test_each_course_has_its_own_embed_snippet(client: Any, runtime: Runtime) -> None:
    page = client.get(f"/admin/embed?course={SECOND}", headers=_auth()).get_data(as_text=True)
    assert 'href="http://nurture.test/cursus/hardlopen-zonder-blessures"' in page
    snippet = html.unescape(page.split('id="embed-snippet"><code>', 1)[1].split("</code>", 1)[0])
    assert '<form action="http://nurture.test/subscribe" method="post"' in snippet
    assert f'<input type="hidden" name="course" value="{SECOND}">' in snippet
    assert SECOND_CONSENT in snippet and FIRST_CONSENT_START not in snippet
    # Its fields are exactly what /subscribe reads; filled in, they sign up for this course.
    names = re.findall(r'name="(\w+)"', snippet)
    assert names == ["email", "name", "website", "consent", "timezone", "course"]
    form = {**signup_form(email="ingebed@example.com"), "timezone": "", "course": SECOND}
    assert client.post("/subscribe", data=form).status_code == 200
    subscriber = subscriber_by_email(runtime, "ingebed@example.com")
    assert subscriber is not None and subscriber.course_slug == SECOND
    default = client.get("/admin/embed", headers=_auth()).get_data(as_text=True)
    assert f"value=&#34;{FIRST}&#34;" in default or f"value=&quot;{FIRST}&quot;" in default
    assert client.get("/admin/embed?course=nee", headers=_auth()).status_code == 404
    assert client.get(f"/admin/embed?course={SECOND}").status_code == 401
